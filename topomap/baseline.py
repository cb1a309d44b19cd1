"""Approved baselines: who approved which graph, when and why, in one verifiable file.

A baseline file is the evidence of a periodic network review. It holds the approved graph (a
whole graph JSON document, with its own ``content_sha256``), optionally the findings report
the reviewers saw, and an approval block::

    {"topomap": {"kind": "baseline", "schema_version": 1, "tool_version": "...",
                 "approved_by": "...", "approved_at": "...Z", "note": "...", "view": "...",
                 "graph_sha256": "<the graph's content_sha256>",
                 "findings_sha256": "<sha256 of the canonical findings report>" | null,
                 "approval_sha256": "<sha256 of the canonical approval block>"},
     "graph": {<graph JSON>}, "findings": {<findings report>} | null}

:func:`load_baseline` verifies, in order: the graph's content digest (any edit of the graph
content fails), that it is the graph the approval names, the findings digest, and the digest of
the approval itself (an edited approver, time or note fails). A sha256 shows that a file was
changed, not who changed it: keep baselines where changes are recorded (version control), or
sign them, for evidence that must hold against a deliberate forger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from topomap import __version__, export, findings, snapshot_io
from topomap.errors import InputError
from topomap.inventory import format_time

#: Version of the baseline file format written by this topomap.
BASELINE_SCHEMA_VERSION = 1
_APPROVAL_FIELDS = (
    "kind",
    "schema_version",
    "approved_by",
    "approved_at",
    "note",
    "view",
    "graph_sha256",
    "findings_sha256",
)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A verified baseline file."""

    path: str
    """Where it was read from."""
    approved_by: str
    """Who approved it."""
    approved_at: str
    """When (UTC ISO 8601)."""
    note: str
    """Why: the review it records."""
    view: str
    """The view of the approved graph."""
    graph_sha256: str
    """``content_sha256`` of the approved graph."""
    graph: nx.MultiDiGraph
    """The approved graph (digest verified)."""
    findings: findings.Report | None
    """The findings report approved with it, if any."""


def _digest(document: Any) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def approval_digest(block: dict[str, Any]) -> str:
    """sha256 of the canonical approval fields of a ``topomap`` block."""
    return _digest({name: block.get(name) for name in _APPROVAL_FIELDS})


def dumps_baseline(
    graph_document: dict[str, Any],
    *,
    approved_by: str,
    note: str,
    approved_at: datetime,
    report: findings.Report | None = None,
) -> bytes:
    """A baseline file approving ``graph_document`` (from :func:`export.graph_document`).

    Raises
    ------
    InputError
        Empty approver or note: an approval must say who and why.
    """
    if not approved_by.strip():
        raise InputError("--by: the approver's name must not be empty")
    if not note.strip():
        raise InputError("--note: say what review this approval records")
    findings_document = orjson.loads(findings.dumps_report(report)) if report else None
    block: dict[str, Any] = {
        "kind": "baseline",
        "schema_version": BASELINE_SCHEMA_VERSION,
        "tool_version": __version__,
        "approved_by": approved_by.strip(),
        "approved_at": format_time(approved_at),
        "note": note.strip(),
        "view": graph_document["topomap"]["view"],
        "graph_sha256": graph_document["topomap"]["content_sha256"],
        "findings_sha256": _digest(findings_document) if findings_document else None,
    }
    block["approval_sha256"] = approval_digest(block)
    document = {"topomap": block, "graph": graph_document, "findings": findings_document}
    return orjson.dumps(
        document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    )


def is_baseline(document: Any) -> bool:
    """Whether a parsed JSON document is a baseline file."""
    block = document.get("topomap") if type(document) is dict else None
    return type(block) is dict and block.get("kind") == "baseline"


def baseline_from_document(document: Any, *, origin: str) -> Baseline:
    """Verify a parsed baseline document.

    Raises
    ------
    InputError
        Not a baseline, a field missing, or any digest mismatch (the message names the file).
    SchemaVersionError
        Written by a newer topomap.
    """
    if not is_baseline(document):
        raise InputError(f"{origin}: /topomap/kind: not a topomap baseline file")
    block = document["topomap"]
    export.check_schema_version(block, BASELINE_SCHEMA_VERSION, "baseline", origin)
    for name in ("approved_by", "approved_at", "note", "view", "graph_sha256"):
        if type(block.get(name)) is not str:
            raise InputError(f"{origin}: /topomap/{name}: expected string")
    graph = export.graph_from_document(document.get("graph"), origin=f"{origin}: /graph")
    recorded = document["graph"]["topomap"]["content_sha256"]
    if recorded != block["graph_sha256"]:
        raise InputError(
            f"{origin}: /topomap/graph_sha256: the approval names graph {block['graph_sha256']}, "
            f"the file holds graph {recorded}"
        )
    report = None
    findings_document = document.get("findings")
    if findings_document is not None:
        if _digest(findings_document) != block.get("findings_sha256"):
            raise InputError(
                f"{origin}: /findings: digest mismatch: the findings report was changed "
                "after approval"
            )
        report = findings.report_from_document(findings_document, origin=f"{origin}: /findings")
    elif block.get("findings_sha256") is not None:
        raise InputError(f"{origin}: /findings: missing, but the approval names a report")
    if approval_digest(block) != block.get("approval_sha256"):
        raise InputError(
            f"{origin}: /topomap/approval_sha256: digest mismatch: the approval (approver, "
            "time, note, view or digests) was changed after it was written"
        )
    return Baseline(
        path=origin,
        approved_by=block["approved_by"],
        approved_at=block["approved_at"],
        note=block["note"],
        view=block["view"],
        graph_sha256=block["graph_sha256"],
        graph=graph,
        findings=report,
    )


def load_baseline(path: str | Path) -> Baseline:
    """Read and verify a baseline file."""
    document, _ = snapshot_io.read_json(path)
    return baseline_from_document(document, origin=str(path))

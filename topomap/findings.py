"""Findings: what the CC6.6 analysis says about a graph, and the report file that carries them.

A :class:`Finding` names the rule that fired, its severity and controls, the subject (node and
edge ids of the graph), the evidence (the flows with their times and observers), the fix, and a
``fingerprint``: a stable identity built from the rule and the *meaning* of the subject (the
workload, the peer, the protocol and server port, never a pid, ephemeral port or pod hash), so
the same problem keeps its identity across runs, in ``topomap diff`` and in suppressions.

The findings report (``topomap analyze -o findings.json``) is a JSON document::

    {"topomap": {"kind": "findings", "schema_version": 1, ...}, "findings": [Finding, ...]}

:func:`dumps_report` writes it deterministically (findings sorted by severity, rule and
fingerprint); :func:`load_report` validates it with the same typed decoder as snapshots, so a
bad file fails with the JSON pointer of the first problem. ``docs/findings.md`` documents it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from topomap import snapshot_io, typed_json
from topomap.errors import InputError, SchemaVersionError

#: Version of the findings report format written by this topomap.
REPORT_SCHEMA_VERSION = 1

Severity = Literal["info", "low", "medium", "high", "critical"]

#: Severities from least to most severe; ``SEVERITY_RANK[s]`` orders them.
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """One observed flow (an aggregated graph edge) that supports a finding."""

    edge: str
    """Edge id ``<source> -> <target> <protocol>/<port>`` in the graph the finding is about."""
    protocol: str
    """Transport protocol."""
    port: int | None = None
    """Server port."""
    connections: int = 0
    """Connections counted on the edge."""
    bytes: int | None = None
    """Bytes both ways, when known."""
    first_seen: datetime | None = None
    """First time the flow was seen."""
    last_seen: datetime | None = None
    """Last time the flow was seen."""
    observed_by: tuple[str, ...] = ()
    """Which collectors on which hosts saw it (``conntrack@node-a``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Suppression:
    """The accepted-risk entry of the policy file that matched a finding."""

    reason: str
    """Why the finding is accepted."""
    approved_by: str
    """Who accepted it."""
    expires: date | None = None
    """Last day the suppression applies."""
    expired: bool = False
    """The suppression matched but has expired, so the finding counts again."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One rule's verdict on one subject of the graph."""

    rule: str
    """Rule id, e.g. ``TM-EXT-EGRESS`` (``docs/rules.md``)."""
    title: str
    """Rule title."""
    severity: Severity
    """Severity after the policy file's overrides."""
    controls: tuple[str, ...]
    """Trust Services Criteria with the point of focus, e.g.
    ``CC6.6 Implements Boundary Protection Systems``."""
    subject: tuple[str, ...]
    """Graph node ids (and edge ids) the finding is about; the first is the main one."""
    message: str
    """What is wrong here, in one sentence naming the subject."""
    remediation: str
    """How to fix it."""
    fingerprint: str
    """Stable identity of the finding across runs (sha256 hex, see :func:`fingerprint`)."""
    evidence: tuple[Evidence, ...] = ()
    """The observed flows behind it (empty for findings about configuration)."""
    details: dict[str, str] = field(default_factory=dict)
    """Extra facts (deciding policy, peer zone, DNS name...), as text."""
    suppressed: Suppression | None = None
    """Set when an accepted-risk entry of the policy file covers the finding."""

    @property
    def active(self) -> bool:
        """Counts towards ``--fail-on``: not suppressed, or suppressed by an expired entry."""
        return self.suppressed is None or self.suppressed.expired


def fingerprint(rule: str, *meaning: str) -> str:
    """Stable id of a finding: sha256 over the rule id and the parts that give it meaning.

    >>> fingerprint("TM-EXT-EGRESS", "workload:shop/Deployment/cart", "external:203.0.113.9")[:12]
    '918f0a129cf9'
    """
    digest = hashlib.sha256()
    for part in (rule, *meaning):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def sort_key(finding: Finding) -> tuple[int, str, str]:
    """Most severe first, then by rule and fingerprint: the report's order."""
    return (-SEVERITY_RANK[finding.severity], finding.rule, finding.fingerprint)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportMeta:
    """The ``topomap`` block of a findings report."""

    kind: Literal["findings"] = "findings"
    """Always ``findings``."""
    schema_version: int = REPORT_SCHEMA_VERSION
    """Report format version."""
    tool_version: str
    """topomap version that wrote the report."""
    graph_sha256: str | None = None
    """``content_sha256`` of the graph the findings are about."""
    policy_sha256: str | None = None
    """sha256 of the policy file used."""
    window: dict[str, str] = field(default_factory=dict)
    """Collection window of the inputs (``start``, ``end``)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Active findings by severity."""
    notes: tuple[str, ...] = ()
    """What the analysis could not judge (e.g. policies unreadable), in words."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    """A findings report file."""

    topomap: ReportMeta
    """Metadata."""
    findings: tuple[Finding, ...] = ()
    """Findings, most severe first."""


_decode_report = typed_json.decoder_for(Report)


def _default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def make_report(findings: Iterable[Finding], meta: ReportMeta) -> Report:
    """A report with the findings in report order and the counts filled in."""
    ordered = tuple(sorted(findings, key=sort_key))
    counts = {name: 0 for name in SEVERITIES}
    for finding in ordered:
        if finding.active:
            counts[finding.severity] += 1
    return Report(
        topomap=ReportMeta(**{**asdict(meta), "counts": counts}),
        findings=ordered,
    )


def _plain(value: Any) -> Any:
    """A dataclass tree as dicts and lists, shallowly per level (``dataclasses.asdict`` deep-
    copies every leaf, which took seconds on a report of 20,000 findings)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if type(value) is tuple or type(value) is list:
        return [_plain(item) for item in value]
    if type(value) is dict:
        return {key: _plain(item) for key, item in value.items()}
    return value


def dumps_report(report: Report) -> bytes:
    """Deterministic, pretty JSON bytes of ``report``."""
    return orjson.dumps(
        _plain(report),
        default=_default,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )


def report_from_document(document: Any, *, origin: str) -> Report:
    """Validate a parsed findings report."""
    block = document.get("topomap") if type(document) is dict else None
    if type(block) is not dict or block.get("kind") != "findings":
        raise InputError(f"{origin}: /topomap/kind: not a topomap findings report")
    version = block.get("schema_version")
    if type(version) is int and version > REPORT_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{origin}: findings report version {version} is newer than the supported "
            f"version {REPORT_SCHEMA_VERSION}; upgrade topomap to read it"
        )
    try:
        report: Report = _decode_report(document)
    except typed_json.DecodeError as exc:
        raise InputError(f"{origin}: {exc}") from None
    return report


def load_report(path: str | Path) -> Report:
    """Read and validate a findings report file."""
    document, _ = snapshot_io.read_json(path)
    return report_from_document(document, origin=str(path))


def by_fingerprint(findings: Sequence[Finding]) -> dict[str, Finding]:
    """Findings keyed by fingerprint (the first of duplicates wins)."""
    keyed: dict[str, Finding] = {}
    for finding in findings:
        keyed.setdefault(finding.fingerprint, finding)
    return keyed

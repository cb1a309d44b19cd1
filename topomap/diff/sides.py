"""Loading one side of a diff: snapshots, a graph JSON, a baseline file, or a store window.

A side is given as one argument:

* a directory, or a snapshot file: the snapshots are merged (:func:`topomap.graph.build_graph`)
  and seen at the requested view;
* a graph JSON file (digest verified): compared at its own view; a ``process``-view graph can be
  seen at any view;
* a baseline file (every digest verified): its graph, its approval, and its findings;
* ``store:PATH@START..END``: the history store's window ``[START, END)``
  (:func:`topomap.store.query.window_graph`) and the findings reports overlapping it. ``PATH``
  may be empty (the default store); ``START`` and ``END`` are dates (``2026-11-01``) or UTC
  times (``2026-11-01T06:00:00Z``), either may be empty, and ``@...`` may be left out for the
  whole history. The store keeps the ``workload`` view only.

Findings given in a file (``--baseline-findings``/``--current-findings``) replace those the
side carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from topomap import baseline, export, findings, graph, snapshot_io
from topomap.diff import normalize
from topomap.diff.compare import Approval, SideInfo
from topomap.errors import InputError
from topomap.files import snapshot_files
from topomap.gcpause import paused_gc
from topomap.store import ingest, query, schema

STORE_PREFIX = "store:"


@dataclass(frozen=True, slots=True)
class LoadedSide:
    """A side ready to compare."""

    side: normalize.Side
    """Normalised nodes and edges."""
    info: SideInfo
    """Where it came from, for the header."""
    findings: tuple[findings.Finding, ...] | None
    """Its findings; ``None`` when it has no findings report."""


def parse_time(text: str, *, what: str) -> int:
    """Epoch seconds of a date (midnight UTC) or an ISO 8601 time with an offset."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{what}: expected a date (2026-11-01) or UTC time (2026-11-01T06:00:00Z), "
            f"found {text!r}"
        ) from None
    if parsed.tzinfo is None:
        if len(text) > 10:
            raise InputError(f"{what}: time {text!r} has no UTC offset; append 'Z'")
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def parse_store_spec(spec: str) -> tuple[Path, int | None, int | None]:
    """``store:PATH@START..END`` -> (path, start, end)."""
    body = spec[len(STORE_PREFIX) :]
    path, at, window = body.rpartition("@") if "@" in body else (body, "", "")
    start = end = None
    if at:
        if ".." not in window:
            raise InputError(f"{spec}: expected store:PATH@START..END (either end may be empty)")
        first, _, last = window.partition("..")
        start = parse_time(first, what=spec) if first else None
        end = parse_time(last, what=spec) if last else None
        if start is not None and end is not None and end <= start:
            raise InputError(f"{spec}: the window ends before it starts")
    return (Path(path) if path else schema.default_path()), start, end


def _at_view(g: nx.MultiDiGraph, view: str, origin: str) -> normalize.Side:
    own = g.graph.get("view")
    if own == view or own == "process":
        return normalize.normalize(g, view)
    raise InputError(
        f"{origin}: the graph is at the {own} view; compare at --view {own}, "
        "or give a process-view graph or the snapshots"
    )


def _findings_file(path: str | None) -> tuple[findings.Finding, ...] | None:
    return findings.load_report(path).findings if path else None


def _window(g: nx.MultiDiGraph) -> dict[str, str | None]:
    window: dict[str, Any] = g.graph.get("window") or {}
    return {"start": window.get("start"), "end": window.get("end")}


def load_side(spec: str, *, view: str, findings_path: str | None = None) -> LoadedSide:
    """Load one side of a diff (see the module docstring for what ``spec`` may be).

    Raises
    ------
    InputError
        Unreadable or invalid input, a digest mismatch, or a view the input cannot give.
    """
    with paused_gc():  # millions of small objects and no cycles: see topomap.gcpause
        return _load_side(spec, view, findings_path)


def _load_side(spec: str, view: str, findings_path: str | None) -> LoadedSide:
    found = _findings_file(findings_path)
    if spec.startswith(STORE_PREFIX):
        return _store_side(spec, view, found, findings_path)
    path = Path(spec)
    if path.is_file():
        document, _ = snapshot_io.read_json(path)
        if baseline.is_baseline(document):
            base = baseline.baseline_from_document(document, origin=spec)
            approval = Approval(
                approved_by=base.approved_by,
                approved_at=base.approved_at,
                note=base.note,
                graph_sha256=base.graph_sha256,
            )
            carried = base.findings.findings if base.findings is not None else None
            info = SideInfo(
                source=spec,
                kind="baseline",
                window=_window(base.graph),
                graph_sha256=base.graph_sha256,
                findings=findings_path or (f"{spec} (approved with it)" if carried else None),
                approval=approval,
            )
            side = _at_view(base.graph, view, spec)
            return LoadedSide(side, info, found if findings_path else carried)
        block = document.get("topomap") if isinstance(document, dict) else None
        if isinstance(block, dict) and block.get("kind") == "findings":
            raise InputError(
                f"{spec}: a findings report, not a graph: pass it with --baseline-findings "
                "or --current-findings"
            )
        if isinstance(block, dict):
            content = export.verified_content(document, origin=spec)
            meta = content.get("graph") or {}
            own = meta.get("view")
            info = SideInfo(
                source=spec,
                kind="graph",
                window={
                    "start": (meta.get("window") or {}).get("start"),
                    "end": (meta.get("window") or {}).get("end"),
                },
                graph_sha256=block.get("content_sha256"),
                findings=findings_path,
            )
            if own == view:
                return LoadedSide(normalize.normalize_content(content), info, found)
            g = nx.node_link_graph(content, directed=True, multigraph=True, edges="edges")
            return LoadedSide(_at_view(g, view, spec), info, found)
        snapshots = [snapshot_io.snapshot_from_document(document, origin=spec)]
    else:
        snapshots = [snapshot_io.load_snapshot(p).snapshot for p in snapshot_files([spec])]
    g = graph.build_graph(snapshots)
    info = SideInfo(source=spec, kind="snapshots", window=_window(g), findings=findings_path)
    return LoadedSide(normalize.normalize(g, view), info, found)


def _store_side(
    spec: str,
    view: str,
    found: tuple[findings.Finding, ...] | None,
    findings_path: str | None,
) -> LoadedSide:
    path, start, end = parse_store_spec(spec)
    if view != ingest.STORE_VIEW:
        raise InputError(
            f"{spec}: the store keeps the {ingest.STORE_VIEW} view only; use --view "
            f"{ingest.STORE_VIEW}"
        )
    conn = schema.connect(path, create=False)
    try:
        g = query.window_graph(conn, start, end)
        if g.number_of_nodes() == 0:
            raise InputError(f"{spec}: the store holds no snapshot in this window")
        stored = query.window_findings(conn, start, end)
    finally:
        conn.close()
    info = SideInfo(
        source=spec,
        kind="store",
        window=_window(g),
        findings=findings_path or ("store reports" if stored is not None else None),
    )
    return LoadedSide(normalize.normalize(g), info, found if findings_path else stored)

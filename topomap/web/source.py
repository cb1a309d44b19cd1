"""What the map shows: the inputs loaded once, with the digest every cache is keyed by.

Inputs are snapshot files or directories (merged with :func:`topomap.graph.build_graph`) or
one graph JSON file (its content digest verified by :mod:`topomap.export`); optionally a
findings report (:mod:`topomap.findings`) and a baseline graph JSON for the diff overlay.
The map reads these files once at start and no other file afterwards: no request names a path.
Pure apart from reading the named files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from topomap import export, findings, graph, snapshot_io, views
from topomap.errors import InputError

#: How fine each view is, to offer only the views a coarse graph JSON can still show.
_RANK = {"process": 0, "container": 1, "pod": 2, "workload": 3, "service": 3, "namespace": 4}


@dataclass(frozen=True, kw_only=True)
class MapSource:
    """The loaded inputs of one map."""

    graph: nx.MultiDiGraph
    """The finest graph available (the process view for snapshots)."""
    digest: str
    """sha256 over the inputs' digests (graph, findings, baseline): the cache key."""
    description: str
    """What was loaded, for the page header."""
    views: tuple[str, ...]
    """Views the graph can be shown at."""
    findings: tuple[findings.Finding, ...] = ()
    """Findings to list (from ``--findings``)."""
    baseline: nx.MultiDiGraph | None = None
    """Baseline graph for the diff overlay (from ``--baseline``)."""
    baseline_name: str | None = None
    """Where the baseline came from."""


def _is_graph_json(document: object) -> bool:
    return type(document) is dict and type(document.get("topomap")) is dict


def load_graph(files: Sequence[str | Path]) -> tuple[nx.MultiDiGraph, str, str]:
    """The graph of snapshot files or of one graph JSON file, its digest and a label.

    Directories are expanded by the caller (``topomap.cli.expand_inputs``)."""
    loaded: list[snapshot_io.LoadedSnapshot] = []
    graphs: list[tuple[Path, nx.MultiDiGraph]] = []
    for path in map(Path, files):
        document, digest = snapshot_io.read_json(path)
        if _is_graph_json(document):
            graphs.append((path, export.graph_from_document(document, origin=str(path))))
        else:
            snap = snapshot_io.snapshot_from_document(document, origin=str(path))
            loaded.append(snapshot_io.LoadedSnapshot(path=str(path), sha256=digest, snapshot=snap))
    if graphs and (loaded or len(graphs) > 1):
        raise InputError(
            f"{graphs[0][0]}: a graph JSON file cannot be merged with other inputs; "
            "give one graph JSON file, or snapshots"
        )
    if graphs:
        path, g = graphs[0]
        content = export.content_of(g)
        return g, export.content_digest(content), f"graph JSON {path} ({g.graph.get('view')})"
    built = graph.build_graph(s.snapshot for s in loaded)
    digest = hashlib.sha256("".join(sorted(s.sha256 for s in loaded)).encode()).hexdigest()
    return built, digest, f"{len(loaded)} snapshots"


def available_views(g: nx.MultiDiGraph) -> tuple[str, ...]:
    """Views at or coarser than the graph's own view (a workload graph has no pods)."""
    own = g.graph.get("view") or "process"
    if own not in _RANK:
        return (own,)
    same = {"workload": "service", "service": "workload"}.get(own)
    return tuple(
        v
        for v in views.VIEWS
        if v == "host" or (v in _RANK and _RANK[v] >= _RANK[own] and v != same)
    )


def load_source(
    inputs: Sequence[str | Path],
    *,
    findings_file: str | None = None,
    baseline_file: str | None = None,
) -> MapSource:
    """Load everything the map shows from input *files*; raises
    :class:`~topomap.errors.InputError` naming the file."""
    g, digest, description = load_graph(inputs)
    parts = [digest]
    found: tuple[findings.Finding, ...] = ()
    if findings_file:
        report = findings.load_report(findings_file)
        found = report.findings
        parts.append(snapshot_io.read_json(findings_file)[1])
        description += f", {len(found)} findings"
    baseline = None
    if baseline_file:
        baseline = export.load_graph_json(baseline_file)
        parts.append(snapshot_io.read_json(baseline_file)[1])
        description += f", baseline {Path(baseline_file).name}"
    return MapSource(
        graph=g,
        digest=hashlib.sha256("/".join(parts).encode()).hexdigest(),
        description=description,
        views=available_views(g),
        findings=found,
        baseline=baseline,
        baseline_name=baseline_file,
    )


def from_graph(
    g: nx.MultiDiGraph,
    *,
    found: Sequence[findings.Finding] = (),
    baseline: nx.MultiDiGraph | None = None,
    description: str = "graph",
) -> MapSource:
    """A source for a graph already in memory (tests, benchmarks); digest from its content."""
    parts = [export.content_digest(export.content_of(g))]
    if found:
        parts.append(
            hashlib.sha256(repr(sorted(f.fingerprint for f in found)).encode()).hexdigest()
        )
    if baseline is not None:
        parts.append(export.content_digest(export.content_of(baseline)))
    return MapSource(
        graph=g,
        digest=hashlib.sha256("/".join(parts).encode()).hexdigest(),
        description=description,
        views=available_views(g),
        findings=tuple(found),
        baseline=baseline,
        baseline_name="baseline" if baseline is not None else None,
    )

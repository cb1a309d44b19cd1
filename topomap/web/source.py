"""What the map shows: the inputs loaded once, with the digest every cache is keyed by.

Inputs are snapshot files or directories (merged with :func:`topomap.graph.build_graph`), one
graph JSON file (its content digest verified by :mod:`topomap.export`), or one window of the
history store, written as ``topomap diff`` writes it (``store:PATH@START..END``, read with
:func:`topomap.store.query.window_graph`, with the findings reports ingested for it);
optionally a findings report (:mod:`topomap.findings`) and, for the diff overlay, a baseline:
a graph JSON or an approved baseline file (:mod:`topomap.baseline`, every digest verified).
The map reads these files once at start and no other file afterwards: no request names a path.
Pure apart from reading the named files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from topomap import baseline, export, findings, graph, snapshot_io, views
from topomap.diff import sides
from topomap.errors import InputError
from topomap.store import query, schema

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


def is_store(spec: str | Path) -> bool:
    """Whether an input names a window of the history store (``store:PATH@START..END``)."""
    return str(spec).startswith(sides.STORE_PREFIX)


def load_store(spec: str) -> tuple[nx.MultiDiGraph, str, str, tuple[findings.Finding, ...] | None]:
    """The store window ``spec`` as a workload-view graph, its digest, a label, and the
    findings of the reports ingested for the window (``None`` when there are none)."""
    path, start, end = sides.parse_store_spec(spec)
    conn = schema.connect(path, create=False)
    try:
        g = query.window_graph(conn, start, end)
        stored = query.window_findings(conn, start, end)
    finally:
        conn.close()
    if g.number_of_nodes() == 0:
        raise InputError(f"{spec}: the store holds no snapshot in this window")
    for _, _, attrs in g.edges(data=True):  # what the store does not keep (docs/store.md)
        attrs.update(packets=0, bytes=0, counted=attrs["connections"], observed_by=[], services=[])
    window = g.graph["window"]
    label = f"store {path} ({window['start']} .. {window['end']}; no byte counts)"
    return g, export.content_digest(export.content_of(g)), label, stored


def load_baseline(path: str) -> nx.MultiDiGraph:
    """The graph of a baseline for the diff overlay: a graph JSON file, or an approved
    baseline file (``topomap baseline approve``), its digests verified."""
    document, _ = snapshot_io.read_json(path)
    if baseline.is_baseline(document):
        return baseline.baseline_from_document(document, origin=path).graph
    return export.graph_from_document(document, origin=path)


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
    found: tuple[findings.Finding, ...] = ()
    stores = [spec for spec in inputs if is_store(spec)]
    if stores and len(inputs) > 1:
        raise InputError(f"{stores[0]}: a store window cannot be merged with other inputs")
    if stores:
        g, digest, description, stored = load_store(str(stores[0]))
        if stored is not None and not findings_file:
            found = stored
            description += f", {len(found)} findings from its reports"
    else:
        g, digest, description = load_graph(inputs)
    parts = [digest]
    if found:  # the store's own reports
        parts.append(hashlib.sha256(repr([f.fingerprint for f in found]).encode()).hexdigest())
    if findings_file:
        report = findings.load_report(findings_file)
        found = report.findings
        parts.append(snapshot_io.read_json(findings_file)[1])
        description += f", {len(found)} findings"
    base = None
    if baseline_file:
        base = load_baseline(baseline_file)
        parts.append(snapshot_io.read_json(baseline_file)[1])
        description += f", baseline {Path(baseline_file).name}"
    return MapSource(
        graph=g,
        digest=hashlib.sha256("/".join(parts).encode()).hexdigest(),
        description=description,
        views=available_views(g),
        findings=found,
        baseline=base,
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

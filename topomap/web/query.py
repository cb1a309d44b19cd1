"""What the map shows now: search and filters applied to a scene, and the automatic step to a
coarser view when the chosen one is too big to draw.

:func:`choose` walks from the wanted scene towards coarser ones (external peers grouped by
zone first, then the next coarser view) until the filtered map fits :data:`LIMITS`, and says
in words what it did. :func:`select` returns element ids only; :func:`elements` copies the
cached elements of those ids, adding the classes that mark search matches and the diff
overlay. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from topomap.web import scene as sc
from topomap.web.source import MapSource

#: Largest map drawn as is; beyond this the map steps to a coarser view.
LIMITS: Final = {"nodes": 1500, "edges": 2000}


@dataclass(frozen=True)
class Filters:
    """The filter panel and the search box."""

    search: str = ""
    namespaces: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    protocols: frozenset[str] = frozenset()
    port: int | None = None
    external_only: bool = False
    findings_only: bool = False

    @property
    def edge_filters(self) -> bool:
        """Whether any filter narrows the edges."""
        return (
            bool(self.zones or self.protocols or self.port is not None or self.external_only)
            or self.findings_only
        )


@dataclass
class Selection:
    """Ids of the nodes and edges to draw, and the search matches among the nodes."""

    nodes: set[str] = field(default_factory=set)
    edges: set[str] = field(default_factory=set)
    matches: set[str] = field(default_factory=set)


def _search(scene: sc.Scene, query: str) -> tuple[set[str], set[str]]:
    """Nodes matching ``query`` (name, label, IP, DNS name) or, for a number, an edge port;
    and the edges that matched by port."""
    query = query.strip().lower()
    if query.isdigit():
        port = int(query)
        edges = {f.eid for f in scene.facts if port in f.ports}
        nodes = {n for f in scene.facts if port in f.ports for n in (f.source, f.target)}
        return nodes, edges
    return {n for n, text in scene.text.items() if query in text}, set()


def select(scene: sc.Scene, filters: Filters) -> Selection:
    """Apply filters, then search (matches plus their neighbours), to ``scene``."""
    kept = []
    for f in scene.facts:
        if filters.namespaces and not (f.namespaces & filters.namespaces):
            continue
        if filters.zones and not (f.zones & filters.zones):
            continue
        if filters.protocols and f.protocol not in filters.protocols:
            continue
        if filters.port is not None and filters.port not in f.ports:
            continue
        if filters.external_only and not f.external:
            continue
        if filters.findings_only and f.eid not in scene.finding_edges:
            continue
        kept.append(f)
    if filters.edge_filters:
        nodes = {n for f in kept for n in (f.source, f.target)}
    elif filters.namespaces:
        nodes = {n for n, ns in scene.namespaces.items() if ns in filters.namespaces}
        nodes |= {n for f in kept for n in (f.source, f.target)}
    else:
        nodes = set(scene.graph)
    selection = Selection(nodes=nodes, edges={f.eid for f in kept})
    if filters.search.strip():
        matches, port_edges = _search(scene, filters.search)
        matches &= nodes
        edges = {
            f.eid
            for f in kept
            if f.eid in port_edges
            or (not port_edges and (f.source in matches or f.target in matches))
        }
        selection = Selection(
            nodes=matches | {n for f in kept if f.eid in edges for n in (f.source, f.target)},
            edges=edges,
            matches=matches,
        )
    return selection


@dataclass
class Choice:
    """The scene shown, what is drawn of it, and why it differs from what was asked."""

    scene: sc.Scene
    selection: Selection
    notice: str = ""


def _fits(selection: Selection) -> bool:
    return len(selection.nodes) <= LIMITS["nodes"] and len(selection.edges) <= LIMITS["edges"]


def choose(
    cache: sc.SceneCache, source: MapSource, wanted: sc.SceneKey, filters: Filters
) -> Choice:
    """The finest scene at or above ``wanted`` whose filtered map fits :data:`LIMITS`."""
    key = wanted
    scene = cache.get(source, key)
    selection = select(scene, filters)
    first = (key.view, len(selection.nodes), len(selection.edges))
    zones = sc.all_zones(source.graph)
    while not _fits(selection):
        if not zones <= key.collapsed:
            key = sc.SceneKey(key.view, key.expanded, key.collapsed | zones)
        elif key.view in sc.COARSER and sc.COARSER[key.view] in source.views:
            key = sc.SceneKey(sc.COARSER[key.view], frozenset(), key.collapsed)
        else:
            break
        scene = cache.get(source, key)
        selection = select(scene, filters)
    if key == wanted:
        return Choice(scene, selection)
    view, nodes, edges = first
    grouped = " with external peers grouped by zone" if zones & key.collapsed else ""
    notice = (
        f"The {view} view has {nodes:,} nodes and {edges:,} edges here, more than the map "
        f"draws well ({LIMITS['nodes']:,} nodes, {LIMITS['edges']:,} edges): showing the "
        f"{key.view} view{grouped}. Narrow it with the filters or the search to see more detail."
    )
    if not _fits(selection):
        notice += " Even this is large; drawing may be slow."
    return Choice(scene, selection, notice)


def elements(choice: Choice, *, overlay: bool) -> list[dict[str, Any]]:
    """Cytoscape elements of a choice: boxes and nodes (with positions), then edges."""
    scene, selection = choice.scene, choice.selection
    all_nodes, all_edges = scene.nodes, scene.edges
    wanted = set(selection.nodes)
    removed_edges: dict[str, dict[str, Any]] = {}
    if overlay and scene.baseline is not None:
        removed_edges = {
            eid: el
            for eid, el in scene.removed_edges.items()
            if not (selection.nodes ^ set(scene.graph))
            or (el["data"]["source"] in wanted or el["data"]["target"] in wanted)
        }
        wanted |= {el["data"][end] for el in removed_edges.values() for end in ("source", "target")}
    closed = set(wanted)
    for node in wanted:  # every compound parent of a drawn node is drawn too
        parent = all_nodes[node]["data"].get("parent")
        while parent and parent not in closed:
            closed.add(parent)
            parent = all_nodes[parent]["data"].get("parent")
    out: list[dict[str, Any]] = []
    for node in sorted(closed):
        element = all_nodes[node]
        if node in selection.matches:
            element = {**element, "classes": element["classes"] + " match"}
        out.append(element)
    for eid in sorted(selection.edges):
        element = all_edges[eid]
        extra = (" finding" if eid in scene.finding_edges else "") + (
            " added" if overlay and eid in scene.added else ""
        )
        if extra:
            element = {**element, "classes": element["classes"] + extra}
        out.append(element)
    out.extend(removed_edges[eid] for eid in sorted(removed_edges))
    return out

"""One view of the map, computed once and cached by input digest: graph, positions, elements.

A :class:`SceneKey` is a view plus the groups expanded or collapsed in place. Its
:class:`Scene` holds the projected graph (:func:`topomap.views.project`, one pass over the
edges, with a ``regroup`` hook for the in-place groups), and, built on first use, the node
positions (:mod:`topomap.web.placement`), the Cytoscape element of every node and edge, and the
indexes search, filters, findings and the diff overlay read. Scenes live in one process-wide
LRU keyed by ``(input digest, SceneKey)``: switching back to a view, or a second page on the
same inputs, costs a dictionary lookup. Callbacks pick elements out of a scene by id; the
browser never sends the graph back. Pure apart from the cache.

Compound nodes: processes sit inside their container, containers inside their pod, host
processes inside their host; pods, workloads and services inside a box for their namespace;
external peers inside a box for their zone (labelled by DNS name where one was seen). A
namespace or zone can be *collapsed* into one node; a group node can be *expanded* into its
members one level finer, in place, while the rest of the map stays at its view.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import networkx as nx

from topomap import ids, views
from topomap.findings import Finding
from topomap.model import NodeId
from topomap.web import overlay as ov
from topomap.web import placement
from topomap.web.source import MapSource

#: One level finer, for expanding a group of this kind in place.
FINER: Final = {
    "namespace": "workload",
    "workload": "pod",
    "service": "pod",
    "host": "pod",
    "pod": "container",
    "container": "process",
}
#: Views from fine to coarse: where auto-aggregation steps when a view is too big.
COARSER: Final = {
    "process": "container",
    "container": "pod",
    "pod": "workload",
    "workload": "namespace",
    "service": "namespace",
}
#: Order of top-level blocks on the map.
_TOP_ORDER: Final = {"host": 0, "box-namespace": 1, "namespace": 1, "box-zone": 3, "zone": 3}

EdgeKey = tuple[str, str, str]


@dataclass(frozen=True)
class SceneKey:
    """A view and the groups expanded or collapsed in place."""

    view: str
    expanded: frozenset[str] = frozenset()
    collapsed: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the page's store."""
        return {
            "view": self.view,
            "expanded": sorted(self.expanded),
            "collapsed": sorted(self.collapsed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneKey:
        return cls(
            view=str(data["view"]),
            expanded=frozenset(map(str, data.get("expanded", ()))),
            collapsed=frozenset(map(str, data.get("collapsed", ()))),
        )


def zone_id(zone: str) -> NodeId:
    """Node id of all external peers of one zone, collapsed."""
    return NodeId(f"zone:{zone}")


def box_id(group: str) -> str:
    """Element id of the compound box drawn for ``group`` (``namespace:shop``, ``zone:public``)."""
    return f"box:{group}"


def edge_id(u: str, v: str, key: str) -> str:
    """Element id of a map edge."""
    return f"{u}->{v}#{key}"


def namespace_of(graph: nx.MultiDiGraph, attrs: dict[str, Any]) -> str | None:
    """The Kubernetes namespace a node belongs to, through its container or pod if need be."""
    ns = attrs.get("namespace")
    if ns:
        return str(ns)
    if attrs.get("kind") == "namespace":
        return str(attrs.get("name") or attrs.get("label"))
    for key in ("container", "pod"):
        ref = attrs.get(key)
        if ref and ref in graph:
            ns = graph.nodes[ref].get("namespace")
            if ns:
                return str(ns)
    return None


def _regroup(graph: nx.MultiDiGraph, key: SceneKey) -> views.Regroup | None:
    if not key.expanded and not key.collapsed:
        return None
    expanded, collapsed = key.expanded, key.collapsed

    def regroup(node: NodeId, attrs: dict[str, Any], group: NodeId) -> NodeId:
        if attrs.get("kind") == "external":
            zone = zone_id(str(attrs.get("zone")))
            return zone if zone in collapsed else group
        ns = namespace_of(graph, attrs)
        if ns is not None and ids.namespace(ns) in collapsed:
            return ids.namespace(ns)
        while group in expanded:
            finer = FINER.get(ids.kind_of(group))
            moved = group
            while finer is not None and moved == group:
                moved = views.group_of(node, attrs, finer)
                finer = FINER.get(finer)
            if moved == group:
                break
            group = moved
        return group

    return regroup


def _mapping(graph: nx.MultiDiGraph, key: SceneKey) -> dict[str, str]:
    """Node of ``graph`` -> the node that stands for it at the scene ``key`` (as
    :func:`project` groups it)."""
    regroup = _regroup(graph, key)
    result: dict[str, str] = {}
    for node, attrs in graph.nodes(data=True):
        group = views.group_of(node, attrs, key.view)
        result[node] = regroup(node, attrs, group) if regroup else group
    return result


def _zone_attrs(graph: nx.MultiDiGraph, key: SceneKey) -> dict[NodeId, dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    for _, attrs in graph.nodes(data=True):
        if attrs.get("kind") == "external":
            counts[str(attrs.get("zone"))] += 1
    return {
        zone_id(z): {"kind": "zone", "label": f"{z} ({n} peers)", "zone": z, "peers": n}
        for z, n in counts.items()
        if zone_id(z) in key.collapsed
    }


def project(graph: nx.MultiDiGraph, key: SceneKey) -> nx.MultiDiGraph:
    """``graph`` at the scene's view with its groups expanded or collapsed in place."""
    projected = views.project(
        graph, key.view, regroup=_regroup(graph, key), group_attrs=_zone_attrs(graph, key)
    )
    # an expanded group is gone unless some member could not move (a host's own processes)
    projected.remove_nodes_from(
        [n for n in key.expanded if n in projected and projected.degree(n) == 0]
    )
    return projected


def _text(attrs: dict[str, Any]) -> str:
    """What search matches a node by: names, labels, addresses, DNS names, commands."""
    parts: list[str] = []
    for name in ("label", "name", "comm", "image", "ip", "zone", "namespace"):
        value = attrs.get(name)
        if value:
            parts.append(str(value))
    for name in ("ips", "cluster_ips", "dns_names", "external_ips", "load_balancer_ips"):
        parts.extend(str(v) for v in attrs.get(name) or ())
    for k, v in (attrs.get("labels") or {}).items():
        parts.append(f"{k}={v}")
    return "\n".join(parts).lower()


def _short_ports(protocol: str, ports: list[int]) -> str:
    if not ports:
        return protocol
    shown = ",".join(str(p) for p in ports[:3])
    return f"{protocol}/{shown}" + (f",+{len(ports) - 3}" if len(ports) > 3 else "")


@dataclass(frozen=True)
class EdgeFacts:
    """What the filters test on one edge."""

    eid: str
    source: str
    target: str
    protocol: str
    ports: frozenset[int]
    external: bool
    namespaces: frozenset[str]
    zones: frozenset[str]


@dataclass
class Scene:
    """One cached view of one input: see the module docstring."""

    source: MapSource
    key: SceneKey
    graph: nx.MultiDiGraph
    baseline: nx.MultiDiGraph | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Nodes and edges of the projected graph."""
        return self.graph.number_of_nodes(), self.graph.number_of_edges()

    # --- which finest nodes each map node stands for ------------------------------------------

    @cached_property
    def mapping(self) -> dict[str, str]:
        """Finest node -> the map node that stands for it."""
        return _mapping(self.source.graph, self.key)

    @cached_property
    def members(self) -> dict[str, list[str]]:
        """Map node -> the finest nodes it stands for (sorted)."""
        found: dict[str, list[str]] = defaultdict(list)
        for node, group in sorted(self.mapping.items()):
            found[group].append(node)
        return dict(found)

    @cached_property
    def aliases(self) -> dict[str, set[str]]:
        """Any node id of the finest graph or of its groups -> the map nodes it falls into."""
        fine = self.source.graph
        found: dict[str, set[str]] = defaultdict(set)
        for node, group in self.mapping.items():
            attrs = fine.nodes[node]
            found[node].add(group)
            for name in ("pod", "workload", "container", "host"):
                ref = attrs.get(name)
                if ref:
                    found[str(ref)].add(group)
            for service in attrs.get("services") or ():
                found[str(service)].add(group)
            ns = namespace_of(fine, attrs)
            if ns:
                found[ids.namespace(ns)].add(group)
        for node in self.graph:
            found[node].add(node)
        return dict(found)

    # --- the diff overlay -----------------------------------------------------------------------

    @cached_property
    def overlay(self) -> ov.Overlay | None:
        """What ``topomap diff`` at this view says changed, mapped onto this scene
        (:mod:`topomap.web.overlay`); ``None`` without a baseline comparable at this view."""
        base = self.source.baseline
        if self.baseline is None or base is None:
            return None
        view, fine = self.key.view, self.source.graph
        comparison = ov.COMPARISONS.get(
            self.source.digest, view, lambda: ov.compare_at(fine, base, view)
        )
        return ov.build(
            comparison,
            view,
            fine,
            self.mapping,
            frozenset(self.graph),
            frozenset(self.graph.edges(keys=True)),
            base,
            lambda: _mapping(base, self.key),
        )

    @cached_property
    def added(self) -> frozenset[str]:
        """Edge ids on the map marked new since the baseline (empty without a baseline)."""
        if self.overlay is None:
            return frozenset()
        return frozenset(edge_id(u, v, k) for u, v, k in self.overlay.added)

    @cached_property
    def removed(self) -> tuple[list[str], list[EdgeKey]]:
        """Nodes and edges drawn as gone since the baseline (sorted)."""
        if self.overlay is None:
            return [], []
        return sorted(self.overlay.gone_nodes), sorted(self.overlay.gone)

    # --- elements -------------------------------------------------------------------------------

    def node_attrs(self, node: str) -> dict[str, Any]:
        """Attributes of a drawn node: on the map, or a baseline node drawn as gone."""
        if node in self.graph:
            return dict(self.graph.nodes[node])
        assert self.baseline is not None
        return dict(self.baseline.nodes[node])

    def _parent(self, node: str, attrs: dict[str, Any], present: set[str]) -> str | None:
        kind = attrs.get("kind")
        parent = attrs.get("parent")
        if kind != "pod" and parent and parent in present and parent != node:
            return str(parent)
        if kind == "external":
            return box_id(zone_id(str(attrs.get("zone"))))
        if kind in ("namespace", "host", "zone"):
            return None
        ns = namespace_of(self.source.graph, attrs) or attrs.get("namespace")
        if ns and ids.namespace(ns) not in present:
            return box_id(ids.namespace(ns))
        return None

    @cached_property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """Element of every node and box, keyed by id, with its position."""
        removed_nodes, _ = self.removed
        present = set(self.graph) | set(removed_nodes)
        elements: dict[str, dict[str, Any]] = {}
        boxes: dict[str, dict[str, Any]] = {}
        children: dict[str, list[str]] = defaultdict(list)
        roots: list[str] = []
        for node in sorted(present):
            attrs = self.node_attrs(node)
            kind = str(attrs.get("kind"))
            data: dict[str, Any] = {
                "id": node,
                "label": str(attrs.get("label", node)),
                "kind": kind,
            }
            parent = self._parent(node, attrs, present)
            if parent is not None:
                data["parent"] = parent
                children[parent].append(node)
                if parent.startswith("box:") and parent not in boxes:
                    group = parent[4:]
                    gkind = ids.kind_of(group)
                    boxes[parent] = {
                        "data": {
                            "id": parent,
                            "label": group.partition(":")[2],
                            "kind": "box",
                            "group": group,
                        },
                        "classes": f"box box-{gkind}",
                    }
                    roots.append(parent)
            else:
                roots.append(node)
            if kind in ("external", "zone"):
                data["zone"] = attrs.get("zone")
            classes = kind + (" removed" if node not in self.graph else "")
            elements[node] = {"data": data, "classes": classes}
        positions = placement.place(roots, children, order=self._order)
        for node, (x, y) in positions.items():
            elements[node]["position"] = {"x": x, "y": y}
        return {**boxes, **elements}

    def _order(self, node: str) -> tuple[int, str]:
        if node.startswith("box:"):
            rank = _TOP_ORDER.get(f"box-{ids.kind_of(node[4:])}", 2)
            return rank, node
        return _TOP_ORDER.get(ids.kind_of(node), 2), self.nodes_label(node)

    def nodes_label(self, node: str) -> str:
        """Sort label of a node."""
        attrs = self.graph.nodes[node] if node in self.graph else {}
        return str(attrs.get("label", node)).lower()

    def _edge_element(
        self, u: str, v: str, key: str, attrs: dict[str, Any], extra: str
    ) -> dict[str, Any]:
        ports = list(attrs.get("ports") or ())
        connections = int(attrs.get("connections") or 0)
        volume = int(attrs.get("bytes") or 0)
        ends = {self.node_attrs(u).get("kind"), self.node_attrs(v).get("kind")}
        external = " external" if ends & {"external", "zone"} else ""
        return {
            "data": {
                "id": edge_id(u, v, key),
                "source": u,
                "target": v,
                "label": _short_ports(str(attrs.get("protocol")), ports),
                "connections": connections,
                "bytes": volume,
                "w_conn": round(min(12.0, 1 + math.log2(1 + connections)), 2),
                "w_bytes": round(min(12.0, 1 + math.log10(1 + volume)), 2),
            },
            "classes": f"{attrs.get('protocol')}{external}{extra}",
        }

    @cached_property
    def edges(self) -> dict[str, dict[str, Any]]:
        """Element of every edge of the map, keyed by id (sorted by source, target, key)."""
        ordered = sorted(
            self.graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], str(e[2]))
        )
        return {edge_id(u, v, k): self._edge_element(u, v, k, a, "") for u, v, k, a in ordered}

    @cached_property
    def removed_edges(self) -> dict[str, dict[str, Any]]:
        """Elements of the baseline's edges that are gone (the overlay's red dashed lines)."""
        if self.overlay is None:
            return {}
        return {
            edge_id(u, v, k): self._edge_element(u, v, k, gone.attrs, " removed")
            for (u, v, k), gone in sorted(self.overlay.gone.items())
        }

    def gone(self, element: str) -> ov.Gone | None:
        """The gone edge drawn as ``element``, if it is one."""
        head, _, key = element.rpartition("#")
        source, _, target = head.partition("->")
        return None if self.overlay is None else self.overlay.gone.get((source, target, key))

    # --- indexes for search and filters ---------------------------------------------------------

    @cached_property
    def text(self) -> dict[str, str]:
        """Map node -> lower-case text search matches, including what its members carry."""
        fine = self.source.graph
        found: dict[str, str] = {}
        for node, attrs in self.graph.nodes(data=True):
            parts = [node.lower(), _text(attrs)]
            for member in self.members.get(node, ()):
                if member != node:
                    parts.append(_text(fine.nodes[member]))
            found[node] = "\n".join(parts)
        return found

    @cached_property
    def namespaces(self) -> dict[str, str]:
        """Map node -> its Kubernetes namespace, where it has one."""
        found: dict[str, str] = {}
        for node, attrs in self.graph.nodes(data=True):
            ns = namespace_of(self.graph, attrs) or namespace_of(self.source.graph, attrs)
            if ns:
                found[node] = ns
        return found

    @cached_property
    def facts(self) -> list[EdgeFacts]:
        """Per edge, what the filters test."""
        nodes = self.graph.nodes
        result = []
        for u, v, k, attrs in self.graph.edges(keys=True, data=True):
            zones = {
                str(nodes[n].get("zone"))
                for n in (u, v)
                if nodes[n].get("kind") in ("external", "zone")
            }
            nss = {self.namespaces[n] for n in (u, v) if n in self.namespaces}
            result.append(
                EdgeFacts(
                    eid=edge_id(u, v, k),
                    source=u,
                    target=v,
                    protocol=str(attrs.get("protocol")),
                    ports=frozenset(attrs.get("ports") or ()),
                    external=bool(zones),
                    namespaces=frozenset(nss),
                    zones=frozenset(zones),
                )
            )
        return result

    # --- findings -------------------------------------------------------------------------------

    def _edges_between(
        self, src: str, dst: str, protocol: str | None, port: int | None
    ) -> set[str]:
        found: set[str] = set()
        for gu in self.aliases.get(src, ()):
            for gv in self.aliases.get(dst, ()):
                for k, attrs in (self.graph.get_edge_data(gu, gv) or {}).items():
                    if protocol and attrs.get("protocol") != protocol:
                        continue
                    if port is not None and port not in (attrs.get("ports") or ()):
                        continue
                    found.add(edge_id(gu, gv, k))
        return found

    def finding_subject(self, finding: Finding) -> tuple[set[str], set[str]]:
        """The map nodes and edges a finding is about, at this scene."""
        nodes: set[str] = set()
        edges: set[str] = set()
        refs = [e.edge for e in finding.evidence] + [s for s in finding.subject if " -> " in s]
        for ref in refs:
            parsed = parse_edge_ref(ref)
            if parsed is not None:
                edges |= self._edges_between(*parsed)
        for subject in finding.subject:
            if " -> " not in subject:
                nodes |= self.aliases.get(subject, set())
        return nodes, edges

    @cached_property
    def finding_edges(self) -> frozenset[str]:
        """Edges any finding is about."""
        return frozenset(e for f in self.source.findings for e in self.finding_subject(f)[1])


def parse_edge_ref(ref: str) -> tuple[str, str, str | None, int | None] | None:
    """``"<source> -> <target> <protocol>/<port>"`` (a findings evidence edge) split up.

    >>> parse_edge_ref("pod:shop/a b -> external:1.2.3.4 tcp/443")
    ('pod:shop/a b', 'external:1.2.3.4', 'tcp', 443)
    >>> parse_edge_ref("host:a -> host:b udp")
    ('host:a', 'host:b', 'udp', None)
    """
    source, sep, rest = ref.partition(" -> ")
    if not sep:
        return None
    target, _, key = rest.rpartition(" ")
    if not target:
        return source, rest, None, None
    protocol, _, port = key.partition("/")
    return source, target, protocol or None, int(port) if port.isdigit() else None


class SceneCache:
    """Scenes by ``(input digest, key)``, least recently used dropped beyond ``size``."""

    def __init__(self, size: int = 48) -> None:
        self.size = size
        self._scenes: OrderedDict[tuple[str, SceneKey], Scene] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[str, SceneKey], threading.Lock] = {}

    def get(self, source: MapSource, key: SceneKey) -> Scene:
        """The scene of ``source`` at ``key``, projected on first use."""
        slot = (source.digest, key)
        with self._lock:
            scene = self._scenes.get(slot)
            if scene is not None:
                self._scenes.move_to_end(slot)
                return scene
            building = self._building.setdefault(slot, threading.Lock())
        with building:  # one thread projects; the others wait for its result
            with self._lock:
                scene = self._scenes.get(slot)
            if scene is None:
                scene = _build(source, key)
                with self._lock:
                    self._scenes[slot] = scene
                    self._building.pop(slot, None)
                    while len(self._scenes) > self.size:
                        self._scenes.popitem(last=False)
        return scene

    def __len__(self) -> int:
        return len(self._scenes)


def _build(source: MapSource, key: SceneKey) -> Scene:
    baseline = None
    if source.baseline is not None and key.view in baseline_views(source):
        baseline = project(source.baseline, key)
    return Scene(source=source, key=key, graph=project(source.graph, key), baseline=baseline)


def baseline_views(source: MapSource) -> tuple[str, ...]:
    """Views at which ``topomap diff`` can compare the inputs with the baseline (the baseline
    may be coarser than the inputs): the views the diff overlay is offered at."""
    base = source.baseline
    if base is None:
        return ()
    return tuple(v for v in source.views if ov.comparable(source.graph, base, v))


def all_zones(graph: nx.MultiDiGraph) -> frozenset[str]:
    """Zone group ids of every zone with an external peer (to collapse them all)."""
    return frozenset(
        zone_id(str(a.get("zone")))
        for _, a in graph.nodes(data=True)
        if a.get("kind") == "external"
    )


def union(*groups: Iterable[str]) -> frozenset[str]:
    """Groups joined, for building keys."""
    return frozenset(g for group in groups for g in group)


def expand(scene: Scene, node: str, expanded: set[str], collapsed: set[str]) -> None:
    """Expand ``node`` in place: undo its collapse, or show its members one level finer."""
    if node.startswith("box:"):
        return
    if node in collapsed:
        collapsed.discard(node)
    elif ids.kind_of(node) in FINER and len(scene.members.get(node, ())) > 1:
        expanded.add(node)


def collapse(scene: Scene, node: str, expanded: set[str], collapsed: set[str]) -> None:
    """Collapse the group ``node`` came from: an expansion if any, else its box."""
    if node.startswith("box:"):
        collapsed.add(node[4:])
        return
    fine = scene.source.graph
    members = scene.members.get(node, [])
    for group in sorted(expanded):
        level = ids.kind_of(group)
        if level in views.VIEWS and any(
            views.group_of(NodeId(m), fine.nodes[m], level) == group for m in members[:1]
        ):
            expanded.discard(group)
            return
    parent = scene.nodes.get(node, {}).get("data", {}).get("parent")
    while parent and not parent.startswith("box:"):
        parent = scene.nodes[parent]["data"].get("parent")
    if parent:
        collapsed.add(parent[4:])


#: The cache every app in this process shares (keyed by input digest, so apps never mix).
CACHE = SceneCache()

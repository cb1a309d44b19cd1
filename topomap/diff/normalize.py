"""Normalisation: a graph reduced to what a review should compare, without run-to-run noise.

Two collections of the same, unchanged system differ in many details that mean nothing: pods are
recreated with new name hash suffixes (``cart-7d9f8c6b5d-x2x9q``), containers get new ids,
processes new pids, clients new ephemeral ports, and deployments scale up and down. This module
maps every node of a graph (at any view) to an identity that survives those changes:

* pod ``pod:shop/cart-7d9f8c6b5d-x2x9q`` -> ``pod:shop/cart-*``;
* container ``container:<64 hex>`` -> ``container:shop/cart-*/server`` (pod, container name);
* process ``process:node-a/4711@99120`` -> ``process:shop/cart-*/server/cartservice`` (its
  container or host, and its command name);
* ``workload:``, ``service:``, ``host:``, ``namespace:`` and ``external:`` ids are unchanged
  (external peers are matched by DNS name in :mod:`topomap.diff.compare`).

A pod owned by a workload is named after it (every replica folds into one node, so replica
counts do not matter); a bare pod loses a Kubernetes-style random suffix, if it has one
(five characters from Kubernetes' vowel-free alphabet, after an optional ReplicaSet hash).
Edges between normalised nodes are merged, and an edge is identified by its two ends, its
protocol and its *server* port: client ports never reach a graph's edges (``topomap.graph``
keys edges by the server side), so new ephemeral ports cannot change an edge either.

Pure: graph in, :class:`Side` out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from topomap import ids, views

#: A Kubernetes-generated suffix: a ReplicaSet/template hash and a pod suffix, or just the latter.
_ALPHABET = "[bcdfghjklmnpqrstvwxz2456789]"
_GENERATED = re.compile(rf"^(?P<base>.+?)(?:-{_ALPHABET}{{6,10}})?-{_ALPHABET}{{5}}$")
#: Kinds whose ids carry no run-specific part.
_STABLE = frozenset({"workload", "service", "host", "namespace", "external"})

EdgeKey = tuple[str, str, str, int | None]
"""(source, target, protocol, server port) of a normalised edge; port ``None`` for ICMP."""


@dataclass(slots=True)
class Node:
    """A normalised node: what a review shows about it."""

    id: str
    """Normalised id."""
    kind: str
    """Node kind (``workload``, ``pod``, ``external``...)."""
    label: str
    """Human label (a pod's label loses its hash suffix too)."""
    namespace: str | None = None
    """Kubernetes namespace, when the node belongs to one."""
    ip: str | None = None
    """Address, for external peers."""
    names: tuple[str, ...] = ()
    """DNS names, for external peers."""
    zone: str | None = None
    """Address zone, for external peers (``public``, ``private``, ``metadata``...)."""


@dataclass(slots=True)
class Stats:
    """What is known about one normalised edge: when it was seen and how often."""

    first_seen: str
    """Earliest first sighting (UTC ISO 8601), over the merged edges."""
    last_seen: str
    """Latest last sighting."""
    connections: int = 0
    """Connections summed over the merged edges."""
    observed_by: set[str] | None = None
    """Who observed it (``collector@host``), when asked for (the store attributes sightings)."""


@dataclass(slots=True)
class Side:
    """One side of a diff: normalised nodes and edges at one view."""

    view: str
    """The view the graph was at."""
    nodes: dict[str, Node] = field(default_factory=dict)
    """Normalised nodes by id."""
    edges: dict[EdgeKey, Stats] = field(default_factory=dict)
    """Normalised edges, one per (source, target, protocol, server port)."""
    ids: dict[str, str] = field(default_factory=dict)
    """Node of the input graph -> the normalised id its edges are keyed by (only when
    :func:`normalize` is asked for it with ``ids=True``: the map's diff overlay)."""


def namespace_of(node_id: str, attrs: dict[str, Any]) -> str | None:
    """The namespace a node belongs to, from its attributes or its id."""
    value = attrs.get("namespace")
    if isinstance(value, str) and value:
        return value
    kind, _, rest = node_id.partition(":")
    if kind == "namespace":
        return rest
    if kind in ("workload", "pod", "service") and "/" in rest:
        return rest.partition("/")[0]
    return None


def strip_generated(name: str) -> str:
    """A pod name without its Kubernetes-generated suffix, marked with ``-*``.

    >>> strip_generated("cart-7d9f8c6b5d-x2x9q"), strip_generated("fluentd-2v6bd")
    ('cart-*', 'fluentd-*')
    >>> strip_generated("debug-shell")
    'debug-shell'
    """
    match = _GENERATED.match(name)
    return f"{match['base']}-*" if match else name


class Normalizer:
    """Maps node ids of one graph to normalised ids (memoised: parents are looked up often)."""

    def __init__(self, nodes: Mapping[str, dict[str, Any]]) -> None:
        self.nodes = nodes
        self.memo: dict[str, str] = {}

    def attrs(self, node: str) -> dict[str, Any]:
        return self.nodes[node] if node in self.nodes else {}

    def __call__(self, node: str) -> str:
        found = self.memo.get(node)
        if found is None:
            found = self.memo[node] = self._normalise(node)
        return found

    def _normalise(self, node: str) -> str:
        kind, _, rest = node.partition(":")
        if kind in _STABLE:
            return node
        attrs = self.attrs(node)
        if kind == "pod":
            return f"pod:{self.pod_body(rest, attrs)}"
        if kind == "container":
            pod = attrs.get("pod")
            where = self(pod).partition(":")[2] if pod else _host_name(attrs.get("host"))
            return f"container:{where}/{attrs.get('name') or attrs.get('image') or '?'}"
        if kind == "process":
            parent = attrs.get("container") or attrs.get("parent") or attrs.get("host")
            where = self(parent).partition(":")[2] if parent else rest.partition("/")[0]
            return f"process:{where}/{attrs.get('comm') or '?'}"
        return node

    def pod_body(self, rest: str, attrs: dict[str, Any]) -> str:
        namespace, _, name = rest.partition("/")
        workload = attrs.get("workload")
        if isinstance(workload, str) and workload.startswith("workload:"):
            return f"{namespace}/{workload.rpartition('/')[2]}-*"
        return f"{namespace}/{strip_generated(name)}"


def _host_name(host: Any) -> str:
    return host.partition(":")[2] if isinstance(host, str) else "?"


def _label(node_id: str, kind: str, attrs: dict[str, Any]) -> str:
    if kind in ("pod", "container", "process"):
        body = node_id.partition(":")[2]
        return body.partition("/")[2] if kind == "pod" else body
    return str(attrs.get("label") or node_id.partition(":")[2])


def can_normalize(graph: nx.MultiDiGraph, view: str) -> bool:
    """Whether :func:`normalize` can see ``graph`` at ``view``: its own view, or any view of a
    ``process``-view graph (a coarser graph lacks the ancestry to group its nodes further)."""
    own = str(graph.graph.get("view") or "process")
    return view == own or own == "process"


def normalize(
    graph: nx.MultiDiGraph,
    view: str | None = None,
    *,
    observers: bool = False,
    ids: bool = False,
) -> Side:
    """The normalised nodes and edges of ``graph``, at ``view``.

    Parameters
    ----------
    graph
        A graph at some view: the finest one from :func:`topomap.graph.build_graph`, or one
        from :func:`topomap.views.project` or a graph JSON file.
    view
        The view to compare at. ``None`` (or the graph's own view) takes the graph as it is;
        a coarser view groups the finest graph's nodes with :func:`topomap.views.group_of`
        while keeping one edge per server port.

    Returns
    -------
    Side
        Nodes by normalised id; edges keyed ``(source, target, protocol, port)`` with the
        earliest first and latest last sighting and the summed connections of what merged. An
        edge of a coarser graph with several ports becomes one edge per port, each with the
        connections of the whole edge (the graph does not say how they split). With
        ``observers``, each edge also collects its ``observed_by``; with ``ids``,
        :attr:`Side.ids` maps every node of ``graph`` to the normalised id that stands for it.

    Raises
    ------
    ValueError
        ``view`` is finer than a graph that is not at the ``process`` view
        (:func:`can_normalize`).
    """
    own = str(graph.graph.get("view") or "process")
    if view is None or view == own:
        return _normalize(graph, graph, own, None, observers, ids)
    if not can_normalize(graph, view):
        raise ValueError(f"a {own}-view graph cannot be seen at the {view} view")
    shown = views.project(graph, view, edges=False)  # the nodes at the view; edges come next
    return _normalize(shown, graph, view, views.group_of, observers, ids)


def normalize_content(content: Mapping[str, Any]) -> Side:
    """The normalised nodes and edges of graph JSON content (``nodes``/``edges`` lists), at the
    graph's own view, without building a networkx graph (large graph JSON files, in ``topomap
    diff``). Same result as ``normalize(graph_from_document(...))``."""
    nodes = {node["id"]: node for node in content["nodes"]}
    view = str((content.get("graph") or {}).get("view") or "process")
    edges = ((e["source"], e["target"], e) for e in content["edges"])
    return _collect(Side(view=view), Normalizer(nodes), nodes.items(), edges, None, False)


def _normalize(
    shown: nx.MultiDiGraph,
    fine: nx.MultiDiGraph,
    view: str,
    group: Any,
    observers: bool,
    ids: bool,
) -> Side:
    """Nodes from ``shown`` (the graph at ``view``), edges from ``fine`` mapped by ``group``."""
    norm = Normalizer(shown.nodes)
    mapped: dict[str, str] | None = None
    if group is not None:
        mapped = {node: norm(group(node, attrs, view)) for node, attrs in fine.nodes(data=True)}
    elif ids:
        mapped = {node: norm(node) for node in fine}
    side = _collect(
        Side(view=view),
        norm,
        shown.nodes(data=True),
        fine.edges(data=True),
        mapped,
        observers,
    )
    if ids and mapped is not None:
        side.ids = mapped
    return side


def _collect(
    side: Side,
    norm: Normalizer,
    nodes: Iterable[tuple[str, dict[str, Any]]],
    edge_items: Iterable[tuple[str, str, dict[str, Any]]],
    mapped: dict[str, str] | None,
    observers: bool,
) -> Side:
    for node, attrs in nodes:
        new = norm(node)
        if new in side.nodes:
            continue
        kind = str(attrs.get("kind") or ids.kind_of(node))
        side.nodes[new] = Node(
            id=new,
            kind=kind,
            label=_label(new, kind, attrs),
            namespace=namespace_of(node, attrs),
            ip=attrs.get("ip") if kind == "external" else None,
            names=tuple(attrs.get("dns_names") or ()) if kind == "external" else (),
            zone=attrs.get("zone") if kind == "external" else None,
        )
    edges = side.edges
    for u, v, attrs in edge_items:
        if mapped is None:
            nu, nv = norm(u), norm(v)
        else:
            nu, nv = mapped[u], mapped[v]
        protocol = attrs["protocol"]
        ports = attrs.get("ports") or [attrs.get("port")]
        for port in ports:
            key = (nu, nv, protocol, port)
            stats = edges.get(key)
            if stats is None:
                stats = edges[key] = Stats(
                    attrs["first_seen"], attrs["last_seen"], attrs["connections"]
                )
                if observers:
                    stats.observed_by = set(attrs.get("observed_by") or ())
                continue
            if observers:
                assert stats.observed_by is not None
                stats.observed_by.update(attrs.get("observed_by") or ())
            if attrs["first_seen"] < stats.first_seen:
                stats.first_seen = attrs["first_seen"]
            if attrs["last_seen"] > stats.last_seen:
                stats.last_seen = attrs["last_seen"]
            stats.connections += attrs["connections"]
    return side

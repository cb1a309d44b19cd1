"""Views: the finest graph seen at one level (process ... host), by one projection function.

:func:`project` maps every node of the finest graph to its group at the chosen view and sums the
edges between groups in a single pass over the edges, with dicts keyed by group. (Do not reach
for ``networkx.quotient_graph``: it grows with groups x edges, 72 s at 10k nodes here.)

Rules, for a node finer than the view: walk up its ancestry (``ANCESTRY[view]``) and take the
first ancestor it has; a host process without container goes to its host, a bare pod with no
workload stays a pod. A node already at or above the view's level stays itself. External
endpoints stay individual at every view. At the ``namespace`` view services fold into their
namespace. Edges of the ``process`` view are keyed ``<protocol>/<port>``; at coarser views the
ports between two groups are summarised into one edge per protocol with a ``ports`` list.

Pure: graph in, graph out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import networkx as nx

from topomap import ids
from topomap.gcpause import paused_gc
from topomap.model import NodeId

VIEWS: Final = ("process", "container", "pod", "workload", "service", "namespace", "host")

#: How fine each view is; a node whose kind ranks at or above the view stays itself.
_RANK: Final = {
    "process": 0,
    "container": 1,
    "pod": 2,
    "workload": 3,
    "service": 3,
    "namespace": 4,
    "host": 5,
}
#: Ancestors to try, in order, for a process, container or pod finer than the view.
ANCESTRY: Final[dict[str, tuple[str, ...]]] = {
    "process": (),
    "container": ("container", "host"),
    "pod": ("pod", "host"),
    "workload": ("workload", "pod", "host"),
    "service": ("services", "workload", "pod", "host"),
    "namespace": ("namespace", "host"),
    "host": ("host",),
}


def group_of(node: NodeId, attrs: dict[str, Any], view: str) -> NodeId:
    """The node that stands for ``node`` at ``view``."""
    kind = attrs["kind"]
    if kind in ("process", "container", "pod"):
        if _RANK[kind] >= _RANK[view]:
            return node
        for key in ANCESTRY[view]:
            value = attrs.get(key)
            if not value:
                continue
            if key == "namespace":  # a plain name on the node, not an id
                return ids.namespace(value)
            return NodeId(value[0] if isinstance(value, list) else value)
        return node
    if kind == "service" and view == "namespace":
        return ids.namespace(attrs["namespace"])
    return node


def _node_attrs(graph: nx.MultiDiGraph, node: NodeId) -> dict[str, Any]:
    if node in graph:
        return dict(graph.nodes[node])
    groups: dict[NodeId, dict[str, Any]] = graph.graph.get("groups", {})
    if node in groups:
        return dict(groups[node])
    kind = ids.kind_of(node)
    return {"kind": kind, "label": node.partition(":")[2]}


#: ``regroup(node, attrs, group)``: the node that stands for ``node`` instead of ``group``.
Regroup = Callable[[NodeId, dict[str, Any], NodeId], NodeId]


def project(
    graph: nx.MultiDiGraph,
    view: str,
    *,
    regroup: Regroup | None = None,
    group_attrs: Mapping[NodeId, dict[str, Any]] | None = None,
    edges: bool = True,
) -> nx.MultiDiGraph:
    """The graph at ``view``: grouped nodes and summed edges.

    Parameters
    ----------
    graph
        The finest graph, from :func:`topomap.graph.build_graph`.
    view
        One of :data:`VIEWS`.
    regroup
        Optional override of the grouping, node by node (the map uses it to expand or collapse
        one group in place); edges are still summed in the same single pass.
    group_attrs
        Attributes of group nodes that ``regroup`` invents (neither in ``graph`` nor in its
        ``groups``).
    edges
        ``False`` returns the same nodes without summing any edge (for
        :func:`topomap.diff.normalize.normalize`, which needs only the nodes: about half the
        time).

    Returns
    -------
    networkx.MultiDiGraph
        A new graph. ``graph.graph`` carries ``view``, ``window``, ``scope`` and ``coverage``;
        group nodes (workloads, namespaces) take their attributes from ``graph.graph["groups"]``.
        Edge attributes: ``protocol``, ``port`` (the server port, or ``None`` when ``ports``
        holds several), ``ports``, ``connections``, ``packets``, ``bytes``, ``counted``,
        ``first_seen``, ``last_seen``, ``observed_by``, ``services``.

    Raises
    ------
    ValueError
        For an unknown view name.
    """
    if view not in _RANK:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    with paused_gc():
        return _project(graph, view, regroup, group_attrs or {}, edges)


def _project(
    graph: nx.MultiDiGraph,
    view: str,
    regroup: Regroup | None,
    group_attrs: Mapping[NodeId, dict[str, Any]],
    with_edges: bool,
) -> nx.MultiDiGraph:
    if regroup is None:
        mapping = {node: group_of(node, attrs, view) for node, attrs in graph.nodes(data=True)}
    else:
        mapping = {
            node: regroup(node, attrs, group_of(node, attrs, view))
            for node, attrs in graph.nodes(data=True)
        }
    result = nx.MultiDiGraph()
    result.graph.update({k: v for k, v in graph.graph.items() if k != "groups"})
    result.graph["view"] = view
    groups = sorted(set(mapping.values()))
    result.add_nodes_from(
        (g, dict(group_attrs[g]) if g in group_attrs else _node_attrs(graph, g)) for g in groups
    )
    if view in ("workload", "namespace"):  # idle workloads and namespaces belong on the map too
        for idle, a in graph.graph.get("groups", {}).items():
            target = idle if regroup is None else regroup(idle, a, idle)
            if a["kind"] == view and target not in result:
                attrs = group_attrs.get(target) or _node_attrs(graph, target)
                result.add_node(target, **dict(attrs))
    if not with_edges:
        if view == "host":  # the same nodes as below: services that are endpoints stay
            ends = {mapping[u] for u, _ in graph.edges()} | {mapping[v] for _, v in graph.edges()}
            result.remove_nodes_from(
                [n for n, a in result.nodes(data=True) if a["kind"] == "service" and n not in ends]
            )
        return result
    summed: dict[tuple[NodeId, NodeId, str], dict[str, Any]] = {}
    fine = view == "process"
    for u, v, key, attrs in graph.edges(keys=True, data=True):
        gkey = key if fine else attrs["protocol"]
        target = summed.get((mapping[u], mapping[v], gkey))
        if target is None:
            summed[(mapping[u], mapping[v], gkey)] = {
                **attrs,
                "ports": list(attrs["ports"]),
                "observed_by": set(attrs["observed_by"]),
                "services": set(attrs["services"]),
            }
            continue
        for counter in ("connections", "packets", "bytes", "counted"):
            target[counter] += attrs[counter]
        target["ports"].extend(attrs["ports"])
        target["first_seen"] = min(target["first_seen"], attrs["first_seen"])
        target["last_seen"] = max(target["last_seen"], attrs["last_seen"])
        target["observed_by"].update(attrs["observed_by"])
        target["services"].update(attrs["services"])
    if view == "host":  # services are not hosts: keep only those that are endpoints
        ends = {u for u, _, _ in summed} | {v for _, v, _ in summed}
        result.remove_nodes_from(
            [n for n, a in result.nodes(data=True) if a["kind"] == "service" and n not in ends]
        )
    for (u, v, key), attrs in summed.items():
        ports = sorted(set(attrs["ports"]))
        attrs["ports"] = ports
        attrs["port"] = ports[0] if len(ports) == 1 else None
        attrs["observed_by"] = sorted(attrs["observed_by"])
        attrs["services"] = sorted(attrs["services"])
        result.add_edge(u, v, key, **attrs)
    return result

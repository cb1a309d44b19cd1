"""Graph -> Cytoscape.js elements, for the map. Pure, so the web module stays thin.

Node ``data`` carries ``id``, ``label``, ``kind`` and, where the enclosing node is on the same
graph, ``parent`` (Cytoscape compound nodes: processes inside containers inside pods).
Edge ``data`` carries the summary a map needs (protocol, ports, connections, bytes) and a
``width`` scaled from the connection count. Labels are data, never markup: Cytoscape draws
them as text on a canvas.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx


def to_elements(graph: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Nodes (sorted by id) then edges (sorted by source, target, key) as Cytoscape elements."""
    elements: list[dict[str, Any]] = []
    for node in sorted(graph.nodes):
        attrs = graph.nodes[node]
        data: dict[str, Any] = {
            "id": node,
            "label": attrs.get("label", node),
            "kind": attrs["kind"],
        }
        parent = attrs.get("parent")
        if parent and parent in graph and parent != node:
            data["parent"] = parent
        if attrs["kind"] == "external":
            data["zone"] = attrs.get("zone")
        elements.append({"data": data, "classes": attrs["kind"]})
    edges = sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], str(e[2])))
    for u, v, key, attrs in edges:
        ports = ",".join(str(p) for p in attrs["ports"])
        elements.append(
            {
                "data": {
                    "id": f"{u}->{v}#{key}",
                    "source": u,
                    "target": v,
                    "label": f"{attrs['protocol']}/{ports}" if ports else attrs["protocol"],
                    "connections": attrs["connections"],
                    "bytes": attrs["bytes"],
                    "width": round(1 + math.log2(1 + attrs["connections"]), 2),
                },
                "classes": attrs["protocol"],
            }
        )
    return elements


def describe(graph: nx.MultiDiGraph, element_id: str) -> dict[str, Any] | None:
    """Every attribute of a node, or of an edge given its element id; ``None`` if unknown."""
    if element_id in graph:
        return {"id": element_id, **graph.nodes[element_id]}
    head, _, key = element_id.rpartition("#")
    source, _, target = head.partition("->")
    if graph.has_edge(source, target, key):
        return {"source": source, "target": target, "key": key, **graph.edges[source, target, key]}
    return None

"""A short human summary of a graph: what is on it, what leaves it, what could not be seen.

Used by ``topomap graph --format text`` and ``topomap demo``. Pure: graph in, data or text out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from topomap import zones


def summarize(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """Counts by node kind and edge protocol, external peers, and collector coverage."""
    kinds = Counter(attrs["kind"] for _, attrs in graph.nodes(data=True))
    protocols: Counter[str] = Counter()
    connections = 0
    peers: dict[str, dict[str, Any]] = {}
    for u, v, attrs in graph.edges(data=True):
        protocols[attrs["protocol"]] += 1
        connections += attrs["connections"]
        for peer, other in ((v, u), (u, v)):
            pattrs = graph.nodes[peer]
            if pattrs["kind"] != "external":
                continue
            entry = peers.setdefault(
                peer,
                {
                    "id": peer,
                    "ip": pattrs["ip"],
                    "zone": pattrs["zone"],
                    "names": pattrs.get("dns_names", []),
                    "ports": set(),
                    "peers": set(),
                    "connections": 0,
                    "direction": set(),
                },
            )
            entry["ports"].update(f"{p}/{attrs['protocol']}" for p in attrs["ports"])
            entry["peers"].add(other)
            entry["connections"] += attrs["connections"]
            entry["direction"].add("egress" if peer == v else "ingress")
    external = [
        {
            **entry,
            "ports": sorted(entry["ports"]),
            "peers": sorted(entry["peers"]),
            "direction": "/".join(sorted(entry["direction"])),
        }
        for _, entry in sorted(peers.items())
    ]
    partial = [c for c in graph.graph.get("coverage", []) if c["status"] != "ok"]
    return {
        "view": graph.graph.get("view"),
        "window": graph.graph.get("window"),
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "connections": connections,
        "nodes_by_kind": dict(sorted(kinds.items())),
        "edges_by_protocol": dict(sorted(protocols.items())),
        "external_peers": external,
        "coverage_gaps": partial,
    }


def render_text(summary: dict[str, Any]) -> str:
    """The summary as a few aligned lines for a terminal."""
    window = summary["window"] or {}
    lines = [
        f"view {summary['view']}: {summary['nodes']} nodes, {summary['edges']} edges, "
        f"{summary['connections']} connections, window {window.get('start')} .. "
        f"{window.get('end')}",
        "nodes:  " + ", ".join(f"{k} {n}" for k, n in summary["nodes_by_kind"].items()),
        "edges:  " + ", ".join(f"{k} {n}" for k, n in summary["edges_by_protocol"].items()),
        f"external and unattributed peers ({len(summary['external_peers'])}):",
    ]
    for peer in summary["external_peers"]:
        name = ", ".join(peer["names"]) or "(no DNS name)"
        outside = " OUTSIDE" if zones.is_external(zones.Zone(peer["zone"])) else ""
        lines.append(
            f"  {peer['ip']:<18} {peer['zone']:<13}{outside:<8} {name:<28} "
            f"{peer['direction']:<8} {','.join(peer['ports']):<12} {peer['connections']:>5} conn "
            f"with {', '.join(peer['peers'])}"
        )
    for gap in summary["coverage_gaps"]:
        detail = gap["reason"] or "; ".join(
            [*gap["warnings"], *(f"{n} {why}" for why, n in gap["skipped"].items())]
        )
        lines.append(f"coverage: {gap['collector']}@{gap['observer']} {gap['status']}: {detail}")
    return "\n".join(lines) + "\n"

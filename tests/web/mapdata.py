"""Inputs for the map tests, all derived from the bundled samples (never hard-coded ids).

``planted_edge`` is the sample's planted egress to a public address without a DNS name,
found in the built graph by those properties; the findings and the baseline are built around
it with the real :mod:`topomap.findings` records and :mod:`topomap.export` writer.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import networkx as nx

from tests import factories
from topomap import cli, export, findings, graph, model, snapshot_io, views

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "shop"
XSS = "<img src=x onerror=alert(1)>"


@cache
def shop() -> nx.MultiDiGraph:
    """The finest graph of samples/shop."""
    return graph.build_graph(s.snapshot for s in cli.load_snapshots([str(SAMPLES)]))


def planted_edge(g: nx.MultiDiGraph) -> tuple[str, str, str]:
    """The one edge to a public peer that has no DNS name (the sample's planted egress)."""
    found = [
        (u, v, k)
        for u, v, k in g.edges(keys=True)
        if g.nodes[v]["kind"] == "external"
        and g.nodes[v]["zone"] == "public"
        and not g.nodes[v]["dns_names"]
    ]
    assert len(found) == 1, found
    return found[0]


def planted_finding(g: nx.MultiDiGraph) -> findings.Finding:
    """A finding about the planted edge, with its evidence taken from the graph."""
    u, v, k = planted_edge(g)
    attrs = g.edges[u, v, k]
    return findings.Finding(
        rule="TM-EXT-EGRESS",
        title="Egress to a public address",
        severity="high",
        controls=("CC6.6",),
        subject=(u, v),
        message=f"{g.nodes[u]['label']} talks to {g.nodes[v]['ip']} on {k}",
        remediation="Block it or declare it in the policy file.",
        fingerprint=findings.fingerprint("TM-EXT-EGRESS", u, v),
        evidence=(
            findings.Evidence(
                edge=f"{u} -> {v} {k}",
                protocol=attrs["protocol"],
                port=attrs["port"],
                connections=attrs["connections"],
                observed_by=tuple(attrs["observed_by"]),
            ),
        ),
        details={"deciding_policy": "system default", "verdict": "allow"},
    )


def write_findings(g: nx.MultiDiGraph, path: Path) -> findings.Finding:
    """A findings report with the planted finding, written to ``path``."""
    finding = planted_finding(g)
    report = findings.make_report([finding], findings.ReportMeta(tool_version="test"))
    path.write_bytes(findings.dumps_report(report))
    return finding


def removed_edge(g: nx.MultiDiGraph) -> tuple[str, str, str]:
    """An edge only the baseline has: between two workloads' processes that never talk now."""
    cart = next(
        n
        for n, a in g.nodes(data=True)
        if a["kind"] == "process" and a.get("workload", "").endswith("/cartservice")
    )
    ads = next(
        n
        for n, a in g.nodes(data=True)
        if a["kind"] == "process" and a.get("workload", "").endswith("/adservice")
    )
    assert not g.has_edge(cart, ads)
    return cart, ads, "tcp/9555"


def baseline(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The approved state: without the planted edge, with one edge that is gone since."""
    old = views.project(g, "process")
    old.remove_edge(*planted_edge(g))
    u, v, k = removed_edge(g)
    template = dict(next(iter(old.edges(data=True)))[2])
    old.add_edge(u, v, k, **{**template, "protocol": "tcp", "port": 9555, "ports": [9555]})
    return old


def write_baseline(g: nx.MultiDiGraph, path: Path) -> None:
    path.write_bytes(export.dumps_graph_json(baseline(g)))


def xss_snapshot(path: Path) -> None:
    """A cluster snapshot with one bare pod whose name is an HTML injection attempt."""
    snap = model.Snapshot(
        snapshot_id="xss",
        source="cluster",
        observer="xss",
        window=model.Window(start=factories.at(0), end=factories.at(300)),
        pods=(model.Pod(namespace="shop", name=XSS, node="node-a", ips=("10.244.0.250",)),),
    )
    snapshot_io.dump_snapshot(snap, path)

"""The human summary: counts, external peers with direction, coverage gaps."""

from __future__ import annotations

from tests import factories as f
from tests.test_views import shop, shop_snapshots
from topomap import graph, model, summary, views


def test_summary_counts_and_peers() -> None:
    s = summary.summarize(views.project(shop(), "workload"))
    assert s["connections"] == 5
    assert s["nodes_by_kind"]["workload"] == 3  # web, cart and the idle db
    (peer,) = s["external_peers"]
    assert (peer["ip"], peer["zone"], peer["direction"], peer["ports"]) == (
        "54.1.2.3",
        "public",
        "egress",
        ["443/tcp"],
    )
    assert peer["peers"] == ["workload:shop/Deployment/web"]


def test_ingress_peer_and_coverage_gap_in_text() -> None:
    run = model.CollectorRun(
        name="conntrack", version="0.1.0", status="unavailable", reason="needs CAP_NET_ADMIN"
    )
    inbound = f.snapshot(
        "node-b", collectors=[run], connections=[f.conn("198.51.100.23", 50000, "10.244.1.7", 7070)]
    )
    text = summary.render_text(
        summary.summarize(views.project(graph.build_graph([*shop_snapshots(), inbound]), "pod"))
    )
    line = next(x for x in text.splitlines() if "198.51.100.23" in x)
    assert "documentation" in line and "OUTSIDE" in line and "ingress" in line
    assert line.endswith("with pod:shop/cart-1")
    assert "coverage: conntrack@node-b unavailable: needs CAP_NET_ADMIN" in text

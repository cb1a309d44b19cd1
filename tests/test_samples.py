"""The bundled demo data set (samples/shop): it regenerates byte for byte and maps as designed.

Expectations come from the generator itself (``samples/build.py``: its call table ``CALLS`` and
the per-connection ground truth ``Demo.flows``), so changing the scene never means editing
numbers here; only the Online Boutique edges and the external peers are spelled out.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import networkx as nx
import pytest

from topomap import graph, ids, snapshot_io, views
from topomap.model import Snapshot

REPO = Path(__file__).resolve().parent.parent
BUILD_PY = REPO / "samples" / "build.py"
SHOP = REPO / "samples" / "shop"


def workload(name: str, namespace: str = "shop") -> str:
    return ids.workload(namespace, "Deployment", name)


#: Online Boutique calls as the workload view must show them: server port after DNAT, Service.
OB_EDGES = [
    ("loadgenerator", "frontend", 8080, "frontend"),
    ("frontend", "productcatalogservice", 3550, "productcatalogservice"),
    ("frontend", "currencyservice", 7000, "currencyservice"),
    ("frontend", "cartservice", 7070, "cartservice"),
    ("frontend", "recommendationservice", 8080, "recommendationservice"),
    ("frontend", "shippingservice", 50051, "shippingservice"),
    ("frontend", "checkoutservice", 5050, "checkoutservice"),
    ("frontend", "adservice", 9555, "adservice"),
    ("checkoutservice", "paymentservice", 50051, "paymentservice"),
    ("checkoutservice", "emailservice", 8080, "emailservice"),  # Service port 5000
    ("checkoutservice", "cartservice", 7070, "cartservice"),
    ("recommendationservice", "productcatalogservice", 3550, "productcatalogservice"),
    ("cartservice", "redis-cart", 6379, "redis-cart"),
]


@pytest.fixture(scope="module")
def build() -> ModuleType:
    """samples/build.py imported from its path (samples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("samples_build", BUILD_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


@pytest.fixture(scope="module")
def demo(build: ModuleType) -> Any:
    return build.build()


@pytest.fixture(scope="module")
def snapshots() -> list[Snapshot]:
    return [snapshot_io.load_snapshot(p).snapshot for p in sorted(SHOP.glob("*.json"))]


@pytest.fixture(scope="module")
def finest(snapshots: list[Snapshot]) -> nx.MultiDiGraph:
    return graph.build_graph(snapshots)


@pytest.fixture(scope="module")
def by_workload(finest: nx.MultiDiGraph) -> nx.MultiDiGraph:
    return views.project(finest, "workload")


# --- the files are what the generator writes --------------------------------------------------


def test_committed_files_are_what_build_py_generates(demo: Any) -> None:
    files = demo.files()
    assert sorted(p.name for p in files) == sorted(p.name for p in SHOP.glob("*.json"))
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} is stale: run python samples/build.py"


def test_generation_is_deterministic(build: ModuleType, demo: Any) -> None:
    assert build.build().files() == demo.files()


def test_check_mode_exits_1_naming_each_stale_file(
    build: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(build, "OUT_DIR", tmp_path)
    assert build.main(["--check"]) == 1  # nothing written yet: every file is missing
    assert build.main([]) == 0
    capsys.readouterr()
    assert build.main(["--check"]) == 0
    (tmp_path / "node-b.json").write_bytes(b"{}\n")
    assert build.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "node-b.json" in out and "node-a.json" not in out


def test_samples_load_and_stay_small(snapshots: list[Snapshot]) -> None:
    assert [(s.source, s.observer) for s in snapshots] == [
        ("cluster", "shop-cluster"),
        ("host", "node-a"),
        ("host", "node-b"),
    ]
    for path in SHOP.glob("*.json"):
        assert path.stat().st_size < 1_000_000, path


# --- the graph they make --------------------------------------------------------------------


def edge(view: nx.MultiDiGraph, u: str, v: str, key: str) -> dict[str, Any]:
    assert view.has_edge(u, v, key), f"no edge {u} -> {v} [{key}]"
    data: dict[str, Any] = view.edges[u, v, key]
    return data


@pytest.mark.parametrize(("client", "server", "port", "service"), OB_EDGES)
def test_workload_view_has_the_online_boutique_call_graph(
    by_workload: nx.MultiDiGraph, client: str, server: str, port: int, service: str
) -> None:
    data = edge(by_workload, workload(client), workload(server), "tcp")
    assert data["ports"] == [port]
    assert data["services"] == [ids.service("shop", service)]


def test_every_shop_workload_resolves_names_through_kube_dns(
    by_workload: nx.MultiDiGraph, build: ModuleType
) -> None:
    coredns = workload("coredns", "kube-system")
    clients = {a.name for a in build.APPS if a.namespace == "shop"}
    for name in clients:
        data = edge(by_workload, workload(name), coredns, "udp")
        assert data["ports"] == [53]
        assert data["services"] == [ids.service("kube-system", "kube-dns")]


def test_each_connection_is_counted_once_though_both_nodes_saw_it(
    by_workload: nx.MultiDiGraph, build: ModuleType, demo: Any
) -> None:
    expected: Counter[tuple[str, str, str]] = Counter()
    for call in build.CALLS:
        app = build.APP[build.SERVICE[call.service].app]
        key = (workload(call.client), workload(app.name, app.namespace), call.protocol)
        expected[key] += call.count
    for (client, server, protocol), count in expected.items():
        assert edge(by_workload, client, server, protocol)["connections"] == count
    crossed = [f for f in demo.flows if f.records == 2]
    assert len(crossed) > 10  # the dedup is really exercised
    conntrack_records = sum(
        1 for s in demo.snapshots.values() for c in s.connections if c.observed_by == "conntrack"
    )
    assert conntrack_records == sum(f.records for f in demo.flows) > len(demo.flows)


def test_edges_match_the_ground_truth_exactly(by_workload: nx.MultiDiGraph, demo: Any) -> None:
    """Every connection once, no other edge, and counters of a connection seen twice not added."""
    connections: Counter[tuple[str, str, str]] = Counter()
    octets: Counter[tuple[str, str, str]] = Counter()
    for flow in demo.flows:
        key = (flow.client, flow.server, flow.shape.protocol)
        connections[key] += 1
        octets[key] += flow.counters.bytes_orig + flow.counters.bytes_reply
    got = {(u, v, k): d for u, v, k, d in by_workload.edges(keys=True, data=True)}
    assert {k: d["connections"] for k, d in got.items()} == dict(connections)
    assert {k: d["bytes"] for k, d in got.items()} == dict(octets)


@pytest.mark.parametrize("view", views.VIEWS)
def test_every_view_keeps_every_connection(finest: nx.MultiDiGraph, demo: Any, view: str) -> None:
    projected = views.project(finest, view)
    assert sum(d["connections"] for *_, d in projected.edges(data=True)) == len(demo.flows)


def test_clusterip_connections_end_at_backend_processes(finest: nx.MultiDiGraph) -> None:
    dnat = [(u, v, d) for u, v, d in finest.edges(data=True) if d["services"]]
    assert dnat
    for u, v, _ in dnat:
        assert finest.nodes[u]["kind"] != "service" and finest.nodes[v]["kind"] == "process"
    assert not any(finest.nodes[n]["kind"] == "service" for e in finest.edges for n in e[:2])


def test_procnet_ties_client_connections_to_processes(finest: nx.MultiDiGraph) -> None:
    """Clients of ClusterIP calls are processes where procnet saw the socket, else pods; the
    outside client reaching the LoadBalancer's NodePort is recorded with that Service."""
    clients = {
        finest.nodes[u]["kind"]
        for u, _, d in finest.edges(data=True)
        if any(s.startswith("service:") for s in d["services"])
    }
    assert clients == {"pod", "process", "external"}
    outside = [
        d["services"] for u, _, d in finest.edges(data=True) if u == "external:198.51.100.23"
    ]
    assert outside and all(s == ["service:shop/frontend-external"] for s in outside)


@pytest.mark.parametrize(
    ("client", "ip", "port", "names", "zone"),
    [
        (workload("paymentservice"), "54.187.174.169", 443, ["api.stripe.com"], "public"),
        (workload("paymentservice"), "54.187.216.72", 443, ["api.stripe.com"], "public"),
        (ids.host("node-a"), "151.101.2.132", 443, ["deb.debian.org"], "public"),
        (workload("coredns", "kube-system"), "10.0.0.2", 53, [], "private"),
        (workload("recommendationservice"), "185.220.101.47", 4444, [], "public"),
        (workload("adservice"), "169.254.169.254", 80, [], "metadata"),
    ],
)
def test_external_peers_are_named_and_classified(
    by_workload: nx.MultiDiGraph, client: str, ip: str, port: int, names: list[str], zone: str
) -> None:
    peer = ids.external(ip)
    assert by_workload.nodes[peer]["dns_names"] == names
    assert by_workload.nodes[peer]["zone"] == zone
    protocol = "udp" if port == 53 else "tcp"
    assert edge(by_workload, client, peer, protocol)["ports"] == [port]


def test_a_shopper_reaches_frontend_through_the_node_port(
    by_workload: nx.MultiDiGraph, build: ModuleType, demo: Any
) -> None:
    shopper = ids.external(build.SHOPPER_IP)
    data = edge(by_workload, shopper, workload("frontend"), "tcp")
    assert data["ports"] == [8080]
    assert data["connections"] == build.SHOPPER_CONNECTIONS
    assert by_workload.nodes[shopper]["zone"] == "documentation"


def test_the_partial_collector_is_reported(finest: nx.MultiDiGraph) -> None:
    partial = [c for c in finest.graph["coverage"] if c["status"] != "ok"]
    assert partial == [
        {
            "observer": "node-b",
            "collector": "procnet",
            "version": "0.1.0",
            "status": "partial",
            "reason": None,
            "warnings": [],
            "skipped": {"process exited mid-scan": 2},
        }
    ]


def test_snapshot_order_does_not_change_the_graph(
    snapshots: list[Snapshot], finest: nx.MultiDiGraph
) -> None:
    reordered = graph.build_graph(reversed(snapshots))
    assert sorted(reordered.edges(keys=True, data=True)) == sorted(
        finest.edges(keys=True, data=True)
    )


def test_the_boundary_review_finds_exactly_the_planted_problems(
    snapshots: list[Snapshot], build: ModuleType
) -> None:
    """samples/topomap.yaml against the samples: the planted peers and the unpoliced workload,
    nothing the policy file approves (stripe, the Debian mirror, the storefront)."""
    from datetime import date

    from topomap.analysis import analyze, context, policy_file, rules

    policy = policy_file.load_policy_file(
        REPO / "samples" / "topomap.yaml", known_rules=rules.RULE_IDS
    )
    ctx = context.build_context(snapshots, policy)
    found = analyze.analyze(ctx, today=date(2026, 11, 29))
    planted = [e for e in build.EGRESS if e.ip in ("185.220.101.47", "169.254.169.254")]
    edge = {
        e.client: f"{workload(e.client)} -> external:{e.ip} {e.protocol}/{e.port}" for e in planted
    }
    (unpoliced,) = build.UNPOLICED
    active = {(f.rule, f.subject[0]) for f in found if f.active}
    assert active == {
        ("TM-POLICY-BYPASS", edge["recommendationservice"]),
        ("TM-EXT-EGRESS", edge["recommendationservice"]),
        ("TM-POLICY-BYPASS", edge["adservice"]),
        ("TM-METADATA", edge["adservice"]),
        ("TM-UNPROTECTED", workload(unpoliced)),
        # apt's connections that closed before procnet's poll: conntrack alone saw them.
        ("TM-UNATTRIBUTED", ids.host(build.APT_NODE)),
    }
    suppressed = {f.subject[0] for f in found if not f.active}
    assert suppressed and all(s.startswith(workload(unpoliced)) for s in suppressed)

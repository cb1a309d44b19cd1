"""Graph building on constructed snapshots: dedup, NAT, attribution, naming, zones."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta, timezone

import networkx as nx
import pytest

from tests import factories as f
from topomap import graph, model

CART_CID = "a1" * 32
WEB, CART, CART_VIP = "10.244.0.5", "10.244.1.7", "10.96.0.20"


def cluster() -> model.Snapshot:
    return f.snapshot(
        "shop-cluster",
        source="cluster",
        hosts=[
            model.Host(name="node-a", ips=("10.0.1.10",)),
            model.Host(name="node-b", ips=("10.0.1.11",)),
        ],
        pods=[
            f.pod("web-1", WEB, node="node-a", app="web"),
            f.pod(
                "cart-1",
                CART,
                node="node-b",
                app="cart",
                uid="u-cart",
                containers=(model.PodContainer(name="server", container_id=CART_CID),),
            ),
        ],
        services=[f.service("cart", CART_VIP, 7070, 7070)],
    )


def cart_host(*connections: model.Connection) -> model.Snapshot:
    return f.snapshot(
        "node-b",
        processes=[
            model.Process(
                host="node-b", pid=42, start_ticks=1000, comm="cartservice", container_id=CART_CID
            )
        ],
        containers=[
            model.Container(
                id=CART_CID, host="node-b", runtime="containerd", name="server", pod_uid="u-cart"
            )
        ],
        listeners=[f.listener("node-b", 7070, 42, 1000)],
        connections=list(connections),
    )


CART_PROC = "process:node-b/42@1000"


def via_vip(sport: int, **kw: object) -> model.Connection:
    """The client node's conntrack view of web -> cart through the ClusterIP."""
    return f.conn(WEB, sport, CART_VIP, 7070, reply=(CART, 7070, WEB, sport), **kw)  # type: ignore[arg-type]


def direct(sport: int, **kw: object) -> model.Connection:
    """The server node's conntrack view of the same connection (no NAT on that side)."""
    return f.conn(WEB, sport, CART, 7070, reply=(CART, 7070, WEB, sport), **kw)  # type: ignore[arg-type]


def only_edge(g: nx.MultiDiGraph) -> tuple[str, str, str, dict[str, object]]:
    edges = list(g.edges(keys=True, data=True))
    assert len(edges) == 1, edges
    return edges[0]


def test_same_connection_from_both_ends_is_one_edge_counted_once() -> None:
    client_side = f.snapshot(
        "node-a", connections=[via_vip(40000, counters=(10, 1000, 8, 5000), start=1, end=5)]
    )
    server_side = cart_host(direct(40000, counters=(11, 1100, 8, 5200), start=0, end=6))
    g = graph.build_graph([cluster(), client_side, server_side])
    u, v, key, attrs = only_edge(g)
    assert (u, v, key) == ("pod:shop/web-1", CART_PROC, "tcp/7070")
    assert attrs["connections"] == 1
    assert attrs["packets"] == 11 + 8 and attrs["bytes"] == 1100 + 5200  # larger count wins
    assert attrs["first_seen"] == "2026-11-28T10:00:00Z"
    assert attrs["last_seen"] == "2026-11-28T10:00:06Z"
    assert attrs["observed_by"] == ["conntrack@node-a", "conntrack@node-b"]
    assert attrs["services"] == ["service:shop/cart"]


def test_clusterip_nat_resolves_to_backend_pod() -> None:
    g = graph.build_graph([cluster(), f.snapshot("node-a", connections=[via_vip(40000)])])
    u, v, key, attrs = only_edge(g)
    assert (u, v, key) == ("pod:shop/web-1", "pod:shop/cart-1", "tcp/7070")
    assert attrs["services"] == ["service:shop/cart"]
    assert "service:shop/cart" in g  # the service stays on the map, as inventory


def test_clusterip_without_reply_tuple_ends_at_the_service() -> None:
    seen = f.conn(WEB, 40000, CART_VIP, 7070)
    g = graph.build_graph([cluster(), f.snapshot("node-a", connections=[seen])])
    u, v, _, attrs = only_edge(g)
    assert (u, v) == ("pod:shop/web-1", "service:shop/cart")
    assert attrs["services"] == []


def test_socket_view_and_nat_view_merge_whatever_the_order() -> None:
    """The client's socket sees the VIP, the server's sees the backend, conntrack sees both:
    in any order the three are one connection."""
    socket_client = f.conn(WEB, 40000, CART_VIP, 7070, by="procnet")
    client_ct = via_vip(40000, counters=(5, 500, 5, 500))
    server_ct = direct(40000)
    for order in itertools.permutations(
        [("node-a", socket_client), ("node-a", client_ct), ("node-b", server_ct)]
    ):
        snaps = [cluster()] + [f.snapshot(h, connections=[c]) for h, c in order]
        u, v, _, attrs = only_edge(graph.build_graph(snaps))
        assert (u, v) == ("pod:shop/web-1", "pod:shop/cart-1"), order
        assert attrs["connections"] == 1
        assert attrs["packets"] == 10


def test_distinct_connections_add_up_and_times_widen() -> None:
    snaps = [
        cluster(),
        f.snapshot(
            "node-a",
            connections=[
                via_vip(40000, counters=(1, 100, 1, 200), start=3, end=4),
                via_vip(40001, counters=(2, 100, 2, 300), start=1, end=2),
                via_vip(40002, start=7, end=9),  # no counters: counted in connections only
            ],
        ),
    ]
    _, _, _, attrs = only_edge(graph.build_graph(snaps))
    assert attrs["connections"] == 3
    assert attrs["counted"] == 2
    assert attrs["packets"] == 6 and attrs["bytes"] == 700
    assert (attrs["first_seen"], attrs["last_seen"]) == (
        "2026-11-28T10:00:01Z",
        "2026-11-28T10:00:09Z",
    )


def test_same_connection_in_two_consecutive_snapshots_counts_once() -> None:
    first = f.snapshot("node-a", start=0, end=60, connections=[via_vip(40000, start=0, end=60)])
    second = f.snapshot("node-a", start=60, end=120, connections=[via_vip(40000, start=0, end=119)])
    _, _, _, attrs = only_edge(graph.build_graph([cluster(), first, second]))
    assert attrs["connections"] == 1
    assert attrs["last_seen"] == "2026-11-28T10:01:59Z"


def test_process_attribution_both_sides() -> None:
    client = f.conn(
        WEB,
        40000,
        CART_VIP,
        7070,
        by="procnet",
        process=model.ProcessRef(pid=9, start_ticks=5),
        process_side="src",
    )
    web = f.snapshot(
        "node-a",
        connections=[client, via_vip(40000)],
        processes=[model.Process(host="node-a", pid=9, start_ticks=5, comm="frontend")],
    )
    g = graph.build_graph([cluster(), web, cart_host()])
    u, v, _, _ = only_edge(g)
    assert (u, v) == ("process:node-a/9@5", CART_PROC)
    assert g.nodes[CART_PROC]["parent"] == f"container:{CART_CID}"
    assert g.nodes[f"container:{CART_CID}"]["parent"] == "pod:shop/cart-1"
    assert g.nodes["pod:shop/cart-1"]["parent"] == "host:node-b"
    assert g.nodes[CART_PROC]["workload"] == "workload:shop/Deployment/cart"
    assert g.nodes[CART_PROC]["services"] == ["service:shop/cart"]


def test_unknown_initiator_uses_listener_then_port() -> None:
    # A socket seen on the server: local 7070 (listening), remote ephemeral port.
    seen = f.conn(
        CART, 7070, WEB, 40000, initiator="unknown", by="procnet", counters=(4, 40, 6, 60)
    )
    g = graph.build_graph([cluster(), cart_host(seen)])
    u, v, key, attrs = only_edge(g)
    assert (u, v, key) == ("pod:shop/web-1", CART_PROC, "tcp/7070")
    assert attrs["packets"] == 10
    unknown_peer = f.conn("192.168.5.5", 443, "192.168.5.6", 51000, initiator="unknown")
    u, v, key, _ = only_edge(graph.build_graph([f.snapshot(connections=[unknown_peer])]))
    assert (u, v, key) == ("external:192.168.5.6", "external:192.168.5.5", "tcp/443")


def test_initiator_dst_swaps_roles_and_counters() -> None:
    seen = f.conn("10.9.9.9", 8080, "10.9.9.8", 50000, initiator="dst", counters=(1, 10, 2, 20))
    u, v, key, attrs = only_edge(graph.build_graph([f.snapshot(connections=[seen])]))
    assert (u, v, key) == ("external:10.9.9.8", "external:10.9.9.9", "tcp/8080")
    assert attrs["packets"] == 3 and attrs["bytes"] == 30


def test_snat_egress_goes_to_the_external_peer_named_by_dns() -> None:
    out = f.conn(
        WEB, 41000, "54.187.174.169", 443, reply=("54.187.174.169", 443, "10.0.1.10", 61000)
    )
    dns = model.DnsAnswer(
        name="API.Stripe.com.",
        addresses=("54.187.174.169",),
        ttl=30,
        time=f.at(0),
        observed_by="capture",
    )
    g = graph.build_graph([cluster(), f.snapshot("node-a", connections=[out], dns=[dns])])
    u, v, key, attrs = only_edge(g)
    assert (u, v, key) == ("pod:shop/web-1", "external:54.187.174.169", "tcp/443")
    assert attrs["services"] == []  # SNAT is not a service
    peer = g.nodes[v]
    assert (peer["label"], peer["zone"], peer["dns_names"]) == (
        "api.stripe.com",
        "public",
        ["api.stripe.com"],
    )


def test_loopback_stays_on_its_host() -> None:
    a = f.snapshot("node-a", connections=[f.conn("127.0.0.1", 50000, "127.0.0.1", 5432)])
    b = f.snapshot("node-b", connections=[f.conn("127.0.0.1", 50000, "127.0.0.1", 5432)])
    g = graph.build_graph([a, b])
    assert sorted((u, v) for u, v in g.edges()) == [
        ("host:node-a", "host:node-a"),
        ("host:node-b", "host:node-b"),
    ]


def test_loopback_to_a_listening_process() -> None:
    snap = f.snapshot(
        "node-a",
        processes=[model.Process(host="node-a", pid=5, start_ticks=1, comm="postgres")],
        listeners=[f.listener("node-a", 5432, 5, 1, ip="127.0.0.1")],
        connections=[f.conn("127.0.0.1", 50000, "127.0.0.1", 5432)],
    )
    u, v, _, _ = only_edge(graph.build_graph([snap]))
    assert (u, v) == ("host:node-a", "process:node-a/5@1")


def test_host_network_pod_resolves_by_node_ip_and_process_port() -> None:
    cid = "b2" * 32
    snaps = [
        f.snapshot(
            "c",
            source="cluster",
            hosts=[model.Host(name="node-b", ips=("10.0.1.11",))],
            pods=[
                f.pod("web-1", WEB, app="web"),
                f.pod(
                    "exporter-x",
                    "10.0.1.11",
                    node="node-b",
                    app="exporter",
                    host_network=True,
                    uid="u-exp",
                ),
            ],
        ),
        f.snapshot(
            "node-b",
            processes=[
                model.Process(
                    host="node-b", pid=77, start_ticks=3, comm="node_exporter", container_id=cid
                )
            ],
            containers=[
                model.Container(id=cid, host="node-b", runtime="containerd", pod_uid="u-exp")
            ],
            listeners=[f.listener("node-b", 9100, 77, 3, ip="::")],
        ),
        f.snapshot(
            "node-a",
            connections=[
                f.conn(WEB, 40000, "10.0.1.11", 9100),
                f.conn(WEB, 40001, "10.0.1.11", 10250),
            ],
        ),
    ]
    g = graph.build_graph(snaps)
    targets = sorted(v for _, v in g.edges())
    assert targets == ["host:node-b", "process:node-b/77@3"]
    assert g.nodes["process:node-b/77@3"]["pod"] == "pod:shop/exporter-x"


def test_external_zones_refined_by_cluster_cidrs() -> None:
    c = dataclasses.replace(cluster(), cluster=model.ClusterInfo(pod_cidrs=("10.244.0.0/16",)))
    lost = f.conn(WEB, 40000, "10.244.9.9", 80)  # a pod IP no snapshot describes
    meta = f.conn(WEB, 40001, "169.254.169.254", 80)
    g = graph.build_graph([c, f.snapshot("node-a", connections=[lost, meta])])
    assert g.nodes["external:10.244.9.9"]["zone"] == "cluster-pod"
    assert g.nodes["external:169.254.169.254"]["zone"] == "metadata"
    assert "10.244.0.0/16=cluster-pod" in g.graph["scope"]["zones"]


def test_ipv4_mapped_addresses_are_one_node() -> None:
    a = f.conn("::ffff:10.244.0.5", 40000, "::ffff:8.8.8.8", 53, protocol="udp")
    b = f.conn(WEB, 40001, "8.8.8.8", 53, protocol="udp")
    g = graph.build_graph([cluster(), f.snapshot("node-a", connections=[a, b])])
    _, v, key, attrs = only_edge(g)
    assert (v, key, attrs["connections"]) == ("external:8.8.8.8", "udp/53", 2)


def test_icmp_has_no_port() -> None:
    ping = f.conn(WEB, None, "1.1.1.1", None, protocol="icmp")
    _, _, key, attrs = only_edge(graph.build_graph([cluster(), f.snapshot(connections=[ping])]))
    assert key == "icmp" and attrs["port"] is None and attrs["ports"] == []


def test_same_entity_from_several_snapshots_is_one_node_with_merged_attributes() -> None:
    a = f.snapshot("c1", source="cluster", pods=[f.pod("web-1", WEB, app="web")])
    b = f.snapshot(
        "c2",
        source="cluster",
        pods=[
            model.Pod(
                namespace="shop",
                name="web-1",
                uid="u-web",
                ips=(WEB, "fd00::5"),
                labels={"tier": "fe"},
            )
        ],
    )
    g = graph.build_graph([a, b])
    pod = g.nodes["pod:shop/web-1"]
    assert pod["uid"] == "u-web"
    assert pod["ips"] == ["10.244.0.5", "fd00::5"]
    assert pod["labels"] == {"app": "web", "tier": "fe"}
    assert pod["workload"] == "workload:shop/Deployment/web"  # not erased by the second view


def test_snapshot_order_does_not_change_the_graph() -> None:
    snaps = [
        cluster(),
        cart_host(direct(40000, counters=(1, 2, 3, 4))),
        f.snapshot(
            "node-a",
            connections=[
                via_vip(40000),
                via_vip(40009),
                f.conn(WEB, 1, "8.8.4.4", 53, protocol="udp"),
            ],
        ),
    ]
    reference = graph.build_graph(snaps)
    for order in itertools.permutations(snaps):
        g = graph.build_graph(order)
        assert nx.utils.graphs_equal(g, reference)


def test_metadata_records_window_scope_and_coverage() -> None:
    run = model.CollectorRun(
        name="procnet", version="0.1.0", status="unavailable", reason="needs CAP_SYS_PTRACE"
    )
    g = graph.build_graph(
        [
            f.snapshot("node-a", start=0, end=60, collectors=[run]),
            f.snapshot("node-b", start=30, end=90),
        ]
    )
    assert g.graph["window"] == {"start": "2026-11-28T10:00:00Z", "end": "2026-11-28T10:01:30Z"}
    assert g.graph["scope"]["observers"] == ["node-a", "node-b"]
    assert g.graph["coverage"][0]["reason"] == "needs CAP_SYS_PTRACE"


@pytest.mark.parametrize("name", ["source", "target", "key", "id"])
def test_no_attribute_collides_with_node_link_keys(name: str) -> None:
    snaps = [
        cluster(),
        cart_host(direct(40000)),
        f.snapshot("node-a", connections=[via_vip(40000), f.conn(WEB, 4, "1.1.1.1", 443)]),
    ]
    g = graph.build_graph(snaps)
    assert all(name not in attrs for *_, attrs in g.edges(keys=True, data=True))
    assert all(name not in attrs for _, attrs in g.nodes(data=True))


def test_process_in_an_unlisted_container_gets_a_container_node() -> None:
    cid = "d4" * 32
    snap = f.snapshot(
        "node-a",
        processes=[
            model.Process(host="node-a", pid=1, start_ticks=1, comm="init"),
            model.Process(host="node-a", pid=8, start_ticks=2, comm="nginx", container_id=cid),
        ],
    )
    g = graph.build_graph([snap])
    assert g.nodes[f"container:{cid}"]["parent"] == "host:node-a"
    assert g.nodes["process:node-a/8@2"]["parent"] == f"container:{cid}"
    assert g.nodes["process:node-a/1@1"]["parent"] == "host:node-a"


def test_nodeport_external_ip_and_load_balancer_are_recorded_as_the_service() -> None:
    front = model.Service(
        namespace="shop",
        name="front-ext",
        type="LoadBalancer",
        cluster_ips=("10.96.0.80",),
        ports=(model.ServicePort(port=80, target_port=8080, node_port=30080),),
        external_ips=("192.0.2.10",),
        load_balancer_ips=("203.0.113.9", "lb.example.com"),
        selector={"app": "web"},
    )
    c = dataclasses.replace(cluster(), services=(*cluster().services, front))
    reply = (WEB, 8080, "10.0.1.10", 61000)
    seen = [
        f.conn("198.51.100.23", 50000, "10.0.1.10", 30080, reply=reply),
        f.conn("198.51.100.23", 50001, "192.0.2.10", 80, reply=(WEB, 8080, "10.0.1.10", 61001)),
        f.conn("198.51.100.23", 50002, "203.0.113.9", 80, reply=(WEB, 8080, "10.0.1.10", 61002)),
        f.conn("198.51.100.23", 50003, "10.0.1.10", 31999, reply=(WEB, 8080, "10.0.1.10", 61003)),
    ]
    u, v, _, attrs = only_edge(graph.build_graph([c, f.snapshot("node-a", connections=seen)]))
    assert (u, v, attrs["connections"]) == ("external:198.51.100.23", "pod:shop/web-1", 4)
    assert attrs["services"] == ["10.0.1.10:31999", "service:shop/front-ext"]


def test_fast_edge_insertion_matches_networkx() -> None:
    """graph._insert_nodes / _insert_edges write networkx's adjacency directly; they must give
    what add_nodes_from / add_edges_from give, in the same order."""
    nodes = {"a": {"kind": "host"}, "b": {"kind": "pod", "ips": ["10.0.0.1"]}, "c": {}}
    edges = {
        ("a", "b", "tcp/80"): {"x": 1},
        ("a", "b", "tcp/443"): {"x": 2},
        ("b", "a", "udp/53"): {"x": 3},
        ("a", "a", "tcp"): {"x": 4},
        ("c", "d", "tcp/9"): {"x": 5},  # d is no node yet: added on the way
    }
    fast, slow = nx.MultiDiGraph(), nx.MultiDiGraph()
    graph._insert_nodes(fast, {n: dict(d) for n, d in nodes.items()})  # noqa: SLF001
    slow.add_nodes_from((n, dict(d)) for n, d in nodes.items())
    graph._insert_edges(fast, {k: dict(v) for k, v in edges.items()})  # noqa: SLF001
    slow.add_edges_from((u, v, k, dict(d)) for (u, v, k), d in edges.items())
    assert nx.utils.graphs_equal(fast, slow)
    assert list(fast.nodes(data=True)) == list(slow.nodes(data=True))
    assert dict(fast.pred["a"]) == dict(slow.pred["a"])
    assert fast.in_degree("a") == 2 and fast.out_degree("a") == 3
    assert list(fast.edges(keys=True, data=True)) == list(slow.edges(keys=True, data=True))
    assert list(fast.in_edges("d", keys=True)) == [("c", "d", "tcp/9")]
    fast.add_edge("c", "a", key="tcp/1")  # the graph stays an ordinary networkx graph
    assert fast.number_of_edges() == 6 and fast.has_edge("c", "a", key="tcp/1")


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 11, 28, 10, 0, 5, 999999, tzinfo=UTC), "2026-11-28T10:00:05Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59Z"),
        (
            datetime(2026, 11, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-11-28T20:00:00Z",
        ),
        (
            datetime(2026, 11, 28, 23, 59, 59, 500000, tzinfo=timezone(timedelta(hours=-1))),
            "2026-11-29T00:59:59Z",
        ),
    ],
)
def test_format_time_is_utc_whole_seconds_fixed_width(when: datetime, text: str) -> None:
    assert graph.format_time(when) == text

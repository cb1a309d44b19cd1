"""Views: grouping and summing at every level, from one projection function."""

from __future__ import annotations

import networkx as nx
import pytest

from tests import factories as f
from topomap import graph, model, views

CID_CART, CID_SIDECAR, CID_WEB = "c1" * 32, "c2" * 32, "c3" * 32


def shop() -> nx.MultiDiGraph:
    return graph.build_graph(shop_snapshots())


def shop_snapshots() -> list[model.Snapshot]:
    """web-1, web-2 (Deployment web, node-a) call cart-1 (node-b) on 7070 and 9090; cart has
    two containers with one process each; web-2 also calls an external API; a host process
    on node-a calls the kubelet of node-b."""
    cluster = f.snapshot(
        "c",
        source="cluster",
        hosts=[
            model.Host(name="node-a", ips=("10.0.1.10",)),
            model.Host(name="node-b", ips=("10.0.1.11",)),
        ],
        namespaces=[model.Namespace(name="shop"), model.Namespace(name="idle")],
        workloads=[
            model.Workload(namespace="shop", kind="Deployment", name="web"),
            model.Workload(namespace="idle", kind="StatefulSet", name="db"),
        ],
        pods=[
            f.pod(
                "web-1",
                "10.244.0.5",
                app="web",
                uid="u-w1",
                containers=(model.PodContainer(name="web", container_id=CID_WEB),),
            ),
            f.pod("web-2", "10.244.0.6", app="web"),
            f.pod("cart-1", "10.244.1.7", node="node-b", app="cart", uid="u-cart"),
            model.Pod(namespace="shop", name="debug", node="node-a", ips=("10.244.0.99",)),
        ],
        services=[
            f.service("cart", "10.96.0.20", 7070, 7070),
            f.service("web", "10.96.0.30", 80, 8080),
        ],
    )
    node_b = f.snapshot(
        "node-b",
        processes=[
            model.Process(host="node-b", pid=10, start_ticks=1, comm="cart", container_id=CID_CART),
            model.Process(
                host="node-b", pid=11, start_ticks=1, comm="metrics", container_id=CID_SIDECAR
            ),
            model.Process(host="node-b", pid=2, start_ticks=1, comm="kubelet"),
        ],
        containers=[
            model.Container(
                id=CID_CART, host="node-b", runtime="containerd", name="server", pod_uid="u-cart"
            ),
            model.Container(
                id=CID_SIDECAR,
                host="node-b",
                runtime="containerd",
                name="metrics",
                pod_uid="u-cart",
            ),
        ],
        listeners=[
            f.listener("node-b", 7070, 10, 1),
            f.listener("node-b", 9090, 11, 1),
            f.listener("node-b", 10250, 2, 1, ip="10.0.1.11"),
        ],
    )
    node_a = f.snapshot(
        "node-a",
        processes=[model.Process(host="node-a", pid=3, start_ticks=1, comm="prometheus")],
        connections=[
            f.conn(
                "10.244.0.5",
                40000,
                "10.96.0.20",
                7070,
                reply=("10.244.1.7", 7070, "10.244.0.5", 40000),
                counters=(1, 10, 1, 100),
                start=5,
                end=6,
            ),
            f.conn(
                "10.244.0.6",
                40001,
                "10.96.0.20",
                7070,
                reply=("10.244.1.7", 7070, "10.244.0.6", 40001),
                counters=(2, 20, 2, 200),
                start=1,
                end=2,
            ),
            f.conn(
                "10.244.0.6", 40002, "10.244.1.7", 9090, counters=(3, 30, 3, 300), start=3, end=9
            ),
            f.conn("10.244.0.6", 40003, "54.1.2.3", 443, counters=(4, 40, 4, 400)),
            f.conn(
                "10.0.1.10",
                50000,
                "10.0.1.11",
                10250,
                by="procnet",
                process=model.ProcessRef(pid=3, start_ticks=1),
                process_side="src",
            ),
        ],
    )
    return [cluster, node_a, node_b]


def edges(g: nx.MultiDiGraph) -> dict[tuple[str, str, str], dict[str, object]]:
    return {(u, v, k): d for u, v, k, d in g.edges(keys=True, data=True)}


def test_process_view_is_the_finest_graph() -> None:
    g = shop()
    p = views.project(g, "process")
    assert set(p.nodes) == set(g.nodes)
    assert edges(p) == edges(g)
    assert p.graph["view"] == "process" and "groups" not in p.graph


def test_container_view() -> None:
    e = edges(views.project(shop(), "container"))
    assert e[("pod:shop/web-2", f"container:{CID_SIDECAR}", "tcp")]["ports"] == [9090]
    assert e[("host:node-a", "host:node-b", "tcp")]["ports"] == [10250]  # host processes


def test_pod_view_sums_and_keeps_port_sets() -> None:
    e = edges(views.project(shop(), "pod"))
    web2_cart = e[("pod:shop/web-2", "pod:shop/cart-1", "tcp")]
    assert web2_cart["ports"] == [7070, 9090]
    assert web2_cart["port"] is None
    assert web2_cart["connections"] == 2
    assert web2_cart["packets"] == 4 + 6 and web2_cart["bytes"] == 220 + 330
    assert (web2_cart["first_seen"], web2_cart["last_seen"]) == (
        "2026-11-28T10:00:01Z",
        "2026-11-28T10:00:09Z",
    )
    assert web2_cart["services"] == ["service:shop/cart"]
    web1_cart = e[("pod:shop/web-1", "pod:shop/cart-1", "tcp")]
    assert (web1_cart["port"], web1_cart["connections"]) == (7070, 1)


def test_workload_view_merges_replicas_and_keeps_bare_pods() -> None:
    w = views.project(shop(), "workload")
    e = edges(w)
    web_cart = e[("workload:shop/Deployment/web", "workload:shop/Deployment/cart", "tcp")]
    assert web_cart["connections"] == 3
    assert web_cart["ports"] == [7070, 9090]
    assert web_cart["packets"] == 2 + 4 + 6
    assert e[("workload:shop/Deployment/web", "external:54.1.2.3", "tcp")]["ports"] == [443]
    assert "pod:shop/debug" in w  # no owner: stays a pod
    assert "workload:idle/StatefulSet/db" in w  # idle workloads are on the map
    assert w.nodes["workload:idle/StatefulSet/db"]["kind"] == "workload"
    assert not any(
        w.nodes[n]["kind"] in ("pod", "container", "process") for n in w if n != "pod:shop/debug"
    )


def test_service_view_groups_backends_under_their_service() -> None:
    e = edges(views.project(shop(), "service"))
    assert e[("service:shop/web", "service:shop/cart", "tcp")]["connections"] == 3


def test_namespace_view() -> None:
    n = views.project(shop(), "namespace")
    e = edges(n)
    assert e[("namespace:shop", "namespace:shop", "tcp")]["connections"] == 3
    assert e[("namespace:shop", "external:54.1.2.3", "tcp")]["connections"] == 1
    assert "namespace:idle" in n
    assert not any(a["kind"] == "service" for _, a in n.nodes(data=True))


def test_host_view() -> None:
    h = views.project(shop(), "host")
    e = edges(h)
    a_b = e[("host:node-a", "host:node-b", "tcp")]
    assert a_b["ports"] == [7070, 9090, 10250]
    assert a_b["connections"] == 4
    assert e[("host:node-a", "external:54.1.2.3", "tcp")]["connections"] == 1


@pytest.mark.parametrize("view", views.VIEWS)
def test_every_view_conserves_connections_packets_and_bytes(view: str) -> None:
    g = shop()
    v = views.project(g, view)
    for counter in ("connections", "packets", "bytes", "counted"):
        assert sum(d[counter] for *_, d in v.edges(data=True)) == sum(
            d[counter] for *_, d in g.edges(data=True)
        )
    externals = {n for n, a in g.nodes(data=True) if a["kind"] == "external"}
    assert externals <= set(v.nodes)  # external endpoints stay individual


def test_unknown_view() -> None:
    with pytest.raises(ValueError, match="unknown view 'rack'"):
        views.project(shop(), "rack")


def test_host_view_keeps_only_services_that_are_endpoints() -> None:
    assert not any(
        a["kind"] == "service" for _, a in views.project(shop(), "host").nodes(data=True)
    )
    unresolved = f.snapshot("node-a", connections=[f.conn("10.0.1.10", 1, "10.96.0.30", 80)])
    h = views.project(graph.build_graph([*shop_snapshots(), unresolved]), "host")
    services = [n for n, a in h.nodes(data=True) if a["kind"] == "service"]
    assert services == ["service:shop/web"]
    assert h.has_edge("host:node-a", "service:shop/web")


@pytest.mark.parametrize("view", views.VIEWS)
def test_without_edges_the_same_nodes(view: str) -> None:
    unresolved = f.snapshot("node-a", connections=[f.conn("10.0.1.10", 1, "10.96.0.30", 80)])
    g = graph.build_graph([*shop_snapshots(), unresolved])  # a Service endpoint at the host view
    full, bare = views.project(g, view), views.project(g, view, edges=False)
    assert bare.number_of_edges() == 0 and bare.graph == full.graph
    assert dict(bare.nodes(data=True)) == dict(full.nodes(data=True))

"""Kubernetes joins in the graph: EndpointSlice backends, exposures, host ports, reused IPs.

The cluster side is the stand-in cluster's objects through the converter (what live collection
and ``--k8s`` files both give); the host side is built with the test factories.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import networkx as nx

from tests import factories as f
from tests.kubeapi import cluster as c
from topomap import graph, kube, model

FE1 = f"pod:shop/frontend-{c.HASH}-x7k2p"
FE2 = f"pod:shop/frontend-{c.HASH}-q9m4z"
DB = "pod:shop/db-0"
DEBUG = "pod:shop/debug"


def cluster_snapshot(
    objects: list[dict[str, Any]] | None = None, **window: float
) -> model.Snapshot:
    parts = kube.convert(kube.Doc("c.json", 1, o) for o in (objects or c.objects()))
    return f.snapshot(
        "lab",
        source="cluster",
        **window,
        cluster=parts.cluster,
        hosts=parts.hosts,
        namespaces=parts.namespaces,
        pods=parts.pods,
        workloads=parts.workloads,
        services=parts.services,
    )


def edges(g: nx.MultiDiGraph) -> list[tuple[str, str, str, int, list[str]]]:
    return sorted(
        (u, v, k, a["connections"], a["services"]) for u, v, k, a in g.edges(keys=True, data=True)
    )


def test_clusterip_without_reply_joins_the_backends_own_view_of_the_connection() -> None:
    client = f.snapshot("node-a", connections=[f.conn(c.DEBUG, 40000, c.FRONTEND_VIP, 80)])
    backend = f.snapshot(
        "node-b", connections=[f.conn(c.DEBUG, 40000, c.FRONTEND_2, 8080, initiator="unknown")]
    )
    g = graph.build_graph([cluster_snapshot(), client, backend])
    # one connection, at the backend that served it, with the Service recorded on the edge
    assert edges(g) == [(DEBUG, FE2, "tcp/8080", 1, ["service:shop/frontend"])]


def test_clusterip_without_reply_goes_to_the_only_ready_backend() -> None:
    client = f.snapshot("node-a", connections=[f.conn(c.DEBUG, 40000, c.DB_VIP, 5432)])
    g = graph.build_graph([cluster_snapshot(), client])
    assert edges(g) == [(DEBUG, DB, "tcp/5432", 1, ["service:shop/db"])]
    assert g.nodes[DB]["workload"] == "workload:shop/StatefulSet/db"


def test_clusterip_without_reply_and_several_backends_stays_at_the_service() -> None:
    client = f.snapshot("node-a", connections=[f.conn(c.DEBUG, 40000, c.FRONTEND_VIP, 80)])
    g = graph.build_graph([cluster_snapshot(), client])
    assert edges(g) == [(DEBUG, "service:shop/frontend", "tcp/80", 1, [])]


def test_a_not_ready_backend_is_not_taken_for_the_only_one() -> None:
    objects = c.objects()
    fe = next(o for o in objects if o["metadata"]["name"] == "frontend-klmno")
    fe["endpoints"][1]["conditions"]["ready"] = False
    client = f.snapshot("node-a", connections=[f.conn(c.DEBUG, 40000, c.FRONTEND_VIP, 80)])
    g = graph.build_graph([cluster_snapshot(objects), client])
    assert edges(g) == [(DEBUG, FE1, "tcp/8080", 1, ["service:shop/frontend"])]


def test_the_conntrack_reply_tuple_still_decides_when_it_exists() -> None:
    reply = (c.FRONTEND_2, 8080, c.DEBUG, 40000)
    client = f.snapshot(
        "node-a", connections=[f.conn(c.DEBUG, 40000, c.FRONTEND_VIP, 80, reply=reply)]
    )
    g = graph.build_graph([cluster_snapshot(), client])
    assert edges(g) == [(DEBUG, FE2, "tcp/8080", 1, ["service:shop/frontend"])]


def test_exposures_are_recorded_on_the_service_and_resolve_without_nat() -> None:
    outside = "192.0.2.50"
    seen = f.snapshot(
        "edge",
        connections=[
            f.conn(outside, 50000, c.NODE_A, 30080),  # NodePort, no reply tuple
            f.conn(outside, 50001, c.EXTERNAL_IP, 80),  # externalIP
            f.conn(outside, 50002, c.LB_INGRESS, 443),  # load balancer ingress
        ],
    )
    g = graph.build_graph([cluster_snapshot(), seen])
    assert g.nodes["service:shop/frontend"]["exposures"] == [
        "NodePort *:30080/tcp",
        "externalIP 203.0.113.10:80/tcp",
    ]
    assert g.nodes["service:shop/web-lb"]["exposures"] == [
        "LoadBalancer 198.51.100.7:443/tcp",
        "NodePort *:31443/tcp",
    ]
    assert g.nodes["service:shop/db"]["exposures"] == []
    ext = f"external:{outside}"
    assert edges(g) == [
        (ext, "service:shop/frontend", "tcp/30080", 1, []),
        (ext, "service:shop/frontend", "tcp/80", 1, []),
        (ext, "service:shop/web-lb", "tcp/443", 1, []),
    ]


def test_host_network_pods_and_host_ports_resolve_by_node_address_and_port() -> None:
    seen = f.snapshot(
        "node-a",
        connections=[
            f.conn(c.DEBUG, 40000, c.NODE_B, 9100),  # the agent DaemonSet (host network)
            f.conn(c.DEBUG, 40001, c.NODE_B, 10250),  # nothing declared there: the node
        ],
    )
    g = graph.build_graph([cluster_snapshot(), seen])
    assert edges(g) == [
        (DEBUG, "host:node-b", "tcp/10250", 1, []),
        (DEBUG, "pod:kube-system/agent-b", "tcp/9100", 1, []),
    ]
    assert g.nodes["pod:kube-system/agent-b"]["workload"] == "workload:kube-system/DaemonSet/agent"
    assert g.nodes["pod:kube-system/agent-b"]["parent"] == "host:node-b"


def test_container_ids_join_processes_to_pods_and_container_names() -> None:
    cid = c.cid("postgres" + c.DB_0)
    host = f.snapshot(
        "node-b",
        processes=[
            model.Process(host="node-b", pid=9, start_ticks=1, comm="postgres", container_id=cid)
        ],
        listeners=[f.listener("node-b", 5432, 9, 1)],
        connections=[f.conn(c.FRONTEND_2, 41000, c.DB_0, 5432, initiator="unknown")],
    )
    g = graph.build_graph([cluster_snapshot(), host])
    proc = "process:node-b/9@1"
    assert (g.nodes[proc]["pod"], g.nodes[proc]["container"]) == (DB, f"container:{cid}")
    assert g.nodes[f"container:{cid}"]["label"] == "postgres"
    assert edges(g) == [(FE2, proc, "tcp/5432", 1, [])]


def reused_ip_cluster(*, old_ended: bool) -> model.Snapshot:
    """``debug`` (created 10:00) left; ``debug-2`` got its IP at 10:03."""
    objects = c.objects()
    debug = next(o for o in objects if o["metadata"]["name"] == "debug")
    debug["metadata"]["creationTimestamp"] = "2026-11-28T10:00:00Z"
    if old_ended:
        debug["metadata"]["deletionTimestamp"] = "2026-11-28T10:02:00Z"
    new = {
        **debug,
        "metadata": {
            **debug["metadata"],
            "name": "debug-2",
            "uid": "uid-debug-2",
            "creationTimestamp": "2026-11-28T10:03:00Z",
        },
    }
    new["metadata"].pop("deletionTimestamp", None)
    return cluster_snapshot([*objects, new], start=0, end=300)


def test_an_ip_reused_by_a_new_pod_is_told_apart_by_time() -> None:
    host = f.snapshot(
        "node-a",
        end=300,
        connections=[
            f.conn(c.DEBUG, 40000, c.DB_VIP, 5432, start=60, end=70),  # 10:01: the old pod
            f.conn(c.DEBUG, 40001, c.DB_VIP, 5432, start=240, end=250),  # 10:04: the new one
        ],
    )
    g = graph.build_graph([reused_ip_cluster(old_ended=True), host])
    assert edges(g) == [
        (DEBUG, DB, "tcp/5432", 1, ["service:shop/db"]),
        ("pod:shop/debug-2", DB, "tcp/5432", 1, ["service:shop/db"]),
    ]


def test_a_pod_that_left_keeps_its_identity_from_an_earlier_cluster_snapshot() -> None:
    # 10:00 the API listed ``debug``; by 10:04 it was gone and ``debug-2`` had its address.
    early = cluster_snapshot(start=0, end=1)
    late = reused_ip_cluster(old_ended=False)
    late = dataclasses.replace(
        late,
        snapshot_id="late",
        window=model.Window(start=f.at(240), end=f.at(241)),
        pods=tuple(p for p in late.pods if p.name != "debug"),
    )
    host = f.snapshot(
        "node-a",
        end=300,
        connections=[
            f.conn(c.DEBUG, 40000, c.DB_VIP, 5432, start=60, end=70),
            f.conn(c.DEBUG, 40001, c.DB_VIP, 5432, start=240, end=250),
        ],
    )
    g = graph.build_graph([early, late, host])
    sources = sorted(u for u, _ in g.edges())
    assert sources == [DEBUG, "pod:shop/debug-2"]
    assert g.nodes[DEBUG]["workload"] is None  # a bare pod stays a pod

"""The host collectors and the Kubernetes collector against the lab: exact results.

One collection (``collected`` in conftest) of the running lab; each test checks one thing the
issue asks for against what the lab really did.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.lab.conftest import Collected
from tests.lab.netlab import EXTERNAL_IP, METADATA_IP, SERVICE_IP, SHORT_LIVED_PORT, Lab
from topomap import graph, ids, model, snapshot_io, views


@pytest.fixture(scope="module")
def host(collected: Collected) -> model.Snapshot:
    return snapshot_io.load_snapshot(collected.host).snapshot


@pytest.fixture(scope="module")
def built(collected: Collected, host: model.Snapshot) -> object:
    cluster = snapshot_io.load_snapshot(collected.cluster).snapshot
    return graph.build_graph([host, cluster])


def _proc(host: model.Snapshot, pid: int) -> model.Process:
    (found,) = [p for p in host.processes if p.pid == pid]
    return found


def test_coverage_says_what_each_collector_saw(host: model.Snapshot, collected: Collected) -> None:
    runs = {run.name: run for run in host.collectors}
    assert set(runs) == {"procnet", "cgroup", "conntrack"}
    assert all(run.status in ("ok", "partial") for run in runs.values()), runs
    assert runs["procnet"].counts["processes"] == 4  # the four pod processes, nothing else
    assert runs["cgroup"].counts == {"containers": 4}
    assert "conntrack 1.0.0: " in collected.stderr


def test_processes_carry_container_ids_and_the_containers_their_pod_uids(
    lab: Lab, host: model.Snapshot, collected: Collected
) -> None:
    for pod in lab.pods:
        process = _proc(host, collected.pids[pod.name.split("-")[0]])
        assert process.container_id == pod.container_id
        assert process.cmdline[-len(pod.command) :] == pod.command
    assert {(c.id, c.runtime, c.pod_uid) for c in host.containers} == {
        (pod.container_id, "containerd", pod.uid) for pod in lab.pods
    }


def test_listening_sockets_with_their_processes(host: model.Snapshot, collected: Collected) -> None:
    pid = collected.pids
    servers = {
        (li.protocol, li.port, li.process.pid if li.process else None)
        for li in host.listeners
        if li.port < 32768
    }
    assert servers == {
        ("tcp", 8080, pid["frontend"]),
        ("tcp", SHORT_LIVED_PORT, pid["frontend"]),
        ("tcp", 6379, pid["redis"]),
        ("udp", 5353, pid["dns"]),
    }
    # The only other bound socket is the client's unconnected UDP socket (sendto).
    others = [li for li in host.listeners if li.port >= 32768]
    assert [(li.protocol, li.process and li.process.pid) for li in others] == [("udp", pid["cart"])]


def test_service_connection_shows_its_backend_in_the_reply_tuple(
    lab: Lab, host: model.Snapshot
) -> None:
    dnat = [
        c for c in host.connections if c.observed_by == "conntrack" and c.original.dst == SERVICE_IP
    ]
    assert dnat, "no conntrack entry for the ClusterIP"
    frontend = lab.pod("frontend")
    assert {(c.original.dport, c.reply.src, c.reply.sport) for c in dnat if c.reply} == {
        (80, frontend.ip, 8080)
    }


def test_short_lived_connection_is_caught_by_events(
    lab: Lab, host: model.Snapshot, collected: Collected
) -> None:
    seen = [
        c
        for c in host.connections
        if c.observed_by == "conntrack" and c.original.sport == collected.short_lived_port
    ]
    assert [(c.original.dst, c.original.dport) for c in seen] == [
        (lab.pod("frontend").ip, SHORT_LIVED_PORT)
    ]
    (conn,) = seen
    assert conn.packets_orig and conn.packets_reply  # the DESTROY event's final counters
    table = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            lab.node,
            "conntrack",
            "-L",
            "-p",
            "tcp",
            "--orig-port-src",
            str(collected.short_lived_port),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "dport=9090" not in table.stdout  # no dump could have seen it


def test_pod_and_workload_edges(built: object, lab: Lab) -> None:
    g = built
    pod = {p.name.split("-")[0]: ids.pod(p.namespace, p.name) for p in lab.pods}
    edges = {
        (u, v, d["protocol"], tuple(d["ports"]), tuple(d["services"]))
        for u, v, d in views.project(g, "pod").edges(data=True)  # type: ignore[arg-type]
    }
    assert edges == {
        (pod["cart"], pod["frontend"], "tcp", (8080, SHORT_LIVED_PORT), ("service:shop/frontend",)),
        (pod["cart"], pod["redis"], "tcp", (6379,), ()),
        (pod["cart"], pod["dns"], "udp", (5353,), ()),
        (pod["cart"], f"external:{EXTERNAL_IP}", "tcp", (80,), ()),
        (pod["cart"], f"external:{METADATA_IP}", "tcp", (80,), ()),
    }
    workload_edges = {
        (u, v)
        for u, v in views.project(g, "workload").edges()  # type: ignore[arg-type]
    }
    assert ("workload:shop/Deployment/cart", "workload:shop/Deployment/frontend") in workload_edges
    assert ("workload:shop/Deployment/cart", "workload:data/StatefulSet/redis") in workload_edges
    assert ("workload:shop/Deployment/cart", "workload:data/DaemonSet/dns") in workload_edges


def test_process_to_process_edges(
    built: object, host: model.Snapshot, collected: Collected, lab: Lab
) -> None:
    def node(name: str) -> str:
        p = _proc(host, collected.pids[name])
        return ids.process("lab-node", p.pid, p.start_ticks)

    edges = {
        (u, v, k)
        for u, v, k in views.project(built, "process").edges(keys=True)  # type: ignore[arg-type]
    }
    assert (node("cart"), node("redis"), "tcp/6379") in edges  # both ends held by processes
    servers = {(v, k) for _, v, k in edges}
    assert {
        (node("frontend"), "tcp/8080"),
        (node("frontend"), f"tcp/{SHORT_LIVED_PORT}"),
        (node("dns"), "udp/5353"),
    } <= servers
    attrs = views.project(built, "process").nodes[node("frontend")]  # type: ignore[arg-type]
    assert attrs["container"] == ids.container(lab.pod("frontend").container_id)
    assert attrs["pod"] == ids.pod("shop", lab.pod("frontend").name)

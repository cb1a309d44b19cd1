"""Benchmark: joining Kubernetes objects to observed connections, against plain networkx.

What is compared
----------------
*topomap* times the whole join from API objects to graph: ``topomap.kube.convert`` over the
cluster's objects as the API returns them (pods with owner references and container statuses,
ReplicaSets, Deployments, Services, EndpointSlices), then ``topomap.graph.build_graph`` over
that cluster snapshot and the host snapshots: pod by IP, owner chain to the Deployment, Service
ClusterIP undone through the conntrack reply tuple, and, where only the client's socket saw the
ClusterIP, the join to the backend's own view of the connection through the EndpointSlices.
The *baseline* is the floor under all of that: plain networkx inserting the same nodes and
edges with the answers (computed by the generator) already known, as in
``benchmarks/graph_build.py``. The script checks that topomap's edges are exactly the
generator's ground truth (client pod -> backend pod, with the Service on the edge).

Target (from the issue): 10,000 pods, 2,000 services, 20,000 EndpointSlice endpoints and
200,000 connections joined in under 10 s on a 2-core machine, reported with peak memory.

The data
--------
Generated in memory from a seeded RNG: 1,000 Deployments of 10 pods (each with its ReplicaSet)
on 20 nodes, each fronted by two Services (``<app>`` and ``<app>-admin``, both selecting all
10 pods, so 20,000 endpoints in 2,000 EndpointSlices). Connections (one record each, spread over
20 host snapshots): 50% pod -> ClusterIP with the DNAT in the reply tuple, 25% pod -> ClusterIP
seen only by the client's socket plus the backend's socket view of the same connection (two
records, joined into one), 25% pod -> pod direct. Each side runs in a fresh ``spawn`` child that
generates the same data; generation is not timed. Memory is measured as in ``measure.py``.

Usage::

    python benchmarks/k8s_join.py           # full size
    python benchmarks/k8s_join.py --quick   # a tenth
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import in_child, mb, measure, yes  # noqa: E402

import topomap  # noqa: E402
from topomap import graph, kube, model  # noqa: E402

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CREATED = "2026-11-27T09:00:00Z"
NODES = 20


@dataclass(frozen=True)
class Sizes:
    deployments: int
    replicas: int
    connections: int
    seed: int


FULL = Sizes(deployments=1000, replicas=10, connections=200_000, seed=20261201)
QUICK = Sizes(deployments=100, replicas=10, connections=20_000, seed=20261201)


@dataclass
class Generated:
    objects: list[dict[str, Any]]
    hosts: list[model.Snapshot]
    expected: dict[tuple[str, str, str], tuple[int, tuple[str, ...]]]  # edge -> (conns, svcs)
    nodes: list[tuple[str, dict[str, Any]]]
    counts: dict[str, int]


def pod_ip(n: int) -> str:
    return f"10.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"


def vip(n: int) -> str:
    return f"10.96.{n // 256}.{n % 256}"


def generate(sizes: Sizes) -> Generated:
    rng = random.Random(sizes.seed)
    objects: list[dict[str, Any]] = []
    pods: list[tuple[str, str, str, int]] = []  # (pod id, ip, node, deployment index)
    for n in range(NODES):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{n}"},
                "spec": {"podCIDRs": [f"10.{64 + n}.0.0/16"]},
                "status": {"addresses": [{"type": "InternalIP", "address": f"10.0.0.{n + 1}"}]},
            }
        )
    services: list[tuple[str, str, list[str]]] = []  # (service id, vip, backend pod ids)
    for d in range(sizes.deployments):
        app, rs = f"app-{d}", f"app-{d}-5f7c9d8b6"
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": "shop", "labels": {"app": app}},
                "spec": {"selector": {"matchLabels": {"app": app}}},
            }
        )
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs,
                    "namespace": "shop",
                    "ownerReferences": [
                        {"kind": "Deployment", "name": app, "controller": True, "uid": app}
                    ],
                },
            }
        )
        backends: list[dict[str, Any]] = []
        names: list[str] = []
        for r in range(sizes.replicas):
            index = d * sizes.replicas + r
            name, ip, node = f"{rs}-{r:05d}", pod_ip(index), f"node-{rng.randrange(NODES)}"
            pods.append((f"pod:shop/{name}", ip, node, d))
            names.append(f"pod:shop/{name}")
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": "shop",
                        "uid": f"uid-{index}",
                        "creationTimestamp": CREATED,
                        "labels": {"app": app, "pod-template-hash": "5f7c9d8b6"},
                        "ownerReferences": [
                            {"kind": "ReplicaSet", "name": rs, "controller": True, "uid": rs}
                        ],
                    },
                    "spec": {
                        "nodeName": node,
                        "containers": [
                            {
                                "name": "server",
                                "image": f"shop/{app}:1",
                                "ports": [{"name": "http", "containerPort": 8080}],
                            }
                        ],
                    },
                    "status": {
                        "phase": "Running",
                        "podIP": ip,
                        "podIPs": [{"ip": ip}],
                        "containerStatuses": [
                            {"name": "server", "containerID": f"containerd://{index:064x}"}
                        ],
                    },
                }
            )
            backends.append(
                {
                    "addresses": [ip],
                    "conditions": {"ready": True},
                    "nodeName": node,
                    "targetRef": {"kind": "Pod", "name": name, "namespace": "shop"},
                }
            )
        for s, suffix in enumerate(("", "-admin")):
            number = 2 * d + s
            svc = f"{app}{suffix}"
            services.append((f"service:shop/{svc}", vip(number), names))
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": svc, "namespace": "shop"},
                    "spec": {
                        "clusterIP": vip(number),
                        "clusterIPs": [vip(number)],
                        "selector": {"app": app},
                        "ports": [
                            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
                        ],
                    },
                }
            )
            objects.append(
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": f"{svc}-abcde",
                        "namespace": "shop",
                        "labels": {"kubernetes.io/service-name": svc},
                    },
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": backends,
                }
            )
    ip_of = {pid: ip for pid, ip, _, _ in pods}
    node_of = {pid: node for pid, _, node, _ in pods}
    records: dict[str, list[model.Connection]] = {f"node-{n}": [] for n in range(NODES)}
    expected: dict[tuple[str, str, str], list[Any]] = {}
    port = 0
    for i in range(sizes.connections):
        client = pods[rng.randrange(len(pods))][0]
        kind = i % 4
        start = T0 + timedelta(seconds=rng.randrange(900))
        port = 32768 + i % 28000
        cip = ip_of[client]
        if kind == 3:  # pod -> pod direct
            server = pods[rng.randrange(len(pods))][0]
            conn = model.Connection(
                protocol="tcp",
                original=model.FlowTuple(src=cip, sport=port, dst=ip_of[server], dport=8080),
                first_seen=start,
                last_seen=start,
                observed_by="conntrack",
            )
            records[node_of[client]].append(conn)
            services_on_edge: tuple[str, ...] = ()
        else:
            service, address, backends_ = services[rng.randrange(len(services))]
            server = rng.choice(backends_)
            sip = ip_of[server]
            reply = model.FlowTuple(src=sip, sport=8080, dst=cip, dport=port)
            original = model.FlowTuple(src=cip, sport=port, dst=address, dport=80)
            if kind in (0, 1):  # conntrack with the DNAT in the reply tuple
                records[node_of[client]].append(
                    model.Connection(
                        protocol="tcp",
                        original=original,
                        reply=reply,
                        first_seen=start,
                        last_seen=start,
                        observed_by="conntrack",
                    )
                )
            else:  # the client's socket (ClusterIP) and the backend's socket (pod address)
                records[node_of[client]].append(
                    model.Connection(
                        protocol="tcp",
                        original=original,
                        first_seen=start,
                        last_seen=start,
                        observed_by="procnet",
                    )
                )
                records[node_of[server]].append(
                    model.Connection(
                        protocol="tcp",
                        original=model.FlowTuple(src=cip, sport=port, dst=sip, dport=8080),
                        initiator="unknown",
                        first_seen=start,
                        last_seen=start,
                        observed_by="procnet",
                    )
                )
            services_on_edge = (service,)
        edge = expected.setdefault((client, server, "tcp/8080"), [0, set()])
        edge[0] += 1
        edge[1].update(services_on_edge)
    window = model.Window(start=T0, end=T0 + timedelta(minutes=15))
    hosts = [
        model.Snapshot(
            snapshot_id=f"host-{name}",
            source="host",
            observer=name,
            window=window,
            connections=tuple(conns),
        )
        for name, conns in records.items()
    ]
    nodes: list[tuple[str, dict[str, Any]]] = [
        (pid, {"kind": "pod", "label": pid[9:]}) for pid, _, _, _ in pods
    ]
    nodes += [(sid, {"kind": "service", "label": sid[13:]}) for sid, _, _ in services]
    nodes += [(f"host:node-{n}", {"kind": "host", "label": f"node-{n}"}) for n in range(NODES)]
    return Generated(
        objects=objects,
        hosts=hosts,
        expected={k: (v[0], tuple(sorted(v[1]))) for k, v in expected.items()},
        nodes=nodes,
        counts={
            "pods": len(pods),
            "services": len(services),
            "endpoints": sum(len(b) for _, _, b in services),
            "connections": sizes.connections,
            "records": sum(len(c) for c in records.values()),
            "objects": len(objects),
        },
    )


def join(objects: list[dict[str, Any]], hosts: list[model.Snapshot]) -> nx.MultiDiGraph:
    """What is timed: API objects -> cluster snapshot -> the graph with every join made."""
    parts = kube.convert(kube.Doc("api", i, o) for i, o in enumerate(objects))
    cluster = model.Snapshot(
        snapshot_id="cluster",
        source="cluster",
        observer="bench",
        window=hosts[0].window,
        cluster=parts.cluster,
        hosts=tuple(parts.hosts),
        namespaces=tuple(parts.namespaces),
        pods=tuple(parts.pods),
        workloads=tuple(parts.workloads),
        services=tuple(parts.services),
    )
    return graph.build_graph([cluster, *hosts])


def baseline(
    nodes: list[tuple[str, dict[str, Any]]], edges: list[tuple[str, str, str, dict[str, Any]]]
) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for node, attrs in nodes:
        g.add_node(node, **attrs)
    for u, v, key, attrs in edges:
        g.add_edge(u, v, key=key, **attrs)
    return g


def run_topomap(sizes: Sizes) -> dict[str, Any]:
    data = generate(sizes)
    g, stats = measure(join, data.objects, data.hosts)
    got = {
        (u, v, k): (a["connections"], tuple(a["services"]))
        for u, v, k, a in g.edges(keys=True, data=True)
    }
    stats["correct"] = got == data.expected
    stats["edges"] = len(got)
    stats["deployment_of_first_pod"] = g.nodes[data.nodes[0][0]]["workload"]
    stats["counts"] = data.counts
    return stats


def run_baseline(sizes: Sizes) -> dict[str, Any]:
    data = generate(sizes)
    edges = [
        (u, v, k, {"connections": n, "services": list(s)})
        for (u, v, k), (n, s) in data.expected.items()
    ]
    _, stats = measure(baseline, data.nodes, edges)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tenth of the full size")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print(
        f"topomap {topomap.__version__}, networkx {nx.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    top = in_child(run_topomap, sizes)
    base = in_child(run_baseline, sizes)
    c = top["counts"]
    print(
        f"data: {c['objects']:,} API objects: {c['pods']:,} pods, {c['services']:,} services, "
        f"{c['endpoints']:,} EndpointSlice endpoints; {c['connections']:,} connections as "
        f"{c['records']:,} records in {NODES} host snapshots"
    )
    print()
    print(f"{'':40} {'seconds':>8} {'peak RSS':>10} {'increment':>10}")
    print("-" * 71)
    for name, r in (("topomap convert + build_graph", top), ("networkx insertions (floor)", base)):
        print(f"{name:40} {r['seconds']:8.2f} {mb(r['peak_kib']):>10} {mb(r['increment_kib']):>10}")
    print()
    print(f"ratio topomap / floor: {top['seconds'] / base['seconds']:.1f}x")
    print(
        f"edges: {top['edges']:,}, equal to the generator's ground truth: {yes(top['correct'])}; "
        f"first pod's workload: {top['deployment_of_first_pod']}"
    )
    met = top["seconds"] < 10 and top["correct"]
    print(f"target: under 10 s: {yes(met)} ({top['seconds']:.2f} s)")
    return 0 if met or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: building the process view, against plain networkx doing the same insertions.

What is compared
----------------
``topomap.graph.build_graph(snapshots)`` returns the finest graph (the ``process`` view). Besides
inserting nodes and edges into a ``networkx.MultiDiGraph`` it indexes every snapshot, links the
containment ancestry, resolves each connection's endpoints (socket process, listener, pod,
Service ClusterIP, host, external address), undoes DNAT from the reply tuple and merges the same
connection seen from both ends. The *baseline* is the floor under all of that: plain networkx
doing the same insertions with the answers already known. It gets, precomputed before its timer
starts, one ``(node id, attrs)`` per host, service, pod, container and process, and one
``(client id, server id, "tcp/<port>", attrs)`` per connection *record* (a connection seen from
both ends is inserted twice, as the records are), and times only::

    G = nx.MultiDiGraph()
    for node, attrs in nodes: G.add_node(node, **attrs)
    for u, v, key, attrs in edges: G.add_edge(u, v, key=key, **attrs)

The node ids are the ground truth of the generator, so the two graphs must have the same nodes
and edges; the script checks that, which also shows that topomap resolved every endpoint as the
generator intended. Target (from the issue): topomap within 2x of the baseline's time, peak
memory under 4 GB, at 50,000 processes and 500,000 connections.

The data
--------
Generated in memory from a seeded RNG (no files committed), by default 20 host snapshots and one
cluster snapshot. Each host runs 2,500 processes: 90% in pods (one container and ten processes
per pod, one of them listening on 0.0.0.0:8080 in the pod's netns), the rest host processes
(``kubelet`` on 10250, ``node-exporter`` on 9100, ...). Pods (IPs in 10.244.0.0/14) belong to
Deployments of 5 replicas spread over random hosts, each fronted by a ClusterIP Service
(10.96.0.0/12, port 80 -> 8080) and calling 3 other services and 2 public addresses. The 500,000
connection records are, per flow opened by a pod or host of the observing host: 55% pod ->
ClusterIP with the DNAT visible in the reply tuple, 25% pod -> pod direct, 10% pod -> public
address :443, 5% host process -> public address (with its socket process), 5% pod ->
node-exporter on a host IP. 30% of pod-opened records carry the client ``process`` (side
``src``); a fifth of the cross-host flows are also recorded by the server's host (half of those
with the server ``process``, side ``dst``), so the dedup of one connection seen twice is
exercised. Times are whole seconds in a 15-minute window. Each measured side runs in its own
fresh ``spawn`` child which generates the same data from the same seed; generation is not timed.

Time
----
With ``--repeat N`` the two sides take turns, N runs each, and the best wall time of each side
is compared (the target). Each run's CPU time (``time.process_time`` over the call) is reported
too, with the ratio of the best CPU times: on a machine shared with other work, wall time also
counts the waits for a core, which can differ between the two sides' runs; CPU time does not.
Both sides include what they spend in Python's garbage collector (the baseline runs with it
enabled, as a plain networkx program does; ``build_graph`` pauses it, see ``topomap.gcpause``).

Memory
------
In each child, after generation and ``gc.collect()``, the kernel's peak-RSS mark is reset
(``/proc/self/clear_refs`` = 5) and the resident size read; after the measured call,
``getrusage(RUSAGE_SELF).ru_maxrss`` is the *peak RSS* (the snapshots included: what a process
doing this needs) and *increment* is that minus the resident size before the call, i.e. what
the call itself added. The baseline child keeps the snapshots alive too (freeing them would
leave holes in the heap that its graph fills without growing the RSS) on top of its
precomputed inputs, so compare increments, not peaks. Where the mark cannot be reset, the peak
includes generation and the increment is an upper bound (flagged in the output).

Extras (not part of the target): ``views.project(G, "workload")``; graph JSON of the process
view, ``export.dumps_graph_json(views.project(G, "process"))``; writing the snapshots with
``snapshot_io.dump_snapshot`` and loading them back with ``snapshot_io.load_snapshot``.

Usage::

    python benchmarks/graph_build.py              # full size (about 1.5 minutes on 2 cores)
    python benchmarks/graph_build.py --quick      # 2,000 processes, 20,000 connections
    python benchmarks/graph_build.py --hosts 10 --processes 20000 --connections 100000
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
from host_snapshot import host_snapshot
from measure import in_child, mb, measure, yes

import topomap
from topomap import export, graph, ids, model, snapshot_io, views

T0 = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
WINDOW_SECONDS = 900
PROCS_PER_POD = 10
POD_SHARE = 0.9  # of each host's processes; the rest run on the host itself
REPLICAS = 5
NAMESPACES = 10
SERVICE_DEPS = 3
EXTERNAL_DEPS = 2
PUBLIC_POOL = 2000
SERVER_PORT = 8080
SERVICE_PORT = 80
EXPORTER_PORT = 9100
KUBELET_PORT = 10250
HTTPS_PORT = 443
EPHEMERAL_FIRST, EPHEMERAL_LAST = 32768, 60999  # Linux ip_local_port_range
PROCESS_REF_SHARE = 0.3
BOTH_ENDS_SHARE = 0.2
HOST_NETNS = "4026531840"
HOST_COMMS = ("kubelet", "node-exporter", "containerd", "sshd")  # [0], [1] listen

POD_NET = (10 << 24) | (244 << 16)  # 10.244.0.0/14
SERVICE_NET = (10 << 24) | (96 << 16)  # 10.96.0.0/12
HOST_NET = (192 << 24) | (168 << 16)  # 192.168.0.0/16

FULL = {"hosts": 20, "processes": 50_000, "connections": 500_000}
QUICK = {"hosts": 4, "processes": 2_000, "connections": 20_000}
TARGET_RATIO = 2.0
TARGET_PEAK_BYTES = 4 * 1024**3

NodeAttrs = tuple[str, dict[str, Any]]
EdgeInsert = tuple[str, str, str, dict[str, Any]]
Counters = tuple[int, int, int, int]  # packets_orig, bytes_orig, packets_reply, bytes_reply


@dataclass(frozen=True)
class Sizes:
    """What to generate."""

    hosts: int
    processes: int
    connections: int
    seed: int


@dataclass
class Generated:
    """The snapshots, plus the baseline's precomputed insertions when asked for."""

    snapshots: list[model.Snapshot]
    nodes: list[NodeAttrs] = field(default_factory=list)
    edges: list[EdgeInsert] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Proc:
    pid: int
    ticks: int
    node: str  # its topomap node id: the generator's ground truth

    def ref(self) -> model.ProcessRef:
        return model.ProcessRef(pid=self.pid, start_ticks=self.ticks)


@dataclass
class _Pod:
    index: int
    host: int
    workload: int
    namespace: str
    name: str
    uid: str
    ip: str
    container_id: str
    netns: str
    node: str
    procs: list[_Proc] = field(default_factory=list)  # [0] listens on SERVER_PORT


@dataclass
class _Host:
    index: int
    name: str
    ip: str
    node: str
    pods: list[_Pod] = field(default_factory=list)
    procs: list[_Proc] = field(default_factory=list)  # host processes; see HOST_COMMS
    processes: list[model.Process] = field(default_factory=list)
    containers: list[model.Container] = field(default_factory=list)
    listeners: list[model.Listener] = field(default_factory=list)
    connections: list[model.Connection] = field(default_factory=list)
    next_port: dict[str, int] = field(default_factory=dict)

    def ephemeral(self, ip: str) -> int:
        """Next client port of ``ip``: unique per flow, so distinct flows never share a key."""
        port = self.next_port.get(ip, EPHEMERAL_FIRST)
        self.next_port[ip] = EPHEMERAL_FIRST if port >= EPHEMERAL_LAST else port + 1
        return port


@dataclass(frozen=True, slots=True)
class _Flow:
    """One connection as the generator knows it; ``u -> v`` is the edge it must become."""

    client: tuple[str, int]
    dialled: tuple[str, int]  # original.dst: a ClusterIP when the connection was DNATed
    server: tuple[str, int]  # the answering end, reply.src
    first: datetime
    last: datetime
    counters: Counters
    u: str
    v: str


def _ip(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class _Generator:
    """Builds the snapshots (and the baseline's insertions) from one seeded RNG."""

    def __init__(self, sizes: Sizes, baseline: bool) -> None:
        self.sizes = sizes
        self.baseline = baseline
        self.rng = random.Random(sizes.seed)
        self.times = [T0 + timedelta(seconds=s) for s in range(WINDOW_SECONDS + 1)]
        self.nodes: list[NodeAttrs] = []
        self.edges: list[EdgeInsert] = []
        self.records = 0
        self.flows = 0
        n = sizes.hosts
        self.per_host = [sizes.processes // n + (h < sizes.processes % n) for h in range(n)]
        self.hosts = [
            _Host(h, f"node-{h:03d}", _ip(HOST_NET + 10 + h), ids.host(f"node-{h:03d}"))
            for h in range(n)
        ]
        slots = [
            h
            for h in range(n)
            for _ in range(max(1, int(self.per_host[h] * POD_SHARE) // PROCS_PER_POD))
        ]
        self.rng.shuffle(slots)  # replicas of a workload land on random hosts
        rng = self.rng
        self.public = [
            f"{rng.choice((34, 35, 52, 54, 104, 151))}.{rng.randrange(256)}."
            f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(PUBLIC_POOL)
        ]
        n_workloads = -(-len(slots) // REPLICAS)
        self.wl_name = [f"app-{w:04d}" for w in range(n_workloads)]
        self.wl_ns = [f"ns-{w % NAMESPACES:02d}" for w in range(n_workloads)]
        self.wl_ip = [_ip(SERVICE_NET + 1 + w) for w in range(n_workloads)]
        every = range(n_workloads)
        self.wl_deps = [rng.sample(every, min(SERVICE_DEPS, n_workloads)) for _ in every]
        self.wl_ext = [rng.sample(self.public, EXTERNAL_DEPS) for _ in every]
        self.wl_pods: list[list[_Pod]] = [[] for _ in every]
        self.pods: list[_Pod] = []
        for i, h in enumerate(slots):
            w = i // REPLICAS
            namespace, name = self.wl_ns[w], f"{self.wl_name[w]}-{rng.getrandbits(36):09x}"
            pod = _Pod(
                index=i,
                host=h,
                workload=w,
                namespace=namespace,
                name=name,
                uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                ip=_ip(POD_NET + 256 + i),
                container_id=f"{rng.getrandbits(256):064x}",
                netns=str(4026532000 + i),
                node=ids.pod(namespace, name),
            )
            self.pods.append(pod)
            self.wl_pods[w].append(pod)
            self.hosts[h].pods.append(pod)

    def run(self) -> Generated:
        for host in self.hosts:
            self.populate(host)
        if self.baseline:
            for w, name in enumerate(self.wl_name):
                attrs = {"kind": "service", "label": name, "cluster_ips": [self.wl_ip[w]]}
                self.nodes.append((ids.service(self.wl_ns[w], name), attrs))
        while self.records < self.sizes.connections:
            self.flow(self.hosts[self.flows % len(self.hosts)])
            self.flows += 1
        snapshots = [self.cluster_snapshot(), *map(self.host_snapshot_of, self.hosts)]
        counts = {
            "snapshots": len(snapshots),
            "hosts": len(self.hosts),
            "processes": sum(len(h.processes) for h in self.hosts),
            "connections": self.records,
            "flows": self.flows,
            "pods": len(self.pods),
            "services": len(self.wl_name),
            "min_host_connections": min(len(h.connections) for h in self.hosts),
            "max_host_connections": max(len(h.connections) for h in self.hosts),
        }
        return Generated(snapshots, self.nodes, self.edges, counts)

    # --- inventory ---------------------------------------------------------------------------

    def process(
        self, host: _Host, comm: str, ppid: int, container: str | None, netns: str
    ) -> _Proc:
        pid = len(host.processes) + 1
        ticks = self.rng.randrange(100, 10_000_000)
        proc = _Proc(pid, ticks, ids.process(host.name, pid, ticks))
        exe = f"/usr/bin/{comm}" if container is None else f"/app/{comm}"
        host.processes.append(
            model.Process(
                host=host.name,
                pid=pid,
                start_ticks=proc.ticks,
                start_time=self.times[0],
                ppid=ppid,
                comm=comm,
                exe=exe,
                cmdline=(exe, f"--id={pid}"),
                uid=0 if container is None else 1000,
                container_id=container,
                netns=netns,
            )
        )
        if self.baseline:
            attrs = {"kind": "process", "label": f"{comm} ({pid})", "pid": pid, "comm": comm}
            attrs.update(exe=exe, host=host.node, container=container and ids.container(container))
            self.nodes.append((proc.node, attrs))
        return proc

    def listen(self, host: _Host, port: int, proc: _Proc, netns: str) -> None:
        listener = model.Listener(
            host=host.name, protocol="tcp", ip="0.0.0.0", port=port, process=proc.ref(), netns=netns
        )
        host.listeners.append(listener)

    def populate(self, host: _Host) -> None:
        """The host's processes, containers and listeners."""
        if self.baseline:
            self.nodes.append((host.node, {"kind": "host", "label": host.name, "ips": [host.ip]}))
        for j in range(self.per_host[host.index] - len(host.pods) * PROCS_PER_POD):
            comm = HOST_COMMS[j] if j < len(HOST_COMMS) else f"hostd{j}"
            host.procs.append(self.process(host, comm, 1, None, HOST_NETNS))
        self.listen(host, KUBELET_PORT, host.procs[0], HOST_NETNS)
        self.listen(host, EXPORTER_PORT, host.procs[1], HOST_NETNS)
        for pod in host.pods:
            name = self.wl_name[pod.workload]
            image = f"registry.example.com/{name}:1.{pod.workload % 7}"
            host.containers.append(
                model.Container(
                    id=pod.container_id,
                    host=host.name,
                    runtime="containerd",
                    name="app",
                    image=image,
                    pod_uid=pod.uid,
                )
            )
            server = self.process(host, name, 1, pod.container_id, pod.netns)
            pod.procs.append(server)
            for _ in range(PROCS_PER_POD - 1):
                pod.procs.append(
                    self.process(host, "worker", server.pid, pod.container_id, pod.netns)
                )
            self.listen(host, SERVER_PORT, server, pod.netns)
            if self.baseline:
                attrs = {"kind": "pod", "label": pod.name, "ips": [pod.ip], "host": host.node}
                self.nodes.append((pod.node, attrs))
                attrs = {"kind": "container", "image": image, "pod": pod.node, "host": host.node}
                self.nodes.append((ids.container(pod.container_id), attrs))

    # --- connections -------------------------------------------------------------------------

    def record(self, host: _Host, flow: _Flow, proc: _Proc | None, side: model.Side) -> None:
        """One record of ``flow`` as ``host`` observed it (with ``proc`` when its socket was)."""
        (src, sport), (dst, dport), (server, port) = flow.client, flow.dialled, flow.server
        po, bo, pr, br = flow.counters
        host.connections.append(
            model.Connection(
                protocol="tcp",
                original=model.FlowTuple(src=src, sport=sport, dst=dst, dport=dport),
                reply=model.FlowTuple(src=server, sport=port, dst=src, dport=sport),
                state="ESTABLISHED",
                packets_orig=po,
                bytes_orig=bo,
                packets_reply=pr,
                bytes_reply=br,
                first_seen=flow.first,
                last_seen=flow.last,
                observed_by="conntrack",
                process=proc.ref() if proc else None,
                process_side=side if proc else None,
            )
        )
        self.records += 1
        if self.baseline:
            attrs = {"protocol": "tcp", "port": port, "packets": po + pr, "bytes": bo + br}
            attrs.update(first_seen=flow.first, last_seen=flow.last)
            attrs["observed_by"] = f"conntrack@{host.name}"
            self.edges.append((flow.u, flow.v, f"tcp/{port}", attrs))

    def flow(self, host: _Host) -> None:
        """One connection opened from ``host``, recorded once or (server's host too) twice."""
        rng = self.rng
        start = rng.randrange(WINDOW_SECONDS - 60)
        first, last = self.times[start], self.times[start + rng.randrange(60)]
        up, down = rng.randrange(3, 400), rng.randrange(3, 400)
        counters = (up, up * rng.randrange(60, 1400), down, down * rng.randrange(60, 1400))
        kind = rng.random()
        if 0.90 <= kind < 0.95:  # a host process -> a public address, its socket seen
            owner = rng.choice(host.procs)
            peer = (rng.choice(self.public), HTTPS_PORT)
            client = (host.ip, host.ephemeral(host.ip))
            flow = _Flow(
                client, peer, peer, first, last, counters, owner.node, f"external:{peer[0]}"
            )
            self.record(host, flow, owner, "src")
            return
        pod = rng.choice(host.pods)
        client = (pod.ip, host.ephemeral(pod.ip))
        pick = rng.choice(pod.procs)
        proc = pick if rng.random() < PROCESS_REF_SHARE else None
        u = proc.node if proc else pod.node
        if 0.80 <= kind < 0.90:  # pod -> one of its workload's public peers
            peer = (rng.choice(self.wl_ext[pod.workload]), HTTPS_PORT)
            flow = _Flow(client, peer, peer, first, last, counters, u, f"external:{peer[0]}")
            self.record(host, flow, proc, "src")
            return
        if kind >= 0.95:  # pod -> node-exporter on some host's address
            server_host = self.hosts[rng.randrange(len(self.hosts))]
            server, server_proc = (server_host.ip, EXPORTER_PORT), server_host.procs[1]
            dialled = server
        else:  # pod -> a backend of one of its workload's dependencies
            backend = rng.choice(self.wl_pods[rng.choice(self.wl_deps[pod.workload])])
            server_host = self.hosts[backend.host]
            server, server_proc = (backend.ip, SERVER_PORT), backend.procs[0]
            # 55%: via the Service's ClusterIP (DNAT, seen in the reply tuple); 25%: direct
            dialled = (self.wl_ip[backend.workload], SERVICE_PORT) if kind < 0.55 else server
        flow = _Flow(client, dialled, server, first, last, counters, u, server_proc.node)
        self.record(host, flow, proc, "src")
        if (
            server_host is not host
            and self.records < self.sizes.connections
            and rng.random() < BOTH_ENDS_SHARE
        ):  # the server's host recorded it too, after the DNAT; half the time with its socket
            after_nat = _Flow(client, server, server, first, last, counters, u, server_proc.node)
            self.record(server_host, after_nat, server_proc if rng.random() < 0.5 else None, "dst")

    # --- snapshots ---------------------------------------------------------------------------

    def snapshot_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def cluster_snapshot(self) -> model.Snapshot:
        wl = range(len(self.wl_name))
        return model.Snapshot(
            snapshot_id=self.snapshot_id(),
            source="cluster",
            observer="bench-cluster",
            window=model.Window(start=self.times[0], end=self.times[-1]),
            collectors=(
                model.CollectorRun(
                    name="kubernetes",
                    version=topomap.__version__,
                    status="ok",
                    counts={"pods": len(self.pods)},
                ),
            ),
            cluster=model.ClusterInfo(
                name="bench-cluster",
                pod_cidrs=("10.244.0.0/14",),
                service_cidrs=("10.96.0.0/12",),
                node_cidrs=("192.168.0.0/16",),
            ),
            hosts=tuple(
                model.Host(name=h.name, ips=(h.ip,), labels={"topology.kubernetes.io/zone": "a"})
                for h in self.hosts
            ),
            namespaces=tuple(
                model.Namespace(name=ns, labels={"kubernetes.io/metadata.name": ns})
                for ns in sorted(set(self.wl_ns))
            ),
            pods=tuple(map(self.k8s_pod, self.pods)),
            workloads=tuple(
                model.Workload(
                    namespace=self.wl_ns[w],
                    kind="Deployment",
                    name=self.wl_name[w],
                    labels={"app": self.wl_name[w]},
                    selector={"app": self.wl_name[w]},
                )
                for w in wl
            ),
            services=tuple(
                model.Service(
                    namespace=self.wl_ns[w],
                    name=self.wl_name[w],
                    cluster_ips=(self.wl_ip[w],),
                    ports=(model.ServicePort(port=SERVICE_PORT, target_port=SERVER_PORT),),
                    selector={"app": self.wl_name[w]},
                    endpoints=tuple(
                        model.ServiceEndpoint(ip=p.ip, pod=p.name) for p in self.wl_pods[w]
                    ),
                )
                for w in wl
            ),
        )

    def k8s_pod(self, pod: _Pod) -> model.Pod:
        name = self.wl_name[pod.workload]
        return model.Pod(
            namespace=pod.namespace,
            name=pod.name,
            uid=pod.uid,
            node=self.hosts[pod.host].name,
            ips=(pod.ip,),
            labels={"app": name, "pod-template-hash": "5d8f7c9b6"},
            workload=model.ObjectRef(kind="Deployment", name=name),
            containers=(
                model.PodContainer(
                    name="app",
                    container_id=pod.container_id,
                    image=f"registry.example.com/{name}:1.{pod.workload % 7}",
                    ports=(model.ContainerPort(port=SERVER_PORT, name="http"),),
                ),
            ),
            phase="Running",
        )

    def host_snapshot_of(self, host: _Host) -> model.Snapshot:
        dns = tuple(
            model.DnsAnswer(
                name=f"api{j}.vendor{j % 50}.example.com",
                addresses=tuple(self.public[j * 4 : j * 4 + 4]),
                ttl=300,
                time=self.times[0],
                observed_by="dns",
            )
            for j in range(PUBLIC_POOL // 4)
        )
        return host_snapshot(snapshot_id=self.snapshot_id(), host=host, times=self.times, dns=dns)


def generate(sizes: Sizes, *, baseline: bool) -> Generated:
    """Deterministic snapshots for ``sizes`` (and the baseline's insertions if ``baseline``)."""
    return _Generator(sizes, baseline).run()


# --- measurement (runs in spawned children) ---------------------------------------------------


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _times(r: dict[str, Any]) -> str:
    """One run's wall and CPU seconds, for the progress lines."""
    return f"{r['seconds']:.2f} s (CPU {r['cpu_seconds']:.2f} s)"


def _baseline_insert(nodes: list[NodeAttrs], edges: list[EdgeInsert]) -> nx.MultiDiGraph:
    """The plain networkx floor: the same insertions, every answer known in advance."""
    g = nx.MultiDiGraph()
    for node, attrs in nodes:
        g.add_node(node, **attrs)
    for u, v, key, attrs in edges:
        g.add_edge(u, v, key=key, **attrs)
    return g


def _ids(g: nx.MultiDiGraph) -> dict[str, Any]:
    """The node and edge ids of ``g``, sorted, to compare the two graphs."""
    return {"node_ids": sorted(g.nodes), "edge_ids": sorted(g.edges(keys=True))}


def _dump_all(snapshots: list[model.Snapshot], paths: list[Path]) -> None:
    for snap, path in zip(snapshots, paths, strict=True):
        snapshot_io.dump_snapshot(snap, path)


def _load_all(paths: list[Path]) -> list[snapshot_io.LoadedSnapshot]:
    return [snapshot_io.load_snapshot(path) for path in paths]


def _extras(g: nx.MultiDiGraph, result: dict[str, Any]) -> None:
    """Time the projections and the graph JSON export of ``g`` into ``result``."""
    _, result["project_workload_seconds"] = _timed(views.project, g, "workload")
    process_view, result["project_process_seconds"] = _timed(views.project, g, "process")
    blob, result["dumps_graph_json_seconds"] = _timed(export.dumps_graph_json, process_view)
    result["graph_json_bytes"] = len(blob)


def _snapshot_io(data: Generated, result: dict[str, Any]) -> None:
    """Time writing the snapshots to a temporary directory and loading them back."""
    with tempfile.TemporaryDirectory(prefix="topomap-bench-") as tmp:
        paths = [Path(tmp) / f"{i:03d}-{s.observer}.json" for i, s in enumerate(data.snapshots)]
        _, result["dump_snapshots_seconds"] = _timed(_dump_all, data.snapshots, paths)
        result["snapshot_bytes"] = sum(path.stat().st_size for path in paths)
        data.snapshots = []  # only the loaded copy in memory from here on
        gc.collect()
        loaded, result["load_snapshots_seconds"] = _timed(_load_all, paths)
        result["loaded_connections"] = sum(len(x.snapshot.connections) for x in loaded)


def run_topomap(sizes: Sizes, extras: bool, check: bool) -> dict[str, Any]:
    """Child: generate, time ``build_graph``, then (optionally) the extras."""
    data, gen_seconds = _timed(generate, sizes, baseline=False)
    g, stats = measure(graph.build_graph, data.snapshots)
    result: dict[str, Any] = {
        **stats,
        "generate_seconds": gen_seconds,
        "counts": data.counts,
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "connections_on_edges": sum(c for _, _, c in g.edges(data="connections")),
    }
    if check:
        result.update(_ids(g))
    if extras:
        _extras(g, result)
        del g
        _snapshot_io(data, result)
    return result


def run_baseline(sizes: Sizes, check: bool) -> dict[str, Any]:
    """Child: generate with precomputed insertions, time the plain networkx insertions."""
    data, gen_seconds = _timed(generate, sizes, baseline=True)
    nodes, edges = data.nodes, data.edges
    # data.snapshots stay alive although unused: freeing them would leave reusable holes in
    # the heap that the graph fills without growing the RSS, hiding the baseline's increment.
    g, stats = measure(_baseline_insert, nodes, edges)
    result: dict[str, Any] = {
        **stats,
        "generate_seconds": gen_seconds,
        "counts": data.counts,
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "insertions": len(edges),
    }
    if check:
        result.update(_ids(g))
    return result


# --- report ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time topomap.graph.build_graph against plain networkx insertions."
    )
    parser.add_argument("--hosts", type=int, help=f"host snapshots (default {FULL['hosts']})")
    parser.add_argument(
        "--processes", type=int, help=f"processes over all hosts (default {FULL['processes']:,})"
    )
    parser.add_argument(
        "--connections",
        type=int,
        help=f"connection records over all hosts (default {FULL['connections']:,})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small run: {QUICK['hosts']} hosts, {QUICK['processes']:,} "
        f"processes, {QUICK['connections']:,} connections",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each side, each in a fresh process; best time is kept",
    )
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the project / graph JSON / snapshot I/O timings",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="skip comparing the node and edge sets of the two graphs",
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    sizes = Sizes(
        hosts=args.hosts or preset["hosts"],
        processes=args.processes or preset["processes"],
        connections=args.connections or preset["connections"],
        seed=args.seed,
    )
    if sizes.hosts < 1 or sizes.processes < 20 * sizes.hosts or sizes.connections < 1:
        parser.error("need at least 1 host, 20 processes per host and 1 connection")
    check = not args.no_check

    print(
        f"topomap {topomap.__version__}, networkx {nx.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    print(
        f"generating {sizes.hosts} host snapshots + 1 cluster snapshot: "
        f"{sizes.processes:,} processes, {sizes.connections:,} connections (seed {sizes.seed})"
    )
    tops: list[dict[str, Any]] = []
    bases: list[dict[str, Any]] = []
    for run in range(max(1, args.repeat)):
        first = run == 0
        tops.append(in_child(run_topomap, sizes, first and not args.no_extras, first and check))
        print(f"  run {run + 1}: topomap build_graph {_times(tops[-1])}", flush=True)
        bases.append(in_child(run_baseline, sizes, first and check))
        print(f"  run {run + 1}: networkx baseline   {_times(bases[-1])}", flush=True)
    top = min(tops, key=lambda r: r["seconds"])
    base = min(bases, key=lambda r: r["seconds"])
    top_peak = max(r["peak_kib"] for r in tops)
    base_peak = max(r["peak_kib"] for r in bases)
    top_inc = max(r["increment_kib"] for r in tops)
    base_inc = max(r["increment_kib"] for r in bases)
    c = tops[0]["counts"]
    ratio = top["seconds"] / base["seconds"]
    top_cpu = min(r["cpu_seconds"] for r in tops)
    base_cpu = min(r["cpu_seconds"] for r in bases)
    cpu_ratio = top_cpu / base_cpu

    print()
    print(
        f"data: {c['snapshots']} snapshots, {c['hosts']} hosts, {c['processes']:,} processes, "
        f"{c['pods']:,} pods, {c['services']:,} services, {c['connections']:,} connection "
        f"records ({c['flows']:,} connections; {c['min_host_connections']:,}-"
        f"{c['max_host_connections']:,} records per host); generation "
        f"{tops[0]['generate_seconds']:.1f} s (not timed)"
    )
    print()
    header = (
        f"{'':28} {'seconds':>9} {'CPU s':>9} {'peak RSS':>10} {'increment':>10} "
        f"{'nodes':>8} {'edges':>8}"
    )
    print(header)
    print("-" * len(header))
    for label, r, cpu, peak, inc in (
        ("topomap build_graph", top, top_cpu, top_peak, top_inc),
        ("networkx baseline", base, base_cpu, base_peak, base_inc),
    ):
        print(
            f"{label:28} {r['seconds']:>9.2f} {cpu:>9.2f} {mb(peak):>10} {mb(inc):>10} "
            f"{r['nodes']:>8,} {r['edges']:>8,}"
        )
    inc_ratio = f"{top_inc / base_inc:.2f}x" if base_inc > 0 else "-"
    print(
        f"{'ratio topomap / baseline':28} {ratio:>8.2f}x {cpu_ratio:>8.2f}x {'':>10} "
        f"{inc_ratio:>10}"
    )
    if not (top["peak_reset"] and base["peak_reset"]):
        print(
            "(peak RSS mark could not be reset: peaks include generation, increments are "
            "upper bounds)"
        )
    if check:
        same_nodes = tops[0]["node_ids"] == bases[0]["node_ids"]
        same_edges = tops[0]["edge_ids"] == bases[0]["edge_ids"]
        print(
            f"same node set: {yes(same_nodes)}; same edge set: {yes(same_edges)}; "
            f"connections on topomap edges: {tops[0]['connections_on_edges']:,} "
            f"(= distinct connections: {yes(tops[0]['connections_on_edges'] == c['flows'])})"
        )
    print()
    time_ok = ratio <= TARGET_RATIO
    mem_ok = top_peak * 1024 < TARGET_PEAK_BYTES
    print(
        f"target: within {TARGET_RATIO:g}x of the baseline's time: {yes(time_ok)} "
        f"({ratio:.2f}x); peak RSS under 4 GB: {yes(mem_ok)} ({mb(top_peak)})"
    )
    print(
        f"CPU time (best of each side, not waiting for a core): {cpu_ratio:.2f}x the baseline's; "
        f"within {TARGET_RATIO:g}x: {yes(cpu_ratio <= TARGET_RATIO)}"
    )
    t0 = tops[0]
    if "project_workload_seconds" in t0:
        print()
        print("extras (not part of the target):")
        rows = [
            ("views.project(G, 'workload')", t0["project_workload_seconds"], ""),
            ("views.project(G, 'process')", t0["project_process_seconds"], ""),
            (
                "export.dumps_graph_json(process view)",
                t0["dumps_graph_json_seconds"],
                f"{t0['graph_json_bytes'] / 1e6:,.0f} MB",
            ),
            (
                "snapshot_io.dump_snapshot x all",
                t0["dump_snapshots_seconds"],
                f"{t0['snapshot_bytes'] / 1e6:,.0f} MB",
            ),
            (
                "snapshot_io.load_snapshot x all",
                t0["load_snapshots_seconds"],
                f"{t0['loaded_connections']:,} connections",
            ),
        ]
        for label, seconds, note in rows:
            print(f"  {label:40} {seconds:>8.2f} s  {note}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

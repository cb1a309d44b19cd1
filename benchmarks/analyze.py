"""Benchmark: the CC6.6 analysis on a generated cluster, against the graph build.

What is measured
----------------
The work of ``topomap analyze SNAPSHOT... --k8s DIR --policy topomap.yaml`` between reading the
snapshot files and writing the report: ``context.build_context(snapshots, policy,
manifests=[DIR])`` (the graph build, reading and loading the policy manifests, the pods'
peers, every flow's two ends) followed by ``analyze.analyze(ctx, today=...)`` (every rule, the
policy engine's verdict on each flow with a pod end, folding hits into findings, suppressions).
The snapshots are in memory (generated in the child, not timed); the policy file is parsed
before the timer (it is a few hundred lines); the manifests are read inside the timer, because
``build_context`` reads them. Target (issue 7): under 30 s for 10,000 pods, 200,000 observed
connections and 1,000 policies.

The *reference* is ``topomap.graph.build_graph`` on the same snapshots: the plain graph build
every command starts with, the floor under the analysis (which does it too). Both run in their
own fresh ``spawn`` child, and the script prints the ratio analysis / graph build.

Extras (not part of the target): the whole CLI, ``python -m topomap analyze`` on the snapshot
files written to disk with ``--format json``, timed from outside (wall clock of the
subprocess: snapshot loading and the report included); and the checks that the findings of the
CLI run equal those of the in-process run.

The data
--------
Generated from a seeded RNG (nothing committed). By default: 40 nodes (3 of them control
plane, running ``kube-apiserver`` on 6443), 100 namespaces (``kube-system``,
``ingress-nginx``, ``monitoring`` and 97 team namespaces ``<team>-<env>-<n>`` labelled
``team``, ``env`` and sometimes ``pci``), 2,000 workloads with 10,000 pods in all: Deployments
(labels ``app``, ``tier``, ``team``, ``version``, ``pod-template-hash``), StatefulSets (their pods
also carry ``statefulset.kubernetes.io/pod-name``, so every such pod is its own class for the
policy engine), two DaemonSets (``node-exporter`` on the host network, ``log-agent`` with a
``hostPort``), ``coredns``, the ingress controller and ``prometheus``. Containers declare named
ports by tier (``http`` on 8080/8000/3000, ``grpc``, ``postgres``, ``mysql``, ``redis``,
``metrics``). Every serving workload has a ClusterIP Service; a few are NodePort, the ingress
controller is a LoadBalancer; ``default/kubernetes`` and ``kube-system/kube-dns`` exist.

Each workload calls 1-4 serving workloads (70% in its own namespace), 15% of them also 1-3
external vendors by DNS name. The 200,000 connection records, each a distinct connection
(unique ephemeral port), are: pod -> dependency through its ClusterIP (DNAT in the reply tuple)
or straight to a backend pod, DNS to kube-dns, the ingress controller -> frontends, prometheus
scraping ``metrics`` ports and node-exporter, pods -> external vendors on 443 (DNS answers in
the host snapshots) and raw addresses, pods -> 169.254.169.254, pods -> the API server through
``default/kubernetes``, kubelet probes and host -> registry/API server traffic, internet ->
the LoadBalancer and the NodePorts, and a few connections to pod addresses that match no pod.
Records are kept by the conntrack of the client's node, a third with the client process; 15%
of the cross-node pod connections also by the server's node (after the DNAT), so the merge of
one connection seen twice is exercised. Every pod has its main process and listeners in the
host snapshots.

The 1,000 NetworkPolicies are derived from that call graph, as a team would write them, with
drift: per namespace a default-deny ingress (85%), an allow for prometheus on ``metrics`` and
kubelet probes from the node range, an allow from the ingress controller to frontends, and in
30% of the namespaces a default-deny egress with allow-DNS and allow-in-cluster (plus the API
server's node range on 6443). Inside default-deny namespaces, either one ingress policy per
serving workload naming its clients by ``app`` (and namespace for cross-namespace clients) on
the named ports they use, with 4% of clients forgotten, or (where the budget of 1,000 runs
out) allow-same-namespace plus allow-from-the-team's-namespaces. The rest are per-workload
egress lock-downs (in-cluster, DNS, and ``ipBlock`` 0.0.0.0/0 except the private ranges on
443). Also three AdminNetworkPolicies (deny cloud metadata and allow monitoring for ``env:
prod``, pass for ``kube-system``) and a BaselineAdminNetworkPolicy (dev namespaces deny prod).

The policy file allows some vendors by DNS name (``*.`` wildcards, some limited to
namespaces or labels) and CIDR, declares the LoadBalancer and half the NodePorts as entry
points and an office range as internal, lists the API clients allowed, and has one active and
one expired suppression.

Time
----
Each side runs ``--repeat`` times, each time in a fresh child; the report takes the median run
of each side (the lower middle one for an even count). The 2 cores are shared with other
jobs, so besides the wall time each side reports its CPU seconds (``time.process_time``) and
the script prints the load average before and after: a wall time well above the CPU time
means the run waited for a core.

Memory
------
As in ``graph_build.py``: in each child, after generation and ``gc.collect()``, the kernel's
peak-RSS mark is reset and ``ru_maxrss`` read after the call (*peak RSS*, the snapshots in
memory included); *increment* is the peak minus the resident size before the call.

Usage::

    python benchmarks/analyze.py --repeat 3     # median of 3 runs per side (about 3 minutes)
    python benchmarks/analyze.py --quick        # 1,000 pods, 20,000 connections, 100 policies
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import string
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import orjson
import yaml
from host_snapshot import host_snapshot
from measure import in_child, mb, measure, yes

import topomap
from topomap import findings as fnd
from topomap import graph, model, snapshot_io
from topomap.analysis import analyze, context, policy_file, rules

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)
WINDOW_SECONDS = 3600
HOST_NETNS = "4026531840"
EPHEMERAL_FIRST, EPHEMERAL_LAST = 32768, 60999

POD_NET = (10 << 24) | (244 << 16)  # 10.244.0.0/16
SERVICE_NET = (10 << 24) | (96 << 16)  # 10.96.0.0/12
HOST_NET = (192 << 24) | (168 << 16) | (1 << 8)  # 192.168.1.0/24
KUBERNETES_IP, KUBE_DNS_IP = "10.96.0.1", "10.96.0.10"
LB_IP = "34.120.7.10"
OFFICE = "81.2.69.0/24"  # declared internal in the policy file
METADATA_IP = "169.254.169.254"

FULL = {"hosts": 40, "namespaces": 100, "workloads": 2_000, "pods": 10_000}
FULL.update(policies=1_000, connections=200_000)
QUICK = {"hosts": 6, "namespaces": 20, "workloads": 200, "pods": 1_000}
QUICK.update(policies=100, connections=20_000)
TARGET_SECONDS = 30.0
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TEAMS = ("payments", "search", "identity", "catalog", "checkout", "data", "growth", "platform")
ENVS = ("prod", "staging", "dev")
TIERS = ("frontend", "backend", "db", "cache", "worker")
TIER_WEIGHTS = (0.18, 0.37, 0.1, 0.08, 0.27)
SERVING = ("frontend", "backend", "db", "cache")
HTTP_PORTS = (8080, 8080, 8080, 8000, 3000)
SERVICE_PORT = {"http": 80, "grpc": 50051, "postgres": 5432, "mysql": 3306, "redis": 6379}
VENDORS_ALLOWED = 30  # of the generic vendor names, allowed one by one in the policy file
KNOWN_VENDORS = (
    "api.stripe.com",
    "files.stripe.com",
    "s3.eu-west-1.amazonaws.com",
    "sqs.eu-west-1.amazonaws.com",
    "api.github.com",
    "o4504.ingest.sentry.io",
    "hooks.slack.com",
    "api.twilio.com",
)
PUBLIC_FIRST_OCTETS = (3, 13, 18, 34, 35, 44, 52, 54, 104, 140, 151, 185)


@dataclass(frozen=True)
class Sizes:
    """What to generate."""

    hosts: int
    namespaces: int
    workloads: int
    pods: int
    policies: int
    connections: int
    seed: int


@dataclass(eq=False)
class _Ns:
    name: str
    team: str
    env: str
    labels: dict[str, str]
    default_deny: bool = False
    egress_deny: bool = False
    fine: bool = False  # one policy per serving workload (else coarse allows)


@dataclass(eq=False)
class _Wl:
    index: int
    ns: _Ns
    name: str
    kind: str  # Deployment, StatefulSet, DaemonSet
    tier: str
    labels: dict[str, str]
    ports: list[tuple[str, str, int]]  # (name, protocol, containerPort)
    replicas: int
    host_network: bool = False
    host_port: int | None = None
    service_ip: str | None = None
    node_port: int | None = None
    deps: list[tuple[_Wl, str]] = field(default_factory=list)  # (server, port name)
    vendors: list[str] = field(default_factory=list)
    pods: list[_Pod] = field(default_factory=list)

    @property
    def app(self) -> str:
        return self.labels["app"]

    def port(self, name: str) -> tuple[str, int]:
        for n, proto, number in self.ports:
            if n == name:
                return proto, number
        raise KeyError(name)


@dataclass(eq=False)
class _Pod:
    wl: _Wl
    host: _Host
    name: str
    uid: str
    ip: str
    container_id: str
    netns: str
    pid: int
    ticks: int


@dataclass(eq=False)
class _Host:
    index: int
    name: str
    ip: str
    pods: list[_Pod] = field(default_factory=list)
    processes: list[model.Process] = field(default_factory=list)
    containers: list[model.Container] = field(default_factory=list)
    listeners: list[model.Listener] = field(default_factory=list)
    connections: list[model.Connection] = field(default_factory=list)
    kubelet: model.ProcessRef | None = None
    containerd: model.ProcessRef | None = None
    next_port: dict[str, int] = field(default_factory=dict)

    def ephemeral(self, ip: str) -> int:
        port = self.next_port.get(ip, EPHEMERAL_FIRST)
        self.next_port[ip] = EPHEMERAL_FIRST if port >= EPHEMERAL_LAST else port + 1
        return port


@dataclass
class Generated:
    """The snapshots, the manifest documents, the policy file text and counts."""

    snapshots: list[model.Snapshot]
    manifests: dict[str, list[dict[str, Any]]]  # relative file -> documents
    policy_text: str
    counts: dict[str, Any]


def _ip(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _ports(rng: random.Random, tier: str) -> list[tuple[str, str, int]]:
    if tier == "frontend":
        return [("http", "TCP", rng.choice(HTTP_PORTS)), ("metrics", "TCP", 9090)]
    if tier == "backend":
        ports = [("http", "TCP", rng.choice(HTTP_PORTS)), ("metrics", "TCP", 9090)]
        if rng.random() < 0.4:
            ports.insert(1, ("grpc", "TCP", 50051))
        return ports
    if tier == "db":
        if rng.random() < 0.7:
            return [("postgres", "TCP", 5432), ("metrics", "TCP", 9187)]
        return [("mysql", "TCP", 3306), ("metrics", "TCP", 9104)]
    if tier == "cache":
        return [("redis", "TCP", 6379), ("metrics", "TCP", 9121)]
    return [("metrics", "TCP", 9090)]


class _Generator:
    """Everything from one seeded RNG: cluster, traffic, manifests, policy file."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.rng = random.Random(sizes.seed)
        self.times = [T0 + timedelta(seconds=s) for s in range(WINDOW_SECONDS + 1)]
        self.hosts = [_Host(h, f"node-{h:03d}", _ip(HOST_NET + 10 + h)) for h in range(sizes.hosts)]
        self.control_plane = self.hosts[: min(3, len(self.hosts))]
        self.kinds: Counter[str] = Counter()
        self.records = 0
        self.mix: Counter[str] = Counter()
        self.namespaces()
        self.workloads()
        self.vendors()
        self.place_pods()
        self.dependencies()

    # --- cluster ----------------------------------------------------------------------------

    def namespaces(self) -> None:
        rng = self.rng
        system = [
            _Ns("kube-system", "platform", "prod", {}),
            _Ns("ingress-nginx", "platform", "prod", {}),
            _Ns("monitoring", "platform", "prod", {}),
        ]
        self.system = {ns.name: ns for ns in system}
        self.nss: list[_Ns] = list(system)
        seen: Counter[str] = Counter()
        while len(self.nss) < self.sizes.namespaces:
            team, env = rng.choice(TEAMS), rng.choices(ENVS, weights=(0.5, 0.3, 0.2))[0]
            seen[f"{team}-{env}"] += 1
            self.nss.append(_Ns(f"{team}-{env}-{seen[f'{team}-{env}']}", team, env, {}))
        for ns in self.nss:
            ns.labels = {"kubernetes.io/metadata.name": ns.name, "team": ns.team, "env": ns.env}
            if ns.team in ("payments", "checkout") and ns.env == "prod":
                ns.labels["pci"] = "true"
            if ns.name not in self.system:
                ns.default_deny = rng.random() < 0.85
                ns.egress_deny = rng.random() < 0.3
        self.team_nss = [ns for ns in self.nss if ns.name not in self.system]

    def workload(
        self, ns: _Ns, name: str, kind: str, tier: str, ports: list[tuple[str, str, int]], n: int
    ) -> _Wl:
        labels = {"app": name, "tier": tier, "team": ns.team}
        labels["version"] = self.rng.choice(("v1", "v2", "v3"))
        wl = _Wl(len(self.wls), ns, name, kind, tier, labels, ports, n)
        self.wls.append(wl)
        self.kinds[kind] += 1
        return wl

    def workloads(self) -> None:
        rng, sizes = self.rng, self.sizes
        self.wls: list[_Wl] = []
        n_hosts = len(self.hosts)
        kube, ingress, mon = (
            self.system[n] for n in ("kube-system", "ingress-nginx", "monitoring")
        )
        self.coredns = self.workload(
            kube,
            "coredns",
            "Deployment",
            "backend",
            [("dns", "UDP", 53), ("dns-tcp", "TCP", 53)],
            2,
        )
        self.log_agent = self.workload(
            kube, "log-agent", "DaemonSet", "worker", [("forward", "TCP", 24224)], n_hosts
        )
        self.log_agent.host_port = 24224
        self.ingress = self.workload(
            ingress,
            "ingress-nginx-controller",
            "Deployment",
            "frontend",
            [("http", "TCP", 80), ("https", "TCP", 443), ("metrics", "TCP", 10254)],
            3,
        )
        self.prometheus = self.workload(
            mon, "prometheus", "StatefulSet", "backend", [("web", "TCP", 9090)], 2
        )
        self.node_exporter = self.workload(
            mon, "node-exporter", "DaemonSet", "worker", [("metrics", "TCP", 9100)], n_hosts
        )
        self.node_exporter.host_network = True
        fixed = len(self.wls)
        counter: Counter[tuple[str, str]] = Counter()
        plan = []
        for i in range(sizes.workloads - fixed):
            ns = self.team_nss[i % len(self.team_nss)] if i < len(self.team_nss) else None
            ns = ns or rng.choice(self.team_nss)
            tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
            counter[ns.name, tier] += 1
            plan.append((ns, tier, f"{tier}-{counter[ns.name, tier]}"))
        spare = sizes.pods - sum(wl.replicas for wl in self.wls)
        high = max(2, round(2 * spare / max(1, len(plan))) - 1)
        replicas = [rng.randint(1, high) for _ in plan]
        diff = spare - sum(replicas)
        while diff and plan:
            i = rng.randrange(len(plan))
            step = 1 if diff > 0 else -1
            if 1 <= replicas[i] + step <= high + 3:
                replicas[i] += step
                diff -= step
        for (ns, tier, name), n in zip(plan, replicas, strict=True):
            stateful = tier in ("db", "cache") and rng.random() < 0.6 or rng.random() < 0.04
            wl = self.workload(
                ns, name, "StatefulSet" if stateful else "Deployment", tier, _ports(rng, tier), n
            )
            if rng.random() < 0.05:
                wl.labels["track"] = "canary"
        serving = [wl for wl in self.wls if wl.tier in SERVING and wl.ns.name not in self.system]
        for k, wl in enumerate([self.coredns, self.ingress, self.prometheus, *serving]):
            wl.service_ip = _ip(SERVICE_NET + 256 + k) if k else KUBE_DNS_IP
        for wl in rng.sample(serving, max(2, len(serving) // 100)):
            wl.node_port = 30000 + wl.index
        self.serving = serving

    def vendors(self) -> None:
        rng = self.rng
        names = [*KNOWN_VENDORS, *(f"api.vendor{i:03d}.example.net" for i in range(150))]
        self.vendor_ips: dict[str, tuple[str, ...]] = {}
        for name in names:
            self.vendor_ips[name] = tuple(
                f"{rng.choice(PUBLIC_FIRST_OCTETS)}.{rng.randrange(256)}.{rng.randrange(256)}."
                f"{rng.randrange(1, 255)}"
                for _ in range(rng.randint(2, 4))
            )
        self.vendor_names = names
        self.raw_externals = [
            f"{rng.choice(PUBLIC_FIRST_OCTETS)}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)}"
            for _ in range(200)
        ]

    def place_pods(self) -> None:
        rng = self.rng
        self.pods: list[_Pod] = []
        for wl in self.wls:
            template = f"{rng.getrandbits(40):010x}"[:10]
            for k in range(wl.replicas):
                if wl.kind == "DaemonSet":
                    host = self.hosts[k]
                    name = f"{wl.name}-{rng.getrandbits(25):05x}"
                elif wl.kind == "StatefulSet":
                    host = rng.choice(self.hosts)
                    name = f"{wl.name}-{k}"
                else:
                    host = rng.choice(self.hosts)
                    name = f"{wl.name}-{template[:9]}-{rng.getrandbits(25):05x}"
                i = len(self.pods)
                pod = _Pod(
                    wl=wl,
                    host=host,
                    name=name,
                    uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    ip=host.ip if wl.host_network else _ip(POD_NET + 256 + i),
                    container_id=f"{rng.getrandbits(256):064x}",
                    netns=HOST_NETNS if wl.host_network else str(4026532000 + i),
                    pid=0,
                    ticks=rng.randrange(100, 10_000_000),
                )
                wl.pods.append(pod)
                host.pods.append(pod)
                self.pods.append(pod)
            if wl.kind == "Deployment":
                wl.labels["pod-template-hash"] = template

    def dependencies(self) -> None:
        rng = self.rng
        by_ns: dict[str, list[_Wl]] = {}
        for wl in self.serving:
            by_ns.setdefault(wl.ns.name, []).append(wl)
        for wl in self.wls:
            if wl.ns.name in self.system:
                continue
            local = [s for s in by_ns.get(wl.ns.name, []) if s is not wl]
            for _ in range(rng.randint(1, 4)):
                pool = local if local and rng.random() < 0.7 else self.serving
                server = rng.choice(pool)
                if server is wl:
                    continue
                names = [n for n, _, _ in server.ports if n != "metrics"]
                dep = (server, rng.choice(names))
                if dep not in wl.deps:
                    wl.deps.append(dep)
            if rng.random() < 0.15:
                wl.vendors = rng.sample(self.vendor_names, rng.randint(1, 3))

    # --- snapshots --------------------------------------------------------------------------

    def inventory(self) -> None:
        """Processes, containers and listeners of every host."""
        rng = self.rng
        for host in self.hosts:
            comms = ["systemd", "kubelet", "containerd", "sshd", "chronyd"]
            if host in self.control_plane:
                comms.append("kube-apiserver")
            for comm in comms:
                pid = len(host.processes) + 1
                ticks = rng.randrange(100, 1000)
                host.processes.append(
                    model.Process(
                        host=host.name,
                        pid=pid,
                        start_ticks=ticks,
                        start_time=self.times[0],
                        ppid=0 if pid == 1 else 1,
                        comm=comm,
                        exe=f"/usr/bin/{comm}",
                        cmdline=(f"/usr/bin/{comm}",),
                        uid=0,
                        netns=HOST_NETNS,
                    )
                )
                ref = model.ProcessRef(pid=pid, start_ticks=ticks)
                if comm == "kubelet":
                    host.kubelet = ref
                    self.listen(host, "tcp", 10250, ref, HOST_NETNS)
                elif comm == "containerd":
                    host.containerd = ref
                elif comm == "sshd":
                    self.listen(host, "tcp", 22, ref, HOST_NETNS)
                elif comm == "kube-apiserver":
                    self.listen(host, "tcp", 6443, ref, HOST_NETNS)
            for pod in host.pods:
                wl = pod.wl
                host.containers.append(
                    model.Container(
                        id=pod.container_id,
                        host=host.name,
                        runtime="containerd",
                        name=wl.name,
                        image=self.image(wl),
                        pod_uid=pod.uid,
                    )
                )
                pod.pid = len(host.processes) + 1
                host.processes.append(
                    model.Process(
                        host=host.name,
                        pid=pod.pid,
                        start_ticks=pod.ticks,
                        start_time=self.times[0],
                        ppid=3,
                        comm=wl.name[:15],
                        exe=f"/app/{wl.tier}",
                        cmdline=(f"/app/{wl.tier}", f"--name={wl.name}"),
                        uid=1000,
                        container_id=pod.container_id,
                        netns=pod.netns,
                    )
                )
                ref = model.ProcessRef(pid=pod.pid, start_ticks=pod.ticks)
                for _, proto, port in wl.ports:
                    self.listen(host, proto.lower(), port, ref, pod.netns)

    @staticmethod
    def listen(host: _Host, proto: str, port: int, ref: model.ProcessRef, netns: str) -> None:
        host.listeners.append(
            model.Listener(
                host=host.name,
                protocol=proto,  # type: ignore[arg-type]
                ip="0.0.0.0",
                port=port,
                process=ref,
                netns=netns,
            )
        )

    @staticmethod
    def image(wl: _Wl) -> str:
        return f"registry.example.com/{wl.ns.team}/{wl.name}:{wl.labels['version']}"

    def record(
        self,
        host: _Host,
        proto: str,
        client: tuple[str, int],
        dialled: tuple[str, int],
        server: tuple[str, int],
        proc: model.ProcessRef | None = None,
        side: model.Side = "src",
    ) -> None:
        rng = self.rng
        start = rng.randrange(WINDOW_SECONDS - 120)
        up, down = rng.randrange(1, 300), rng.randrange(1, 300)
        (src, sport), (dst, dport), (srv, port) = client, dialled, server
        host.connections.append(
            model.Connection(
                protocol=proto,  # type: ignore[arg-type]
                original=model.FlowTuple(src=src, sport=sport, dst=dst, dport=dport),
                reply=model.FlowTuple(src=srv, sport=port, dst=src, dport=sport),
                state="ESTABLISHED" if proto == "tcp" else None,
                packets_orig=up,
                bytes_orig=up * rng.randrange(60, 1400),
                packets_reply=down,
                bytes_reply=down * rng.randrange(60, 1400),
                first_seen=self.times[start],
                last_seen=self.times[start + rng.randrange(120)],
                observed_by="conntrack",
                process=proc,
                process_side=side if proc else None,
            )
        )
        self.records += 1

    def pod_client(self, pod: _Pod) -> tuple[tuple[str, int], model.ProcessRef | None]:
        port = pod.host.ephemeral(pod.ip)
        proc = model.ProcessRef(pid=pod.pid, start_ticks=pod.ticks)
        return (pod.ip, port), proc if self.rng.random() < 0.33 else None

    def pod_to_pod(self, pod: _Pod, server: _Wl, port_name: str, via_service: bool) -> None:
        """``pod`` calls a backend of ``server``; the server's node records it too, sometimes."""
        rng = self.rng
        backend = rng.choice(server.pods)
        proto, port = server.port(port_name)
        proto = proto.lower()
        client, proc = self.pod_client(pod)
        target = (backend.ip, port)
        dialled = (server.service_ip, SERVICE_PORT.get(port_name, port)) if via_service else target
        self.record(pod.host, proto, client, dialled, target, proc)  # type: ignore[arg-type]
        if (
            backend.host is not pod.host
            and rng.random() < 0.15
            and self.records < self.sizes.connections
        ):
            ref = model.ProcessRef(pid=backend.pid, start_ticks=backend.ticks)
            self.record(
                backend.host,
                proto,
                client,
                target,
                target,
                ref if rng.random() < 0.5 else None,
                "dst",
            )

    def traffic(self) -> None:
        """Connection records until the budget is spent, by the mix in the module docstring."""
        rng = self.rng
        callers = [p for p in self.pods if p.wl.deps]
        vendor_callers = [p for p in self.pods if p.wl.vendors]
        team_pods = [p for p in self.pods if p.wl.ns.name not in self.system]
        frontends = [wl for wl in self.serving if wl.tier == "frontend"]
        scraped = [p for p in team_pods if not p.wl.host_network]
        node_ports = [wl for wl in self.serving if wl.node_port]
        serving = {id(wl) for wl in self.serving}
        probed = [[p for p in h.pods if id(p.wl) in serving] for h in self.hosts]
        cp_ips = [h.ip for h in self.control_plane]
        registry = ("registry-1.docker.io", "europe-docker.pkg.dev")
        self.registry_ips = {
            name: tuple(f"{rng.choice((34, 35))}.{rng.randrange(256)}.9.{k + 1}" for k in range(2))
            for name in registry
        }
        mix = (
            ("pod -> service", 0.55),
            ("pod -> pod", 0.08),
            ("pod -> kube-dns", 0.07),
            ("ingress -> frontend", 0.02),
            ("prometheus -> pod", 0.05),
            ("pod -> vendor", 0.08),
            ("pod -> raw external", 0.01),
            ("pod -> metadata", 0.004),
            ("pod -> apiserver", 0.015),
            ("kubelet -> pod", 0.05),
            ("host -> registry", 0.02),
            ("prometheus -> node-exporter", 0.01),
            ("kubelet -> apiserver", 0.01),
            ("internet -> lb", 0.02),
            ("internet -> nodeport", 0.005),
            ("pod -> stale pod ip", 0.002),
        )
        kinds = [k for k, _ in mix]
        weights = [w for _, w in mix]
        while self.records < self.sizes.connections:
            kind = rng.choices(kinds, weights)[0]
            self.mix[kind] += 1
            if kind in ("pod -> service", "pod -> pod"):
                pod = rng.choice(callers)
                server, port_name = rng.choice(pod.wl.deps)
                self.pod_to_pod(pod, server, port_name, kind == "pod -> service")
            elif kind == "pod -> kube-dns":
                pod = rng.choice(team_pods)
                backend = rng.choice(self.coredns.pods)
                client, proc = self.pod_client(pod)
                self.record(pod.host, "udp", client, (KUBE_DNS_IP, 53), (backend.ip, 53), proc)
            elif kind == "ingress -> frontend" and frontends:
                self.pod_to_pod(rng.choice(self.ingress.pods), rng.choice(frontends), "http", False)
            elif kind == "prometheus -> pod":
                pod = rng.choice(scraped)
                _, port = pod.wl.port("metrics")
                client, proc = self.pod_client(rng.choice(self.prometheus.pods))
                prom_host = self.prometheus.pods[0].host
                self.record(prom_host, "tcp", client, (pod.ip, port), (pod.ip, port), proc)
            elif kind == "pod -> vendor" and vendor_callers:
                pod = rng.choice(vendor_callers)
                ip = rng.choice(self.vendor_ips[rng.choice(pod.wl.vendors)])
                client, proc = self.pod_client(pod)
                self.record(pod.host, "tcp", client, (ip, 443), (ip, 443), proc)
            elif kind == "pod -> raw external":
                pod = rng.choice(team_pods)
                client, proc = self.pod_client(pod)
                if rng.random() < 0.3:
                    self.record(pod.host, "udp", client, ("8.8.8.8", 53), ("8.8.8.8", 53), proc)
                else:
                    ip = rng.choice(self.raw_externals)
                    self.record(pod.host, "tcp", client, (ip, 443), (ip, 443), proc)
            elif kind == "pod -> metadata":
                pod = rng.choice(team_pods[: max(1, len(team_pods) // 20)])  # a few culprits
                client, proc = self.pod_client(pod)
                target = (METADATA_IP, 80)
                self.record(pod.host, "tcp", client, target, target, proc)
            elif kind == "pod -> apiserver":
                pod = rng.choice([*team_pods[::50], *self.prometheus.pods, *self.coredns.pods])
                client, proc = self.pod_client(pod)
                self.record(
                    pod.host, "tcp", client, (KUBERNETES_IP, 443), (rng.choice(cp_ips), 6443), proc
                )
            elif kind == "kubelet -> pod":
                host = rng.choice(self.hosts)
                pods = probed[host.index]
                if not pods:
                    continue
                pod = rng.choice(pods)
                name = "http" if any(n == "http" for n, _, _ in pod.wl.ports) else "metrics"
                _, port = pod.wl.port(name)
                client = (host.ip, host.ephemeral(host.ip))
                proc = host.kubelet if rng.random() < 0.5 else None
                self.record(host, "tcp", client, (pod.ip, port), (pod.ip, port), proc)
            elif kind == "host -> registry":
                host = rng.choice(self.hosts)
                ip = rng.choice(self.registry_ips[rng.choice(registry)])
                client = (host.ip, host.ephemeral(host.ip))
                proc = host.containerd if rng.random() < 0.5 else None
                self.record(host, "tcp", client, (ip, 443), (ip, 443), proc)
            elif kind == "prometheus -> node-exporter":
                target = (rng.choice(self.hosts).ip, 9100)
                client, proc = self.pod_client(rng.choice(self.prometheus.pods))
                prom_host = self.prometheus.pods[0].host
                self.record(prom_host, "tcp", client, target, target, proc)
            elif kind == "kubelet -> apiserver":
                host = rng.choice(self.hosts)
                client = (host.ip, host.ephemeral(host.ip))
                target = (rng.choice(cp_ips), 6443)
                proc = host.kubelet if rng.random() < 0.7 else None
                self.record(host, "tcp", client, target, target, proc)
            elif kind == "internet -> lb":
                backend = rng.choice(self.ingress.pods)
                src = self.internet_address()
                port = rng.choice((443, 443, 443, 80))
                self.record(backend.host, "tcp", src, (LB_IP, port), (backend.ip, port))
            elif kind == "internet -> nodeport" and node_ports:
                wl = rng.choice(node_ports)
                backend = rng.choice(wl.pods)
                name = next(n for n, _, _ in wl.ports if n != "metrics")
                proto, port = wl.port(name)
                host = rng.choice(self.hosts)
                src = self.internet_address()
                self.record(
                    host, proto.lower(), src, (host.ip, wl.node_port or 0), (backend.ip, port)
                )
            elif kind == "pod -> stale pod ip":
                pod = rng.choice(team_pods)
                ip = _ip(POD_NET + 256 + len(self.pods) + rng.randrange(50))  # no pod there
                client, proc = self.pod_client(pod)
                self.record(pod.host, "tcp", client, (ip, 8080), (ip, 8080), proc)

    def internet_address(self) -> tuple[str, int]:
        rng = self.rng
        if rng.random() < 0.2:  # the office: declared internal in the policy file
            ip = f"81.2.69.{rng.randrange(1, 255)}"
        else:
            ip = f"{rng.choice((77, 89, 92, 176, 188))}.{rng.randrange(256)}.{rng.randrange(256)}."
            ip += str(rng.randrange(1, 255))
        return ip, rng.randrange(EPHEMERAL_FIRST, 65535)

    def cluster_snapshot(self) -> model.Snapshot:
        return model.Snapshot(
            snapshot_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
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
                name="bench",
                pod_cidrs=("10.244.0.0/16",),
                service_cidrs=("10.96.0.0/12",),
                node_cidrs=("192.168.1.0/24",),
            ),
            hosts=tuple(model.Host(name=h.name, ips=(h.ip,)) for h in self.hosts),
            namespaces=tuple(
                model.Namespace(name=ns.name, labels=dict(ns.labels)) for ns in self.nss
            ),
            pods=tuple(map(self.k8s_pod, self.pods)),
            workloads=tuple(
                model.Workload(
                    namespace=wl.ns.name,
                    kind=wl.kind,  # type: ignore[arg-type]
                    name=wl.name,
                    labels=dict(wl.labels),
                    selector={"app": wl.app},
                )
                for wl in self.wls
            ),
            services=tuple(self.services()),
        )

    def services(self) -> list[model.Service]:
        out = [
            model.Service(
                namespace="default",
                name="kubernetes",
                cluster_ips=(KUBERNETES_IP,),
                ports=(model.ServicePort(port=443, name="https", target_port=6443),),
                endpoints=tuple(
                    model.ServiceEndpoint(
                        ip=h.ip, node=h.name, ports=(model.EndpointPort(port=6443, name="https"),)
                    )
                    for h in self.control_plane
                ),
            )
        ]
        for wl in [self.coredns, self.ingress, self.prometheus, *self.serving]:
            ports = [
                model.ServicePort(
                    port=SERVICE_PORT.get(name, port),
                    protocol=proto.lower(),  # type: ignore[arg-type]
                    name=name,
                    target_port=name,
                    node_port=wl.node_port if wl.node_port and name != "metrics" else None,
                )
                for name, proto, port in wl.ports
            ]
            slice_ports = tuple(
                model.EndpointPort(port=port, protocol=proto.lower(), name=name)  # type: ignore[arg-type]
                for name, proto, port in wl.ports
            )
            kind = "NodePort" if wl.node_port else "ClusterIP"
            if wl is self.ingress:
                kind = "LoadBalancer"
            out.append(
                model.Service(
                    namespace=wl.ns.name,
                    name="kube-dns" if wl is self.coredns else wl.name,
                    type=kind,  # type: ignore[arg-type]
                    cluster_ips=(wl.service_ip or "",),
                    ports=tuple(ports),
                    selector={"app": wl.app},
                    load_balancer_ips=(LB_IP,) if wl is self.ingress else (),
                    endpoints=tuple(
                        model.ServiceEndpoint(
                            ip=p.ip, pod=p.name, node=p.host.name, ports=slice_ports
                        )
                        for p in wl.pods
                    ),
                )
            )
        return out

    def k8s_pod(self, pod: _Pod) -> model.Pod:
        wl = pod.wl
        labels = dict(wl.labels)
        if wl.kind == "StatefulSet":
            labels["statefulset.kubernetes.io/pod-name"] = pod.name
            labels["controller-revision-hash"] = f"{wl.name}-5d8f7c9b6"
        elif wl.kind == "DaemonSet":
            labels["controller-revision-hash"] = "6b7f9d5c48"
        return model.Pod(
            namespace=wl.ns.name,
            name=pod.name,
            uid=pod.uid,
            node=pod.host.name,
            ips=(pod.ip,),
            host_network=wl.host_network,
            labels=labels,
            workload=model.ObjectRef(kind=wl.kind, name=wl.name),
            containers=(
                model.PodContainer(
                    name=wl.name,
                    container_id=pod.container_id,
                    image=self.image(wl),
                    ports=tuple(
                        model.ContainerPort(
                            port=port,
                            protocol=proto.lower(),  # type: ignore[arg-type]
                            name=name,
                            host_port=wl.host_port if name == "forward" else None,
                        )
                        for name, proto, port in wl.ports
                    ),
                ),
            ),
            phase="Running",
            created=self.times[0] - timedelta(days=3),
        )

    def host_snapshot_of(self, host: _Host) -> model.Snapshot:
        answers = [
            *((name, ips) for name, ips in self.vendor_ips.items()),
            *((name, ips) for name, ips in self.registry_ips.items()),
        ]
        dns = tuple(
            model.DnsAnswer(
                name=name, addresses=ips, ttl=300, time=self.times[0], observed_by="dns"
            )
            for name, ips in answers
        )
        snapshot_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return host_snapshot(snapshot_id=snapshot_id, host=host, times=self.times, dns=dns)

    # --- manifests and policy file ------------------------------------------------------------

    def manifests(self) -> dict[str, list[dict[str, Any]]]:
        files: dict[str, list[dict[str, Any]]] = {}
        for ns in self.nss:
            files[f"{ns.name}/namespace.yaml"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns.name, "labels": dict(ns.labels)},
                }
            ]
        for pol in _Policies(self).build():
            files.setdefault(f"{pol['metadata']['namespace']}/netpols.yaml", []).append(pol)
        files["cluster/admin-policies.yaml"] = list(yaml.load_all(ADMIN_POLICIES, Loader=_LOADER))
        return files

    def policy_text(self) -> str:
        return _policy_file(self)

    def run(self) -> Generated:
        self.inventory()
        self.traffic()
        snapshots = [self.cluster_snapshot(), *map(self.host_snapshot_of, self.hosts)]
        manifests = self.manifests()
        counts: dict[str, Any] = {
            "hosts": len(self.hosts),
            "namespaces": len(self.nss),
            "workloads": len(self.wls),
            "workload_kinds": dict(sorted(self.kinds.items())),
            "pods": len(self.pods),
            "services": len(self.serving) + 4,
            "processes": sum(len(h.processes) for h in self.hosts),
            "connections": self.records,
            "mix": dict(self.mix.most_common()),
            "network_policies": sum(
                1 for docs in manifests.values() for d in docs if d["kind"] == "NetworkPolicy"
            ),
            "admin_policies": sum(
                1 for docs in manifests.values() for d in docs if "AdminNetworkPolicy" in d["kind"]
            ),
        }
        return Generated(snapshots, manifests, self.policy_text(), counts)


# --- policies --------------------------------------------------------------------------------

#: Policy specs as a team writes them, filled in with ``string.Template`` (``$ns``, ``$team``).
SPECS = {
    "default-deny-ingress": "{podSelector: {}, policyTypes: [Ingress]}",
    "allow-monitoring-and-probes": """
        podSelector: {}
        policyTypes: [Ingress]
        ingress:
          - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}},
                    podSelector: {matchLabels: {app: prometheus}}}]
            ports: [{port: metrics}]
          - from: [{ipBlock: {cidr: 192.168.1.0/24}}]   # kubelet probes from the nodes
        """,
    "allow-from-ingress-controller": """
        podSelector: {matchLabels: {tier: frontend}}
        ingress:
          - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
            ports: [{port: http}]
        """,
    "default-deny-egress": "{podSelector: {}, policyTypes: [Egress]}",
    "allow-dns": """
        podSelector: {}
        policyTypes: [Egress]
        egress:
          - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}},
                  podSelector: {matchLabels: {app: coredns}}}]
            ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
        """,
    "allow-egress-in-cluster": """
        podSelector: {}
        policyTypes: [Egress]
        egress:
          - to: [{namespaceSelector: {}}]
          - to: [{ipBlock: {cidr: 192.168.1.0/24}}]   # the API server on the control plane
            ports: [{port: 6443}]
        """,
    "allow-same-namespace": "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}",
    "allow-from-team": """
        podSelector:
          matchExpressions: [{key: tier, operator: In, values: [frontend, backend, db, cache]}]
        ingress:
          - from: [{namespaceSelector: {matchLabels: {team: $team}}}]
            ports: [{port: http}, {port: grpc}, {port: postgres}, {port: redis}]
        """,
    "egress": """
        podSelector: {matchLabels: {app: $app}}
        policyTypes: [Egress]
        egress:
          - to: [{namespaceSelector: {}}]
          - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}},
                  podSelector: {matchLabels: {app: coredns}}}]
            ports: [{port: 53, protocol: UDP}]
          - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}]
            ports: [{port: 443}]
          - to: [{ipBlock: {cidr: 192.168.1.0/24}}]
            ports: [{port: 6443}]
        """,
}

ADMIN_POLICIES = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-cloud-metadata}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {env: prod}}}
  egress:
    - {name: no-imds, action: Deny, to: [{networks: [169.254.169.254/32]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-monitoring}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
    - name: prometheus
      action: Allow
      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
      ports: [{namedPort: metrics}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-kube-system}
spec:
  priority: 20
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}
  ingress:
    - {name: to-namespace-policies, action: Pass, from: [{namespaces: {}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {env: dev}}}
  ingress:
    - {name: not-from-prod, action: Deny, from: [{namespaces: {matchLabels: {env: prod}}}]}
"""


def _np(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _from_spec(ns: str, name: str, spec: str | None = None, **values: str) -> dict[str, Any]:
    """A NetworkPolicy named ``name`` from ``SPECS[spec or name]`` (a fresh object each time,
    so the YAML dumper writes no anchors)."""
    text = string.Template(textwrap.dedent(SPECS[spec or name])).substitute(values)
    return _np(ns, name, yaml.load(text, Loader=_LOADER))


class _Policies:
    """The NetworkPolicies a team would write for the generated call graph (with drift)."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.rng = random.Random(gen.sizes.seed + 1)
        self.total = gen.sizes.policies
        self.clients: dict[int, dict[tuple[str, str], set[str]]] = {}
        for wl in gen.wls:
            for server, port in wl.deps:
                key = (wl.ns.name, wl.app)
                self.clients.setdefault(server.index, {}).setdefault(key, set()).add(port)
        self.frontends = {wl.ns.name for wl in gen.serving if wl.tier == "frontend"}

    def base(self, ns: _Ns) -> list[dict[str, Any]]:
        names = []
        if ns.default_deny:
            names += ["default-deny-ingress", "allow-monitoring-and-probes"]
            if ns.name in self.frontends:
                names.append("allow-from-ingress-controller")
        if ns.egress_deny:
            names += ["default-deny-egress", "allow-dns", "allow-egress-in-cluster"]
        return [_from_spec(ns.name, name) for name in names]

    def fine(self, ns: _Ns) -> list[dict[str, Any]]:
        """One ingress policy per serving workload, naming its clients (4% forgotten)."""
        out = []
        for wl in self.gen.serving:
            if wl.ns is not ns or wl.index not in self.clients:
                continue
            peers: list[dict[str, Any]] = []
            ports: set[str] = set()
            for (client_ns, app), names in sorted(self.clients[wl.index].items()):
                if self.rng.random() < 0.04:
                    continue  # drift: this client was added after the policy was written
                ports |= names
                peer: dict[str, Any] = {"podSelector": {"matchLabels": {"app": app}}}
                if client_ns != ns.name:
                    peer["namespaceSelector"] = {
                        "matchLabels": {"kubernetes.io/metadata.name": client_ns}
                    }
                peers.append(peer)
            if not peers:
                continue
            rule = {"from": peers, "ports": [{"port": p} for p in sorted(ports)]}
            spec = {"podSelector": {"matchLabels": {"app": wl.app}}, "ingress": [rule]}
            out.append(_np(ns.name, f"{wl.app}-allow-clients", spec))
        return out

    @staticmethod
    def coarse(ns: _Ns) -> list[dict[str, Any]]:
        return [
            _from_spec(ns.name, "allow-same-namespace"),
            _from_spec(ns.name, "allow-from-team", team=ns.team),
        ]

    def build(self) -> list[dict[str, Any]]:
        gen, rng = self.gen, self.rng
        base = [p for ns in gen.team_nss for p in self.base(ns)]
        denying = [ns for ns in gen.team_nss if ns.default_deny]
        fine = {ns.name: self.fine(ns) for ns in denying}
        used = len(base) + 2 * len(denying)
        for ns in rng.sample(denying, len(denying)):
            extra = len(fine[ns.name]) - 2
            if used + extra <= self.total:
                ns.fine, used = True, used + extra
        out = list(base)
        for ns in denying:
            out.extend(fine[ns.name] if ns.fine else self.coarse(ns))
        callers = [wl for wl in gen.wls if wl.vendors]
        callers.sort(key=lambda wl: (not wl.ns.egress_deny, wl.index))
        others = [wl for wl in gen.wls if not wl.vendors and wl.ns.name not in gen.system]
        for wl in [*callers, *rng.sample(others, len(others))]:
            if len(out) >= self.total:
                break
            out.append(_from_spec(wl.ns.name, f"{wl.app}-egress", "egress", app=wl.app))
        return out[: self.total]


POLICY_FILE = """\
version: 1
boundary:
  internal: ["$office"]
allowed_egress:
  - {id: stripe, to: ["*.stripe.com"], ports: [443], owner: payments, reason: card payments,
     source: {namespaces: ["payments-*", "checkout-*"]}}
  - {id: aws, to: ["*.amazonaws.com"], ports: [443], owner: platform, reason: storage and queues}
  - {id: github, to: [api.github.com, 140.82.112.0/20], ports: [443], owner: platform,
     reason: deployments}
  - {id: sentry, to: ["*.ingest.sentry.io"], owner: platform, reason: error reports}
  - {id: slack, to: [hooks.slack.com], ports: [443], source: {labels: {tier: worker}},
     owner: growth, reason: notifications}
  - {id: registries, to: [registry-1.docker.io, "*.pkg.dev"], ports: [443], owner: platform,
     reason: image pulls}
  - {id: public-dns, to: [8.8.8.8/32], protocol: udp, ports: [53], source: {namespaces: [data-*]},
     owner: data, reason: resolver of the batch jobs}
$vendors
entry_points:
  - {id: web, service: ingress-nginx/ingress-nginx-controller, ports: [80, 443], owner: platform,
     reason: public web traffic}
$node_ports
apiserver_clients: ["kube-system/*", "monitoring/*", "platform-*/*"]
suppressions:
  - rule: TM-UNCOVERED
    subject: "workload:monitoring/StatefulSet/prometheus -> *"
    reason: scrapes into namespaces without policies, reviewed quarterly
    approved_by: ciso
    expires: 2027-06-30
  - rule: TM-EXT-EGRESS
    subject: "workload:data-*"
    reason: data exports during the migration
    approved_by: ciso
    expires: 2026-10-31
severity:
  TM-UNATTRIBUTED: info
"""


def _policy_file(gen: _Generator) -> str:
    """The policy file: fixed entries, some vendors allowed one by one, half the NodePorts."""
    allowed = gen.vendor_names[len(KNOWN_VENDORS) : len(KNOWN_VENDORS) + VENDORS_ALLOWED]
    vendors = [
        f"  - {{id: {n.split('.')[1]}, to: [{n}], ports: [443], owner: procurement, "
        "reason: contracted vendor}"
        for n in allowed
    ]
    node_ports = [
        f"  - {{id: nodeport-{wl.ns.name}-{wl.name}, service: {wl.ns.name}/{wl.name}, "
        "owner: platform, reason: partner access}"
        for wl in gen.serving
        if wl.node_port
    ][::2]
    return string.Template(POLICY_FILE).substitute(
        office=OFFICE, vendors="\n".join(vendors), node_ports="\n".join(node_ports)
    )


def generate(sizes: Sizes) -> Generated:
    """Deterministic snapshots, manifests and policy file for ``sizes``."""
    return _Generator(sizes).run()


def write_inputs(data: Generated, root: Path) -> tuple[Path, Path]:
    """The manifests under ``root/manifests`` and ``root/topomap.yaml``."""
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    manifests = root / "manifests"
    for rel, docs in sorted(data.manifests.items()):
        path = manifests / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.dump_all(docs, Dumper=dumper, sort_keys=False))
    policy = root / "topomap.yaml"
    policy.write_text(data.policy_text)
    return manifests, policy


# --- measurement (runs in spawned children) ---------------------------------------------------


def _with_cpu(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and the CPU seconds it took: on a shared machine the wall time also
    counts waiting for a core, the CPU time does not."""
    start = time.process_time()
    result = fn(*args)
    return result, time.process_time() - start


def _analysis(
    snapshots: list[model.Snapshot], policy: policy_file.PolicyFile, manifests: str
) -> tuple[context.Context, list[fnd.Finding]]:
    ctx = context.build_context(snapshots, policy, manifests=[manifests])
    return ctx, analyze.analyze(ctx, today=TODAY)


def _summary(found: list[fnd.Finding]) -> dict[str, Any]:
    by_rule: Counter[str] = Counter(f.rule for f in found)
    active: Counter[str] = Counter(f.rule for f in found if f.active)
    return {
        "findings": len(found),
        "by_rule": dict(sorted(by_rule.items())),
        "active_by_rule": dict(sorted(active.items())),
        "by_severity": dict(Counter(f.severity for f in found if f.active)),
        "suppressed": sum(1 for f in found if f.suppressed and not f.suppressed.expired),
        "expired": sum(1 for f in found if f.suppressed and f.suppressed.expired),
        "fingerprints": sorted(f.fingerprint for f in found),
    }


def run_analysis(sizes: Sizes, manifests: str, policy_path: str) -> dict[str, Any]:
    """Child: generate (untimed), parse the policy file, time build_context + analyze."""
    start = time.perf_counter()
    data = generate(sizes)
    gen_seconds = time.perf_counter() - start
    snapshots = data.snapshots
    policy = policy_file.load_policy_file(policy_path, known_rules=rules.RULE_IDS)
    ((ctx, found), cpu), stats = measure(_with_cpu, _analysis, snapshots, policy, manifests)
    return {
        **stats,
        "cpu_seconds": cpu,
        **_summary(found),
        "generate_seconds": gen_seconds,
        "counts": data.counts,
        "nodes": ctx.graph.number_of_nodes(),
        "edges": ctx.graph.number_of_edges(),
        "flows": len(ctx.flows),
        "policies_loaded": len(ctx.cluster.policies),
        "admin_loaded": len(ctx.cluster.admin_policies) + (ctx.cluster.baseline is not None),
        "engine_memo": ctx.engine.memo_size,
        "engine_verdicts": len(ctx.engine._verdicts),
    }


def run_graph(sizes: Sizes) -> dict[str, Any]:
    """Child: generate (untimed), time build_graph on the same snapshots."""
    data = generate(sizes)
    (g, cpu), stats = measure(_with_cpu, graph.build_graph, data.snapshots)
    return {**stats, "cpu_seconds": cpu, "nodes": g.number_of_nodes(), "edges": g.number_of_edges()}


def run_cli(sizes: Sizes, manifests: str, policy_path: str, folder: str) -> dict[str, Any]:
    """Child: write the snapshots as files (untimed), then time ``python -m topomap analyze``."""
    data = generate(sizes)
    paths = []
    for i, snap in enumerate(data.snapshots):
        path = Path(folder) / f"{i:03d}-{snap.observer}.json"
        snapshot_io.dump_snapshot(snap, path)
        paths.append(str(path))
    report = Path(folder) / "findings.json"
    argv = [sys.executable, "-m", "topomap", "analyze", *paths, "--k8s", manifests]
    argv += ["--policy", policy_path, "--format", "json", "-o", str(report)]
    argv += ["--today", TODAY.isoformat()]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"topomap analyze exited {proc.returncode}: {proc.stderr[-2000:]}")
    found = orjson.loads(report.read_bytes())["findings"]
    return {
        "seconds": seconds,
        "snapshot_bytes": sum(Path(p).stat().st_size for p in paths),
        "fingerprints": sorted(f["fingerprint"] for f in found),
    }


# --- report ------------------------------------------------------------------------------------


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the CC6.6 analysis (build_context + analyze) against build_graph."
    )
    for name, what in (
        ("hosts", "nodes (host snapshots)"),
        ("namespaces", "namespaces"),
        ("workloads", "workloads"),
        ("pods", "pods"),
        ("policies", "NetworkPolicies"),
        ("connections", "connection records"),
    ):
        parser.add_argument(f"--{name}", type=int, help=f"{what} (default {FULL[name]:,})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small run: {QUICK['pods']:,} pods, {QUICK['connections']:,} connections, "
        f"{QUICK['policies']} policies",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each side, each in a fresh process"
    )
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-CLI extra")
    parser.add_argument(
        "--inputs", type=Path, help="write the manifests and policy file to this new directory"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    sizes = Sizes(
        **{k: getattr(args, k) or preset[k] for k in preset},
        seed=args.seed,
    )
    if sizes.namespaces < 4 or sizes.workloads < 10 or sizes.pods < sizes.workloads:
        parser.error("need at least 4 namespaces, 10 workloads and a pod per workload")

    print(
        f"topomap {topomap.__version__}, networkx {nx.__version__}, PyYAML {yaml.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    start = time.perf_counter()
    data = generate(sizes)
    gen_seconds = time.perf_counter() - start
    c = data.counts
    with tempfile.TemporaryDirectory(prefix="topomap-analyze-bench-") as tmp:
        root = args.inputs or Path(tmp)
        manifests, policy_path = write_inputs(data, root)
        del data
        print(
            f"generated (seed {sizes.seed}, {gen_seconds:.1f} s, not timed): {c['hosts']} nodes, "
            f"{c['namespaces']} namespaces, {c['workloads']:,} workloads "
            f"({', '.join(f'{n} {k}' for k, n in c['workload_kinds'].items())}), "
            f"{c['pods']:,} pods, {c['services']:,} services, {c['processes']:,} processes, "
            f"{c['connections']:,} connection records, {c['network_policies']:,} "
            f"NetworkPolicies + {c['admin_policies']} admin policies in {manifests}"
        )
        tops: list[dict[str, Any]] = []
        refs: list[dict[str, Any]] = []
        for run in range(max(1, args.repeat)):
            tops.append(in_child(run_analysis, sizes, str(manifests), str(policy_path)))
            print(
                f"  run {run + 1}: build_context + analyze {tops[-1]['seconds']:6.2f} s", flush=True
            )
            refs.append(in_child(run_graph, sizes))
            print(
                f"  run {run + 1}: build_graph             {refs[-1]['seconds']:6.2f} s", flush=True
            )
        cli: dict[str, Any] | None = None
        if not args.no_cli:
            with tempfile.TemporaryDirectory(prefix="topomap-analyze-cli-") as folder:
                cli = in_child(run_cli, sizes, str(manifests), str(policy_path), folder)
            print(f"  extra: python -m topomap analyze   {cli['seconds']:6.2f} s", flush=True)

    print(f"  load average now {os.getloadavg()[0]:.1f}")
    top, ref = _median_run(tops), _median_run(refs)
    ratio = top["seconds"] / ref["seconds"]
    top_peak = max(r["peak_kib"] for r in tops)
    ref_peak = max(r["peak_kib"] for r in refs)
    top_inc = max(r["increment_kib"] for r in tops)
    ref_inc = max(r["increment_kib"] for r in refs)
    n = len(tops)

    print()
    print("connection mix: " + ", ".join(f"{k} {v:,}" for k, v in c["mix"].items()))
    print(
        f"graph: {top['nodes']:,} nodes, {top['edges']:,} edges = {top['flows']:,} flows judged; "
        f"loaded {top['policies_loaded']:,} NetworkPolicies + {top['admin_loaded']} admin; "
        f"policy engine: {top['engine_verdicts']:,} verdicts memoised, "
        f"{top['engine_memo']:,} direction results computed"
    )
    print()
    header = f"{f'median of {n}':34} {'seconds':>9} {'CPU s':>7} {'peak RSS':>10} {'increment':>10}"
    print(header)
    print("-" * len(header))
    for label, r, peak, inc in (
        ("build_context + analyze", top, top_peak, top_inc),
        ("build_graph (reference)", ref, ref_peak, ref_inc),
    ):
        print(
            f"{label:34} {r['seconds']:>9.2f} {r['cpu_seconds']:>7.2f} {mb(peak):>10} {mb(inc):>10}"
        )
    cpu_ratio = top["cpu_seconds"] / ref["cpu_seconds"]
    print(f"{'ratio analysis / graph build':34} {ratio:>8.2f}x {cpu_ratio:>6.2f}x")
    runs_top = ", ".join(f"{r['seconds']:.2f}" for r in tops)
    runs_ref = ", ".join(f"{r['seconds']:.2f}" for r in refs)
    print(f"(analysis runs: {runs_top} s; graph build runs: {runs_ref} s)")
    if not all(r["peak_reset"] for r in tops + refs):
        print("(peak RSS mark could not be reset: peaks include generation)")
    print()
    same = all(r["fingerprints"] == tops[0]["fingerprints"] for r in tops)
    print(
        f"findings: {top['findings']:,} ({top['suppressed']} suppressed, {top['expired']} with an "
        f"expired suppression); same fingerprints in every run: {yes(same)}"
    )
    width = max(len(k) for k in top["by_rule"]) if top["by_rule"] else 0
    for rule_id in sorted(top["by_rule"]):
        print(
            f"  {rule_id:{width}}  {top['by_rule'][rule_id]:>6,}  "
            f"(active {top['active_by_rule'].get(rule_id, 0):,})"
        )
    print(
        "  active by severity: "
        + ", ".join(f"{s} {top['by_severity'].get(s, 0):,}" for s in reversed(fnd.SEVERITIES))
    )
    if cli is not None:
        print()
        print(
            f"extra: python -m topomap analyze (snapshot files {cli['snapshot_bytes'] / 1e6:,.0f} "
            f"MB, JSON report) {cli['seconds']:.2f} s wall; same findings as in-process: "
            f"{yes(cli['fingerprints'] == top['fingerprints'])}"
        )
    print()
    full = all(getattr(sizes, k) >= FULL[k] for k in ("pods", "policies", "connections"))
    ok = top["seconds"] < TARGET_SECONDS
    print(
        f"target: analysis under {TARGET_SECONDS:g} s: {yes(ok)} ({top['seconds']:.2f} s, "
        f"median of {n}); peak RSS {mb(top_peak)}"
        + ("" if full else " (the target is for the full size)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the bundled demo data set: ``samples/shop/{cluster,node-a,node-b}.json``.

This script owns every file in ``samples/shop/``: never edit them by hand. Change the tables
below and run ``python samples/build.py`` to rewrite them; ``python samples/build.py --check``
exits 1, naming each file, when a committed file differs from what it would write.
``tests/test_samples.py`` runs the same check and takes its expectations from :data:`CALLS` and
:attr:`Demo.flows` (the generator's ground truth), never from hard-coded numbers.

The scene is Online Boutique (GoogleCloudPlatform/microservices-demo, ``kubernetes-manifests/``:
service names, ports, labels and images) in namespace ``shop`` on a two-node cluster, with
CoreDNS in ``kube-system``, watched from 10:00 to 10:05 UTC on 2026-11-28:

* ``cluster.json``: the Kubernetes API (nodes, namespaces, Deployments, pods, Services with
  their endpoints, the cluster's CIDRs, and least-privilege NetworkPolicies in the Online
  Boutique style: one per app, generated from :data:`CALLS`);
* ``node-a.json``, ``node-b.json``: each node's host collectors (processes, containers,
  listeners, conntrack and procnet connections, DNS cache answers).

What it demonstrates: ClusterIP DNAT (``original.dst`` is the Service, ``reply.src`` the backend
pod); cross-node connections seen by both nodes' conntrack (the graph must count them once);
procnet sockets that tie connections to processes; SNAT to the node address on egress; a
NodePort reached from outside; a partial collector (procnet on node-b). Planted for a boundary
review (``samples/topomap.yaml`` is the declared boundary they are judged against):
recommendationservice -> 185.220.101.47:4444 (a public peer without a DNS name, which its
policy denies), adservice -> the cloud metadata endpoint 169.254.169.254:80 (denied too), and
loadgenerator, which no policy selects (:data:`UNPOLICED`).

Deterministic: names and ids derive from sha256 or uuid5 of fixed strings; ports, counters, pids
and times come from one ``random.Random(2026)``; every time is fixed.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from topomap import ids, model, snapshot_io
from topomap.model import ContainerPort, FlowTuple, Protocol, ServicePort

OUT_DIR = Path(__file__).resolve().parent / "shop"
SEED = 2026
VERSION = "0.1.0"
START = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
CLUSTER_END = START + timedelta(seconds=2)
SHOP_DEPLOYED = datetime(2026, 11, 27, 14, 32, 5, tzinfo=UTC)
CLK_TCK = 100
HOST_NETNS = "4026531840"
FIRST_POD_NETNS = 4026532288
EPHEMERAL = (32768, 60999)
UUIDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://topomap.dev/samples/shop")
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
OB_IMAGES = "us-central1-docker.pkg.dev/google-samples/microservices-demo"
OB_TAG = "v0.10.2"

Style = Literal["grpc", "http", "dns", "tls", "bulk"]


# --- the scene: tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """A Kubernetes node: its address, its pod range and when it booted."""

    name: str
    ip: str
    pod_cidr: str
    boot: datetime


@dataclass(frozen=True)
class AppSpec:
    """A Deployment with one container, and the process that container runs."""

    name: str
    nodes: tuple[str, ...]  # one node name per replica
    container: str
    image: str
    ports: tuple[ContainerPort, ...]
    argv: tuple[str, ...]
    exe: str
    comm: str
    namespace: str = "shop"
    uid: int = 1000
    label: tuple[str, str] | None = None  # pod label, when not app=<name>
    extra_listen: tuple[ContainerPort, ...] = ()  # listening but not declared

    @property
    def labels(self) -> dict[str, str]:
        key, value = self.label or ("app", self.name)
        return {key: value}


@dataclass(frozen=True)
class ServiceSpec:
    """A Service selecting the pods of one app."""

    name: str
    app: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    type: model.ServiceType = "ClusterIP"
    load_balancer_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class Call:
    """``count`` distinct connections from ``client``'s pods to ``service``:``port``."""

    client: str
    service: str
    port: int
    count: int
    protocol: Protocol = "tcp"
    style: Style = "grpc"


@dataclass(frozen=True)
class Egress:
    """``count`` connections from ``client``'s pods to an address outside the cluster."""

    client: str
    ip: str
    port: int
    count: int
    protocol: Protocol = "tcp"
    style: Style = "tls"
    earliest: int = 0  # seconds into the window


@dataclass(frozen=True)
class Name:
    """A DNS answer a node's resolver cache holds once a pod or process looked the name up."""

    name: str
    addresses: tuple[str, ...]
    ttl: int
    cnames: tuple[str, ...] = ()


@dataclass(frozen=True)
class Daemon:
    """A host process every node runs."""

    comm: str
    pid: int
    ticks: int
    exe: str
    argv: tuple[str, ...]
    ppid: int = 1
    listens: tuple[tuple[Protocol, str, int], ...] = ()


@dataclass(frozen=True)
class Profile:
    """Traffic shape of a style: packet count and packet size ranges per direction."""

    packets_orig: tuple[int, int]
    size_orig: tuple[int, int]
    packets_reply: tuple[int, int]
    size_reply: tuple[int, int]
    established: float  # share of TCP connections still open at the last poll


def tcp(port: int, name: str | None = None) -> ContainerPort:
    return ContainerPort(port=port, protocol="tcp", name=name)


def svc_port(port: int, target: int, name: str, protocol: Protocol = "tcp") -> ServicePort:
    return ServicePort(port=port, protocol=protocol, name=name, target_port=target)


def ob(name: str) -> str:
    return f"{OB_IMAGES}/{name}:{OB_TAG}"


NODES = (
    NodeSpec("node-a", "10.0.1.10", "10.244.0.0/24", datetime(2026, 11, 20, 6, 14, 9, tzinfo=UTC)),
    NodeSpec("node-b", "10.0.1.11", "10.244.1.0/24", datetime(2026, 11, 20, 6, 14, 37, tzinfo=UTC)),
)
NODE = {n.name: n for n in NODES}
CLUSTER = model.ClusterInfo(
    name="shop-cluster",
    pod_cidrs=("10.244.0.0/16",),
    service_cidrs=("10.96.0.0/12",),
    node_cidrs=("10.0.1.0/24",),
)
NODE_LABELS = {
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "node.kubernetes.io/instance-type": "m6i.large",
    "topology.kubernetes.io/region": "us-west-2",
    "topology.kubernetes.io/zone": "us-west-2a",
}

PYTHON = "/usr/local/bin/python3.12"
APPS = (
    AppSpec(
        "coredns", ("node-a", "node-b"), "coredns", "registry.k8s.io/coredns/coredns:v1.11.3",
        (
            ContainerPort(port=53, protocol="udp", name="dns"),
            tcp(53, "dns-tcp"),
            tcp(9153, "metrics"),
        ),
        ("/coredns", "-conf", "/etc/coredns/Corefile"), "/coredns", "coredns",
        namespace="kube-system", uid=65532, label=("k8s-app", "kube-dns"),
        extra_listen=(tcp(8080), tcp(8181)),
    ),
    AppSpec("frontend", ("node-a", "node-b"), "server", ob("frontend"), (tcp(8080),),
            ("/src/server",), "/src/server", "server"),
    AppSpec("cartservice", ("node-a",), "server", ob("cartservice"), (tcp(7070),),
            ("/app/cartservice",), "/app/cartservice", "cartservice"),
    AppSpec("productcatalogservice", ("node-a", "node-b"), "server",
            ob("productcatalogservice"), (tcp(3550),), ("/src/server",), "/src/server", "server"),
    AppSpec("currencyservice", ("node-a",), "server", ob("currencyservice"),
            (tcp(7000, "grpc"),), ("node", "server.js"), "/usr/local/bin/node", "node"),
    AppSpec("paymentservice", ("node-a",), "server", ob("paymentservice"), (tcp(50051),),
            ("node", "index.js"), "/usr/local/bin/node", "node"),
    AppSpec("shippingservice", ("node-b",), "server", ob("shippingservice"), (tcp(50051),),
            ("/src/shippingservice",), "/src/shippingservice", "shippingservice"),
    AppSpec("emailservice", ("node-a",), "server", ob("emailservice"), (tcp(8080),),
            ("python", "email_server.py"), PYTHON, "python"),
    AppSpec("checkoutservice", ("node-b",), "server", ob("checkoutservice"), (tcp(5050),),
            ("/src/checkoutservice",), "/src/checkoutservice", "checkoutservice"),
    AppSpec("recommendationservice", ("node-b",), "server", ob("recommendationservice"),
            (tcp(8080),), ("python", "recommendation_server.py"), PYTHON, "python"),
    AppSpec("adservice", ("node-b",), "server", ob("adservice"), (tcp(9555),),
            ("java", "-classpath", "/app/build/install/hipstershop/lib/*",
             "hipstershop.AdService"), "/opt/java/openjdk/bin/java", "java"),
    AppSpec("loadgenerator", ("node-a",), "main", ob("loadgenerator"), (),
            ("/usr/local/bin/python", "/usr/local/bin/locust", "--host=http://frontend:80",
             "--headless", "-u", "10", "-r", "1"), PYTHON, "locust"),
    AppSpec("redis-cart", ("node-b",), "redis", "redis:alpine", (tcp(6379),),
            ("redis-server *:6379",), "/usr/local/bin/redis-server", "redis-server"),
)  # fmt: skip
APP = {a.name: a for a in APPS}

SERVICES = (
    ServiceSpec("kube-dns", "coredns", "10.96.0.10", (
        svc_port(53, 53, "dns", "udp"), svc_port(53, 53, "dns-tcp"),
        svc_port(9153, 9153, "metrics"),
    )),
    ServiceSpec("frontend", "frontend", "10.103.41.12", (svc_port(80, 8080, "http"),)),
    ServiceSpec(
        "frontend-external", "frontend", "10.109.200.7",
        (ServicePort(port=80, name="http", target_port=8080, node_port=30080),),
        type="LoadBalancer", load_balancer_ips=("203.0.113.80",),
    ),
    ServiceSpec("cartservice", "cartservice", "10.98.117.230", (svc_port(7070, 7070, "grpc"),)),
    ServiceSpec("productcatalogservice", "productcatalogservice", "10.104.9.88",
                (svc_port(3550, 3550, "grpc"),)),
    ServiceSpec("currencyservice", "currencyservice", "10.97.151.40",
                (svc_port(7000, 7000, "grpc"),)),
    ServiceSpec("paymentservice", "paymentservice", "10.110.3.201",
                (svc_port(50051, 50051, "grpc"),)),
    ServiceSpec("shippingservice", "shippingservice", "10.101.88.14",
                (svc_port(50051, 50051, "grpc"),)),
    ServiceSpec("emailservice", "emailservice", "10.106.250.96", (svc_port(5000, 8080, "grpc"),)),
    ServiceSpec("checkoutservice", "checkoutservice", "10.99.64.175",
                (svc_port(5050, 5050, "grpc"),)),
    ServiceSpec("recommendationservice", "recommendationservice", "10.108.19.133",
                (svc_port(8080, 8080, "grpc"),)),
    ServiceSpec("adservice", "adservice", "10.102.230.61", (svc_port(9555, 9555, "grpc"),)),
    ServiceSpec("redis-cart", "redis-cart", "10.96.212.9", (svc_port(6379, 6379, "tcp-redis"),)),
)  # fmt: skip
SERVICE = {s.name: s for s in SERVICES}

#: The Online Boutique call graph, plus every shop pod's DNS lookups.
CALLS = (
    Call("loadgenerator", "frontend", 80, 24, style="http"),
    Call("frontend", "productcatalogservice", 3550, 12),
    Call("frontend", "currencyservice", 7000, 10),
    Call("frontend", "cartservice", 7070, 8),
    Call("frontend", "recommendationservice", 8080, 6),
    Call("frontend", "shippingservice", 50051, 4),
    Call("frontend", "checkoutservice", 5050, 4),
    Call("frontend", "adservice", 9555, 6),
    Call("checkoutservice", "productcatalogservice", 3550, 4),
    Call("checkoutservice", "shippingservice", 50051, 3),
    Call("checkoutservice", "paymentservice", 50051, 3),
    Call("checkoutservice", "emailservice", 5000, 3),
    Call("checkoutservice", "currencyservice", 7000, 4),
    Call("checkoutservice", "cartservice", 7070, 3),
    Call("recommendationservice", "productcatalogservice", 3550, 5),
    Call("cartservice", "redis-cart", 6379, 6),
    *(
        Call(app, "kube-dns", 53, count, protocol="udp", style="dns")
        for app, count in (
            ("frontend", 8), ("cartservice", 4), ("productcatalogservice", 4),
            ("currencyservice", 3), ("paymentservice", 5), ("shippingservice", 2),
            ("emailservice", 3), ("checkoutservice", 6), ("recommendationservice", 4),
            ("adservice", 3), ("loadgenerator", 5), ("redis-cart", 1),
        )
    ),
)  # fmt: skip

VPC_RESOLVER = "10.0.0.2"
EGRESS = (
    Egress("paymentservice", "54.187.174.169", 443, 3, earliest=10),
    Egress("paymentservice", "54.187.216.72", 443, 2, earliest=10),
    Egress("coredns", VPC_RESOLVER, 53, 6, protocol="udp", style="dns"),
    Egress("recommendationservice", "185.220.101.47", 4444, 3, style="bulk"),  # planted
    Egress("adservice", "169.254.169.254", 80, 2, style="http"),  # planted
)

#: A shopper reaching frontend-external through the load balancer (NodePort on node-a).
SHOPPER_IP = "198.51.100.23"
SHOPPER_NODE = "node-a"
SHOPPER_CONNECTIONS = 5

#: unattended-upgrades on node-a fetching packages (apt's https method owns the sockets).
APT_NODE = "node-a"
DEBIAN_IP = "151.101.2.132"
APT_STARTED = START + timedelta(seconds=72)
APT_CONNECTIONS = 3

NAMES = (
    Name("api.stripe.com", ("54.187.174.169", "54.187.216.72"), ttl=60),
    Name(
        "deb.debian.org",
        ("151.101.2.132", "151.101.66.132", "151.101.130.132", "151.101.194.132"),
        ttl=30,
        cnames=("debian.map.fastly.net",),
    ),
)

KUBELET_ARGV = (
    "/usr/bin/kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
    "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
)
DAEMONS = (
    Daemon("systemd", 1, 9, "/usr/lib/systemd/systemd", ("/sbin/init",), ppid=0),
    Daemon("sshd", 702, 1102, "/usr/sbin/sshd",
           ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",),
           listens=(("tcp", "0.0.0.0", 22),)),
    Daemon("containerd", 731, 1187, "/usr/bin/containerd", ("/usr/bin/containerd",),
           listens=(("tcp", "127.0.0.1", 41729),)),
    Daemon("kubelet", 958, 1540, "/usr/bin/kubelet", KUBELET_ARGV,
           listens=(("tcp", "::", 10250), ("tcp", "127.0.0.1", 10248))),
)  # fmt: skip

PROFILES: dict[Style, Profile] = {
    "grpc": Profile((12, 900), (80, 420), (10, 950), (120, 1100), established=0.75),
    "http": Profile((6, 40), (70, 520), (5, 60), (200, 1400), established=0.25),
    "tls": Profile((10, 60), (80, 600), (10, 120), (300, 1400), established=0.5),
    "bulk": Profile((30000, 42000), (1300, 1448), (15000, 21000), (52, 52), established=1.0),
    "dns": Profile((1, 2), (70, 100), (1, 2), (110, 260), established=0.0),
}
#: Share of open client sockets procnet ties to their process (sockets in TIME_WAIT have none).
PROCNET_SHARE = 0.5
#: procnet sockets whose process exited before its fds were read, per node.
PROCNET_LOST = {"node-b": 2}


# --- derived names and ids -------------------------------------------------------------------


def stable_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(UUIDS, f"{kind}/{name}"))


def hex64(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def k8s_token(seed: str, length: int) -> str:
    """A Kubernetes-style random suffix (ReplicaSet hash, pod suffix), derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(K8S_ALPHABET[b % len(K8S_ALPHABET)] for b in digest[:length])


def ticks_at(node: NodeSpec, when: datetime) -> int:
    return round((when - node.boot).total_seconds() * CLK_TCK)


def process(
    node: NodeSpec,
    pid: int,
    ticks: int,
    *,
    ppid: int,
    comm: str,
    exe: str,
    argv: tuple[str, ...],
    uid: int = 0,
    container_id: str | None = None,
    netns: str = HOST_NETNS,
) -> model.Process:
    return model.Process(
        host=node.name,
        pid=pid,
        start_ticks=ticks,
        start_time=node.boot + timedelta(milliseconds=ticks * 1000 // CLK_TCK),
        ppid=ppid,
        comm=comm,
        exe=exe,
        cmdline=argv,
        uid=uid,
        container_id=container_id,
        netns=netns,
    )


def ref(proc: model.Process) -> model.ProcessRef:
    return model.ProcessRef(pid=proc.pid, start_ticks=proc.start_ticks)


# --- placement: pods, their containers and processes -----------------------------------------


@dataclass(frozen=True)
class PodPlan:
    """One pod as placed: names, addresses, ids and the processes that run it."""

    app: AppSpec
    name: str
    template_hash: str
    node: NodeSpec
    ip: str
    container_id: str
    netns: str
    shim: model.Process
    main: model.Process

    @property
    def uid(self) -> str:
        return stable_uuid("pod", f"{self.app.namespace}/{self.name}")

    @property
    def workload(self) -> str:
        return ids.workload(self.app.namespace, "Deployment", self.app.name)


@dataclass
class Placer:
    """Hands out pod IPs, netns inodes and pids per node, in the order pods start."""

    rng: random.Random
    next_ip: dict[str, int] = field(default_factory=lambda: {n.name: 2 for n in NODES})
    next_pid: dict[str, int] = field(default_factory=lambda: {n.name: 1800 for n in NODES})

    def pod(self, app: AppSpec, replica: int, node: NodeSpec) -> PodPlan:
        template_hash = k8s_token(f"rs/{app.namespace}/{app.name}", 9)
        suffix = k8s_token(f"pod/{app.namespace}/{app.name}/{replica}", 5)
        name = f"{app.name}-{template_hash}-{suffix}"
        index = self.next_ip[node.name]
        self.next_ip[node.name] += 1
        ip = f"{node.pod_cidr.rsplit('.', 1)[0]}.{index}"
        netns = str(FIRST_POD_NETNS + 8 * index)
        container_id = hex64(f"container/{app.namespace}/{name}/{app.container}")
        shim = self.shim(app, node, name)
        main = self.main(app, node, shim, container_id, netns)
        return PodPlan(app, name, template_hash, node, ip, container_id, netns, shim, main)

    def shim(self, app: AppSpec, node: NodeSpec, pod: str) -> model.Process:
        """containerd-shim-runc-v2 for the pod's sandbox: a host process."""
        if app.namespace == "kube-system":
            started = node.boot + timedelta(seconds=31)
        else:
            started = SHOP_DEPLOYED + timedelta(seconds=self.rng.randint(0, 40))
        pid = self.next_pid[node.name] = self.next_pid[node.name] + self.rng.randint(3, 40)
        sandbox = hex64(f"sandbox/{app.namespace}/{pod}")
        argv = ("/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", sandbox)
        return process(
            node,
            pid,
            ticks_at(node, started) + self.rng.randint(0, 99),
            ppid=1,
            comm="containerd-shim",
            exe="/usr/bin/containerd-shim-runc-v2",
            argv=(*argv, "-address", "/run/containerd/containerd.sock"),
        )

    def main(
        self, app: AppSpec, node: NodeSpec, shim: model.Process, container_id: str, netns: str
    ) -> model.Process:
        """The container's main process: in the pod's netns, as the image's user."""
        pid = self.next_pid[node.name] = shim.pid + self.rng.randint(12, 40)
        return process(
            node,
            pid,
            shim.start_ticks + self.rng.randint(40, 300),
            ppid=shim.pid,
            comm=app.comm,
            exe=app.exe,
            argv=app.argv,
            uid=app.uid,
            container_id=container_id,
            netns=netns,
        )


def place_pods(rng: random.Random) -> tuple[PodPlan, ...]:
    placer = Placer(rng)
    return tuple(
        placer.pod(app, replica, NODE[node])
        for app in APPS
        for replica, node in enumerate(app.nodes)
    )


def daemons(node: NodeSpec, rng: random.Random) -> tuple[model.Process, ...]:
    """The host daemons; pids and start times differ a little from node to node."""
    jitter = NODES.index(node)
    return tuple(
        process(
            node,
            d.pid + (jitter * rng.randint(1, 9) if d.pid > 1 else 0),
            d.ticks + jitter * rng.randint(0, 60),
            ppid=d.ppid,
            comm=d.comm,
            exe=d.exe,
            argv=d.argv,
        )
        for d in DAEMONS
    )


def apt_processes(node: NodeSpec, rng: random.Random) -> tuple[model.Process, model.Process]:
    """unattended-upgrade (started by apt-daily-upgrade.service) and its https method child."""
    pid = rng.randint(48000, 52000)
    ticks = ticks_at(node, APT_STARTED)
    upgrade = process(
        node,
        pid,
        ticks,
        ppid=1,
        comm="unattended-upgr",
        exe="/usr/bin/python3.11",
        argv=("/usr/bin/python3", "/usr/bin/unattended-upgrade"),
    )
    https = process(
        node,
        pid + rng.randint(3, 40),
        ticks + rng.randint(150, 250),
        ppid=pid,
        comm="https",
        exe="/usr/lib/apt/methods/http",
        argv=("/usr/lib/apt/methods/https",),
        uid=42,  # _apt: apt methods drop root
    )
    return upgrade, https


# --- traffic: connections as each node's collectors record them ------------------------------


@dataclass(frozen=True)
class Counters:
    """Packet and byte counters of one connection, in conntrack's two directions."""

    packets_orig: int
    bytes_orig: int
    packets_reply: int
    bytes_reply: int

    def lagging(self, rng: random.Random) -> Counters:
        """The same connection counted a moment earlier (by the other node's conntrack)."""
        po = max(1, self.packets_orig - rng.randint(0, 2))
        pr = max(1, self.packets_reply - rng.randint(0, 2))
        bo = self.bytes_orig * po // self.packets_orig
        return Counters(po, bo, pr, self.bytes_reply * pr // self.packets_reply)


@dataclass(frozen=True)
class Shape:
    """What every record of one connection agrees on: protocol, state, when it was seen."""

    protocol: Protocol
    state: str | None
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Flow:
    """One generated connection: what the graph must show for it, exactly once.

    ``client`` and ``server`` are the ids of the nodes its ends become at the workload view.
    """

    client: str
    server: str
    port: int  # the port the server answered on (after DNAT)
    service: str | None  # the Service dialled, when DNAT hid the backend
    records: int  # conntrack records describing it: 2 when it crossed nodes
    counters: Counters  # the larger of the records' counters (the client node's)
    shape: Shape


def mirror(t: FlowTuple) -> FlowTuple:
    return FlowTuple(src=t.dst, dst=t.src, sport=t.dport, dport=t.sport)


def conntrack(
    shape: Shape, original: FlowTuple, reply: FlowTuple, counters: Counters
) -> model.Connection:
    return model.Connection(
        protocol=shape.protocol,
        original=original,
        reply=reply,
        state=shape.state,
        packets_orig=counters.packets_orig,
        bytes_orig=counters.bytes_orig,
        packets_reply=counters.packets_reply,
        bytes_reply=counters.bytes_reply,
        first_seen=shape.first,
        last_seen=shape.last,
        observed_by="conntrack",
        netns=HOST_NETNS,
    )


def procnet(proc: model.Process, shape: Shape, original: FlowTuple) -> model.Connection:
    """A client socket as procnet reads it in the process's netns: the peer before NAT."""
    return model.Connection(
        protocol=shape.protocol,
        original=original,
        state=shape.state,
        first_seen=shape.first,
        last_seen=shape.last,
        observed_by="procnet",
        process=ref(proc),
        process_side="src",
        netns=proc.netns,
    )


@dataclass
class Traffic:
    """Generates connections; keeps each node's records and the ground truth per connection."""

    rng: random.Random
    pods: tuple[PodPlan, ...]
    records: dict[str, list[model.Connection]] = field(
        default_factory=lambda: {n.name: [] for n in NODES}
    )
    flows: list[Flow] = field(default_factory=list)
    procnet_lost: dict[str, int] = field(default_factory=lambda: {n.name: 0 for n in NODES})
    lookups: dict[tuple[str, str], datetime] = field(default_factory=dict)
    ports_used: dict[str, set[int]] = field(default_factory=dict)

    def replicas(self, app: str) -> list[PodPlan]:
        return [p for p in self.pods if p.app.name == app]

    def port(self, ip: str, prefer: int | None = None) -> int:
        """An ephemeral port not yet used on ``ip`` (``prefer`` when free, as SNAT does)."""
        used = self.ports_used.setdefault(ip, set())
        port = prefer if prefer is not None else self.rng.randint(*EPHEMERAL)
        while port in used:
            port = self.rng.randint(*EPHEMERAL)
        used.add(port)
        return port

    def shape(self, protocol: Protocol, style: Style, earliest: int = 0) -> Shape:
        """State, and the first and last poll that saw the connection (inside the window)."""
        at = START + timedelta(seconds=self.rng.randint(earliest, 240))
        if protocol != "tcp":
            return Shape(protocol, None, at, at)
        if self.rng.random() >= PROFILES[style].established:
            return Shape(
                protocol,
                "TIME_WAIT",
                at,
                min(END, at + timedelta(seconds=self.rng.randint(1, 120))),
            )
        first = START if earliest == 0 and self.rng.random() < 0.5 else at
        return Shape(
            protocol, "ESTABLISHED", first, END - timedelta(seconds=self.rng.randint(0, 4))
        )

    def counters(self, style: Style) -> Counters:
        p = PROFILES[style]
        po, pr = self.rng.randint(*p.packets_orig), self.rng.randint(*p.packets_reply)
        bo, br = po * self.rng.randint(*p.size_orig), pr * self.rng.randint(*p.size_reply)
        return Counters(po, bo, pr, br)

    def record(self, node: NodeSpec, connection: model.Connection) -> None:
        self.records[node.name].append(connection)

    def socket(
        self, node: NodeSpec, proc: model.Process, shape: Shape, original: FlowTuple
    ) -> None:
        """procnet's view of an open client socket, unless its process exited mid-scan."""
        if self.procnet_lost[node.name] < PROCNET_LOST.get(node.name, 0):
            self.procnet_lost[node.name] += 1
            return
        self.record(node, procnet(proc, shape, original))

    def crossing(
        self,
        client_node: NodeSpec,
        backend: PodPlan,
        shape: Shape,
        reply: FlowTuple,
        counters: Counters,
    ) -> int:
        """How many records the connection has: 2 when it crossed nodes (seen after NAT too)."""
        if backend.node is client_node:
            return 1
        direct = mirror(reply)
        self.record(backend.node, conntrack(shape, direct, reply, counters.lagging(self.rng)))
        return 2

    def looked_up(self, node: NodeSpec, ip: str, when: datetime) -> None:
        for name in NAMES:
            key = (node.name, name.name)
            if ip in name.addresses and (key not in self.lookups or when < self.lookups[key]):
                self.lookups[key] = when

    # one method per kind of traffic ---------------------------------------------------------

    def call(self, call: Call, index: int) -> None:
        """A pod dials a ClusterIP; kube-proxy DNATs it to a backend pod."""
        service = SERVICE[call.service]
        (sport,) = [p for p in service.ports if (p.port, p.protocol) == (call.port, call.protocol)]
        clients = self.replicas(call.client)
        client = clients[index % len(clients)]
        backend = self.rng.choice(self.replicas(service.app))
        target = int(sport.target_port or sport.port)
        shape, counters = self.shape(call.protocol, call.style), self.counters(call.style)
        eport = self.port(client.ip)
        original = FlowTuple(src=client.ip, dst=service.cluster_ip, sport=eport, dport=call.port)
        reply = FlowTuple(src=backend.ip, dst=client.ip, sport=target, dport=eport)
        self.record(client.node, conntrack(shape, original, reply, counters))
        records = self.crossing(client.node, backend, shape, reply, counters)
        if shape.state == "ESTABLISHED" and self.rng.random() < PROCNET_SHARE:
            self.socket(client.node, client.main, shape, original)
        dialled = ids.service(backend.app.namespace, service.name)
        flow = Flow(client.workload, backend.workload, target, dialled, records, counters, shape)
        self.flows.append(flow)

    def egress(self, egress: Egress, index: int) -> None:
        """A pod dials an address outside the cluster; its node masquerades it."""
        clients = self.replicas(egress.client)
        client = clients[index % len(clients)]
        shape = self.shape(egress.protocol, egress.style, egress.earliest)
        counters = self.counters(egress.style)
        eport = self.port(client.ip)
        original = FlowTuple(src=client.ip, dst=egress.ip, sport=eport, dport=egress.port)
        nport = self.port(client.node.ip, prefer=eport)
        reply = FlowTuple(src=egress.ip, dst=client.node.ip, sport=egress.port, dport=nport)
        self.record(client.node, conntrack(shape, original, reply, counters))
        if shape.state == "ESTABLISHED":
            self.socket(client.node, client.main, shape, original)
        self.looked_up(client.node, egress.ip, shape.first)
        server = ids.external(egress.ip)
        self.flows.append(Flow(client.workload, server, egress.port, None, 1, counters, shape))

    def shopper(self) -> None:
        """A client on the internet reaches frontend-external's NodePort on a node."""
        node, service = NODE[SHOPPER_NODE], SERVICE["frontend-external"]
        (sport,) = service.ports
        assert sport.node_port is not None and isinstance(sport.target_port, int)
        backend = self.rng.choice(self.replicas(service.app))
        shape, counters = self.shape("tcp", "http"), self.counters("http")
        cport, nport = self.port(SHOPPER_IP), self.port(node.ip)
        original = FlowTuple(src=SHOPPER_IP, dst=node.ip, sport=cport, dport=sport.node_port)
        reply = FlowTuple(src=backend.ip, dst=node.ip, sport=sport.target_port, dport=nport)
        self.record(node, conntrack(shape, original, reply, counters))
        records = self.crossing(node, backend, shape, reply, counters)
        client = ids.external(SHOPPER_IP)
        flow = Flow(client, backend.workload, sport.target_port, None, records, counters, shape)
        self.flows.append(flow)

    def apt_fetch(self, https: model.Process) -> None:
        """apt's https method, on the node itself, fetches from deb.debian.org: no NAT."""
        node = NODE[APT_NODE]
        earliest = round((APT_STARTED - START).total_seconds()) + 3
        shape, counters = self.shape("tcp", "tls", earliest), self.counters("tls")
        original = FlowTuple(src=node.ip, dst=DEBIAN_IP, sport=self.port(node.ip), dport=443)
        self.record(node, conntrack(shape, original, mirror(original), counters))
        if shape.state == "ESTABLISHED":
            self.socket(node, https, shape, original)
        self.looked_up(node, DEBIAN_IP, shape.first)
        client, server = ids.host(node.name), ids.external(DEBIAN_IP)
        self.flows.append(Flow(client, server, 443, None, 1, counters, shape))


def generate(traffic: Traffic, https: model.Process) -> None:
    for call in CALLS:
        for index in range(call.count):
            traffic.call(call, index)
    for egress in EGRESS:
        for index in range(egress.count):
            traffic.egress(egress, index)
    for _ in range(SHOPPER_CONNECTIONS):
        traffic.shopper()
    for _ in range(APT_CONNECTIONS):
        traffic.apt_fetch(https)


# --- snapshots -------------------------------------------------------------------------------


def pod_object(pod: PodPlan) -> model.Pod:
    container = model.PodContainer(
        name=pod.app.container,
        container_id=pod.container_id,
        image=pod.app.image,
        ports=pod.app.ports,
    )
    return model.Pod(
        namespace=pod.app.namespace,
        name=pod.name,
        uid=pod.uid,
        node=pod.node.name,
        ips=(pod.ip,),
        labels={**pod.app.labels, "pod-template-hash": pod.template_hash},
        workload=model.ObjectRef(kind="Deployment", name=pod.app.name),
        containers=(container,),
        phase="Running",
    )


def service_object(spec: ServiceSpec, pods: Sequence[PodPlan]) -> model.Service:
    app = APP[spec.app]
    return model.Service(
        namespace=app.namespace,
        name=spec.name,
        type=spec.type,
        cluster_ips=(spec.cluster_ip,),
        ports=spec.ports,
        selector=app.labels,
        load_balancer_ips=spec.load_balancer_ips,
        endpoints=tuple(model.ServiceEndpoint(ip=p.ip, pod=p.name) for p in pods if p.app is app),
    )


def workload_object(app: AppSpec) -> model.Workload:
    return model.Workload(
        namespace=app.namespace,
        kind="Deployment",
        name=app.name,
        labels=app.labels,
        selector=app.labels,
    )


def node_host(node: NodeSpec, *, from_api: bool) -> model.Host:
    """The node as a Host: the API knows its labels and pod CIDR, the node itself does not."""
    return model.Host(
        name=node.name,
        ips=(node.ip,),
        machine_id=uuid.uuid5(UUIDS, f"machine/{node.name}").hex,
        labels={**NODE_LABELS, "kubernetes.io/hostname": node.name} if from_api else {},
        pod_cidrs=(node.pod_cidr,) if from_api else (),
    )


#: Apps that get no NetworkPolicy (planted: the load generator was never given one).
UNPOLICED = ("loadgenerator",)
#: Approved egress the policies allow (the planted 185.220.101.47:4444 and the metadata call
#: are not allowed: observed anyway, they are traffic the policies deny).
POLICY_EGRESS = {"paymentservice": (("54.187.0.0/16", 443),), "coredns": ((VPC_RESOLVER, 53),)}


def _selector(app: AppSpec) -> dict[str, object]:
    return {"matchLabels": app.labels}


def _peer(app: AppSpec) -> dict[str, object]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": app.namespace}},
        "podSelector": _selector(app),
    }


def _target(call: Call) -> tuple[str, int]:
    """The protocol and pod port a call reaches (NetworkPolicies see traffic after DNAT)."""
    spec = SERVICE[call.service]
    port = next(p for p in spec.ports if p.port == call.port and p.protocol == call.protocol)
    return call.protocol.upper(), int(port.target_port or port.port)


def network_policies() -> tuple[dict[str, object], ...]:
    """Least-privilege policies in the Online Boutique style: one per app, both directions,
    ingress from its callers and egress to its callees on their pod ports, DNS to kube-dns."""
    out: list[dict[str, object]] = []
    dns = APP["coredns"]
    for app in sorted(APPS, key=lambda a: (a.namespace, a.name)):
        if app.name in UNPOLICED:
            continue
        ingress: list[dict[str, object]] = []
        egress: list[dict[str, object]] = []
        for call in CALLS:
            callee = APP[SERVICE[call.service].app]
            proto, port = _target(call)
            rule_port = [{"protocol": proto, "port": port}]
            if callee is app and call.client != "coredns":
                ingress.append({"from": [_peer(APP[call.client])], "ports": rule_port})
            if call.client == app.name and callee is not dns:
                egress.append({"to": [_peer(callee)], "ports": rule_port})
        if app.name == "frontend":  # shoppers through the load balancer
            ingress.append({"ports": [{"protocol": "TCP", "port": 8080}]})
        for cidr, port in POLICY_EGRESS.get(app.name, ()):
            block = cidr if "/" in cidr else f"{cidr}/32"
            egress.append(
                {
                    "to": [{"ipBlock": {"cidr": block}}],
                    "ports": [{"protocol": "UDP" if port == 53 else "TCP", "port": port}],
                }
            )
        egress.append(
            {
                "to": [_peer(dns)],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        )
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": app.name, "namespace": app.namespace},
                "spec": {
                    "podSelector": _selector(app),
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": _dedupe(ingress),
                    "egress": _dedupe(egress),
                },
            }
        )
    return tuple(out)


def _dedupe(rules: list[dict[str, object]]) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    for rule in rules:
        if rule not in seen:
            seen.append(rule)
    return seen


def cluster_snapshot(pods: tuple[PodPlan, ...]) -> model.Snapshot:
    namespaces = sorted({a.namespace for a in APPS})
    services = tuple(service_object(s, pods) for s in SERVICES)
    counts = {
        "nodes": len(NODES),
        "namespaces": len(namespaces),
        "workloads": len(APPS),
        "pods": len(pods),
        "services": len(services),
        "endpoints": sum(len(s.endpoints) for s in services),
    }
    run = model.CollectorRun(name="kubernetes", version=VERSION, status="ok", counts=counts)
    return model.Snapshot(
        snapshot_id=stable_uuid("snapshot", "cluster"),
        source="cluster",
        observer=CLUSTER.name or "",
        window=model.Window(start=START, end=CLUSTER_END),
        collectors=(run,),
        cluster=CLUSTER,
        hosts=tuple(node_host(n, from_api=True) for n in NODES),
        namespaces=tuple(
            model.Namespace(name=ns, labels={"kubernetes.io/metadata.name": ns})
            for ns in namespaces
        ),
        pods=tuple(pod_object(p) for p in sorted(pods, key=lambda p: (p.app.namespace, p.name))),
        workloads=tuple(
            workload_object(a) for a in sorted(APPS, key=lambda a: (a.namespace, a.name))
        ),
        services=services,
        policy_objects=network_policies(),
    )


def listeners(
    node: NodeSpec, hosts: Sequence[model.Process], pods: Sequence[PodPlan]
) -> list[model.Listener]:
    """Daemons' sockets in the host netns, then each pod's server on 0.0.0.0 in its netns."""
    found = [
        model.Listener(
            host=node.name, protocol=proto, ip=ip, port=port, process=ref(proc), netns=HOST_NETNS
        )
        for proc, daemon in zip(hosts, DAEMONS, strict=True)
        for proto, ip, port in daemon.listens
    ]
    for pod in pods:
        for cport in (*pod.app.ports, *pod.app.extra_listen):
            found.append(
                model.Listener(
                    host=node.name,
                    protocol=cport.protocol,
                    ip="0.0.0.0",
                    port=cport.port,
                    process=ref(pod.main),
                    netns=pod.netns,
                )
            )
    return found


def container_object(pod: PodPlan) -> model.Container:
    return model.Container(
        id=pod.container_id,
        host=pod.node.name,
        runtime="containerd",
        name=pod.app.container,
        image=pod.app.image,
        pod_uid=pod.uid,
    )


def dns_answers(node: NodeSpec, traffic: Traffic) -> tuple[model.DnsAnswer, ...]:
    """The names this node's resolver cache answered, a second before their first use."""
    answers = []
    for name in NAMES:
        first_use = traffic.lookups.get((node.name, name.name))
        if first_use is None:
            continue
        answers.append(
            model.DnsAnswer(
                name=name.name,
                addresses=name.addresses,
                cnames=name.cnames,
                ttl=name.ttl,
                time=first_use - timedelta(seconds=1),
                observed_by="dns-cache",
            )
        )
    return tuple(answers)


def host_collectors(
    connections: Sequence[model.Connection],
    processes: Sequence[model.Process],
    sockets: Sequence[model.Listener],
    answers: int,
    lost: int,
) -> tuple[model.CollectorRun, ...]:
    def run(
        name: str, counts: dict[str, int], skipped: dict[str, int] | None = None
    ) -> model.CollectorRun:
        status: model.CollectorStatus = "partial" if skipped else "ok"
        return model.CollectorRun(
            name=name, version=VERSION, status=status, counts=counts, skipped=skipped or {}
        )

    def seen(name: str) -> int:
        return sum(1 for c in connections if c.observed_by == name)

    containers = len({p.container_id for p in processes if p.container_id})
    return (
        run("cgroup", {"containers": containers, "processes": len(processes)}),
        run("conntrack", {"connections": seen("conntrack")}),
        run("dns-cache", {"answers": answers}),
        run(
            "procnet",
            {"connections": seen("procnet"), "listeners": len(sockets)},
            {"process exited mid-scan": lost} if lost else None,
        ),
    )


def node_snapshot(
    node: NodeSpec, pods: tuple[PodPlan, ...], traffic: Traffic, extra: Sequence[model.Process]
) -> model.Snapshot:
    local = [p for p in pods if p.node is node]
    hosts = daemons(node, traffic.rng)
    shims_and_mains = (proc for p in local for proc in (p.shim, p.main))
    processes = sorted((*hosts, *extra, *shims_and_mains), key=lambda p: p.pid)
    sockets = listeners(node, hosts, local)
    connections = sorted(
        traffic.records[node.name],
        key=lambda c: (c.observed_by, c.first_seen, c.original.src, c.original.sport or 0),
    )
    answers = dns_answers(node, traffic)
    lost = traffic.procnet_lost[node.name]
    return model.Snapshot(
        snapshot_id=stable_uuid("snapshot", node.name),
        source="host",
        observer=node.name,
        window=model.Window(start=START, end=END),
        collectors=host_collectors(connections, processes, sockets, len(answers), lost),
        hosts=(node_host(node, from_api=False),),
        processes=tuple(processes),
        containers=tuple(container_object(p) for p in local),
        listeners=tuple(sockets),
        connections=tuple(connections),
        dns=answers,
    )


# --- the whole data set ----------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    """The generated snapshots (by file name in ``samples/shop/``) and the ground truth."""

    snapshots: dict[str, model.Snapshot]
    flows: tuple[Flow, ...]
    pods: tuple[PodPlan, ...]

    def files(self) -> dict[Path, bytes]:
        """What :func:`main` writes: path -> bytes."""
        return {OUT_DIR / name: snapshot_io.dumps_snapshot(s) for name, s in self.snapshots.items()}


def build() -> Demo:
    """Generate the whole data set: the same bytes every time."""
    rng = random.Random(SEED)
    pods = place_pods(rng)
    apt = apt_processes(NODE[APT_NODE], rng)
    traffic = Traffic(rng, pods)
    generate(traffic, apt[1])
    snapshots = {"cluster.json": cluster_snapshot(pods)}
    for node in NODES:
        extra = apt if node.name == APT_NODE else ()
        snapshots[f"{node.name}.json"] = node_snapshot(node, pods, traffic, extra)
    return Demo(snapshots, tuple(traffic.flows), pods)


def stale_files(demo: Demo) -> list[Path]:
    """Files whose committed bytes differ from what :func:`build` generates, or are missing."""
    return [
        path
        for path, data in demo.files().items()
        if not path.is_file() or path.read_bytes() != data
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the demo snapshots in samples/shop/.")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a committed file differs"
    )
    args = parser.parse_args(argv)
    demo = build()
    if args.check:
        stale = stale_files(demo)
        for path in stale:
            print(f"{path}: differs from what samples/build.py generates; run it to rewrite")
        return 1 if stale else 0
    OUT_DIR.mkdir(exist_ok=True)
    for name, snapshot in demo.snapshots.items():
        snapshot_io.dump_snapshot(snapshot, OUT_DIR / name)
        print(f"wrote {OUT_DIR / name} ({(OUT_DIR / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

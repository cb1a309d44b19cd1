"""Everything the rules look at, prepared once: flows with both ends described, policies, boundary.

:func:`build_context` takes the snapshots (and optional Kubernetes manifests), builds the
finest graph, and turns each of its connection edges into a :class:`Flow` whose two
:class:`End` s say what the rules need to know: the node at the workload view (findings are
reported there), the pod, namespace, labels and workload, whether the end is inside the
boundary, its zone and DNS names, and whether the collectors tied it to a process or workload.

Boundary: an address is outside when its zone is public or documentation (the graph's zone
table, already refined with the cluster's own ranges) and it is not in the policy file's
``boundary.internal`` CIDRs. Hosts, pods, containers, processes and services are inside.

Policies: NetworkPolicies, AdminNetworkPolicies and the BaselineAdminNetworkPolicy come from
the ``--k8s`` manifests and from the policy objects recorded in cluster snapshots. When a
snapshot says the policies could not be read, :attr:`Context.policies_unreadable` says why and
the policy rules report that they could not be evaluated instead of reporting nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from topomap import graph as graph_module
from topomap import ids, model, views, zones
from topomap import manifests as manifests_module
from topomap.analysis.policy_file import PolicyFile, Source, in_cidrs
from topomap.gcpause import paused_gc
from topomap.model import NodeId
from topomap.policy import engine as engine_module
from topomap.policy import loader
from topomap.policy import objects as o
from topomap.policy.snapshot import cluster_from_snapshots

EXTERNAL_ZONES = frozenset(z.value for z in zones.EXTERNAL_ZONES)
METADATA_ZONE = zones.Zone.METADATA.value


@dataclass(frozen=True, slots=True)
class End:
    """One end of an observed flow, as the rules see it."""

    node: NodeId
    kind: str
    group: NodeId
    """The node standing for it at the workload view (where findings are reported)."""
    pod: NodeId | None
    namespace: str | None
    workload: str | None
    """``namespace/Kind/name`` for pods with a workload."""
    labels: dict[str, str]
    host: NodeId | None
    host_network: bool
    ip: str | None
    """The address, for external (unresolved) ends."""
    zone: str | None
    names: tuple[str, ...]
    outside: bool
    """Outside the declared boundary (public/documentation zone, not declared internal)."""

    @property
    def is_pod(self) -> bool:
        """A pod-network pod (NetworkPolicies apply to it)."""
        return self.pod is not None and not self.host_network

    def as_source(self) -> Source:
        return Source(namespace=self.namespace, workload=self.workload, labels=self.labels)


@dataclass(frozen=True, slots=True)
class Flow:
    """One connection edge of the finest graph."""

    src: End
    dst: End
    protocol: str
    port: int | None
    edge_id: str
    data: dict[str, Any]


@dataclass
class Context:
    """The prepared inputs of one analysis."""

    graph: nx.MultiDiGraph
    flows: list[Flow]
    policy: PolicyFile
    cluster: o.Cluster
    engine: engine_module.PolicyEngine
    has_kubernetes: bool
    policies_unreadable: list[str] = field(default_factory=list)
    pods: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    services: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    host_ports: list[tuple[NodeId, str, int, int]] = field(default_factory=list)
    """``(pod, protocol, containerPort, hostPort)`` of every declared hostPort."""
    listeners: list[tuple[NodeId, str, str, int]] = field(default_factory=list)
    """``(owner node, protocol, ip, port)`` of every listening socket."""
    ingresses: list[dict[str, Any]] = field(default_factory=list)
    """Raw Ingress objects (for the TLS check)."""
    evaluations: list[tuple[Flow, engine_module.Evaluation, bool, bool]] | None = None
    """The policy engine's verdict on every flow with a pod end, with which directions a pod
    decides; computed once by the first policy rule that asks (``rules._evaluations``)."""
    _peers: dict[NodeId, o.Workload] = field(default_factory=dict)
    _address_peers: dict[NodeId, engine_module.Peer | None] = field(default_factory=dict)

    def pod_peer(self, pod: NodeId) -> o.Workload:
        """A pod as the policy engine sees it: a one-pod workload with its labels and ports."""
        found = self._peers.get(pod)
        if found is None:
            attrs = self.pods.get(pod, {})
            found = o.Workload(
                namespace=attrs.get("namespace") or "default",
                name=attrs.get("name", pod),
                kind="Pod",
                labels=dict(attrs.get("labels") or {}),
                named_ports=dict(attrs.get("named_ports", {})),
            )
            self._peers[pod] = found
        return found

    def peer(self, end: End) -> engine_module.Peer | None:
        """The policy engine's view of ``end``: a pod as a one-pod workload, an IPv4 address
        as a one-address range; ``None`` when the engine cannot place it (IPv6, no address)."""
        if end.is_pod and end.pod is not None:
            return self.pod_peer(end.pod)
        if end.node in self._address_peers:
            return self._address_peers[end.node]
        found: engine_module.Peer | None = None
        ip = end.ip or _host_ip(self.graph, end)
        if ip is not None:
            addr = zones.parse_ip(ip)
            if addr.version == 4:
                found = engine_module.IPRange(int(addr), int(addr))
        self._address_peers[end.node] = found
        return found


def _host_ip(g: nx.MultiDiGraph, end: End) -> str | None:
    if end.host and end.host in g:
        ips = g.nodes[end.host].get("ips") or []
        return str(ips[0]) if ips else None
    return None


def _workload_ref(group: NodeId, attrs: dict[str, Any]) -> str | None:
    if group.startswith("workload:"):
        return group.partition(":")[2]
    return None


class _Ends:
    """Builds (and caches) the :class:`End` of every node."""

    def __init__(self, g: nx.MultiDiGraph, policy: PolicyFile) -> None:
        self.g = g
        self.internal = policy.boundary.internal
        self.cache: dict[NodeId, End] = {}

    def __call__(self, node: NodeId) -> End:
        found = self.cache.get(node)
        if found is None:
            found = self.cache[node] = self._make(node)
        return found

    def _make(self, node: NodeId) -> End:
        g = self.g
        attrs = g.nodes[node]
        kind = attrs["kind"]
        group = views.group_of(node, attrs, "workload")
        pod = attrs.get("pod") if kind in ("process", "container", "pod") else None
        if kind == "pod":
            pod = node
        pod_attrs = g.nodes[pod] if pod and pod in g else {}
        ip = attrs.get("ip") if kind == "external" else None
        zone = attrs.get("zone")
        outside = (
            kind == "external"
            and zone in EXTERNAL_ZONES
            and not (ip and self.internal and in_cidrs(ip, self.internal))
        )
        return End(
            node=node,
            kind=kind,
            group=group,
            pod=pod,
            namespace=pod_attrs.get("namespace") or attrs.get("namespace"),
            workload=_workload_ref(group, attrs),
            labels=dict(pod_attrs.get("labels") or {}),
            host=attrs.get("host"),
            host_network=bool(pod_attrs.get("host_network")),
            ip=ip,
            zone=zone,
            names=tuple(attrs.get("dns_names") or ()),
            outside=outside,
        )


def edge_id(src: NodeId, dst: NodeId, key: str) -> str:
    """How findings name an edge: ``<source> -> <target> <protocol>/<port>``."""
    return f"{src} -> {dst} {key}"


def _named_ports(pod: model.Pod) -> dict[str, tuple[str, int]]:
    return {
        port.name: (port.protocol.upper(), port.port)
        for container in pod.containers
        for port in container.ports
        if port.name
    }


def build_context(
    snapshots: Sequence[model.Snapshot],
    policy: PolicyFile,
    *,
    manifests: Iterable[str | Path] = (),
) -> Context:
    """Build the graph and everything the rules need from ``snapshots`` (and manifests).

    The cyclic garbage collector is paused meanwhile (as for the graph build): the context is
    hundreds of thousands of small acyclic objects, and full collections over them were a
    fifth of the analysis time (benchmarks/analyze.py).
    """
    with paused_gc():
        return _build_context(snapshots, policy, manifests)


def _build_context(
    snapshots: Sequence[model.Snapshot], policy: PolicyFile, manifests: Iterable[str | Path]
) -> Context:
    g = graph_module.build_graph(snapshots)
    manifest_paths = list(manifests)
    recorded = cluster_from_snapshots(snapshots)
    cluster: o.Cluster = recorded.cluster
    ingresses = [
        obj for snap in snapshots for obj in snap.policy_objects if obj.get("kind") == "Ingress"
    ]
    if manifest_paths:
        given = loader.load_cluster(manifest_paths)
        cluster.policies.extend(given.policies)
        cluster.admin_policies.extend(given.admin_policies)
        cluster.baseline = cluster.baseline or given.baseline
        for name, ns in given.namespaces.items():
            cluster.namespaces.setdefault(name, ns)
        ingresses += [
            doc.obj
            for doc in manifests_module.read_documents(manifest_paths, [])
            if doc.obj.get("kind") == "Ingress"
        ]
    for attrs in g.graph.get("groups", {}).values():
        if attrs.get("kind") == "namespace" and attrs["name"] not in cluster.namespaces:
            name = attrs["name"]
            cluster.namespaces[name] = o.Namespace(
                name, {"kubernetes.io/metadata.name": name, **(attrs.get("labels") or {})}
            )
    unreadable = [
        f"{u.verb} {u.resource}{'.' + u.group if u.group else ''}: "
        f"{u.status or 'no answer'}: {u.reason}"
        for u in recorded.unreadable
    ]
    ctx = Context(
        graph=g,
        flows=[],
        policy=policy,
        cluster=cluster,
        engine=engine_module.PolicyEngine(cluster),
        has_kubernetes=any(s.pods or s.services for s in snapshots) or bool(manifest_paths),
        policies_unreadable=unreadable,
        ingresses=ingresses,
    )
    for node, attrs in g.nodes(data=True):
        if attrs["kind"] == "pod":
            ctx.pods[node] = dict(attrs)
        elif attrs["kind"] == "service":
            ctx.services[node] = dict(attrs)
    pod_ids = {
        (p.namespace, p.name): f"pod:{p.namespace}/{p.name}" for s in snapshots for p in s.pods
    }
    for snap in snapshots:
        for pod in snap.pods:
            node = NodeId(pod_ids[(pod.namespace, pod.name)])
            if node in ctx.pods:
                ctx.pods[node]["named_ports"] = _named_ports(pod)
            for container in pod.containers:
                for port in container.ports:
                    if port.host_port:
                        ctx.host_ports.append((node, port.protocol, port.port, port.host_port))
    for snap in snapshots:
        for listener in snap.listeners:
            if listener.process is None or zones.classify(listener.ip) == zones.Zone.LOOPBACK:
                continue
            proc = ids.process(listener.host, listener.process.pid, listener.process.start_ticks)
            owner: NodeId | None = g.nodes[proc].get("pod") if proc in g else None
            if owner and ctx.pods.get(owner, {}).get("host_network"):
                ctx.listeners.append((owner, listener.protocol, listener.ip, listener.port))
    ends = _Ends(g, policy)
    for src, dst, key, data in g.edges(keys=True, data=True):
        ctx.flows.append(
            Flow(
                src=ends(src),
                dst=ends(dst),
                protocol=data["protocol"],
                port=data.get("port"),
                edge_id=edge_id(src, dst, key),
                data=data,
            )
        )
    return ctx

"""The observation schema: what a Snapshot file holds, as frozen dataclasses.

A Snapshot is what one host (or the cluster API, or one packet capture) observed over one time
window. Collectors build these objects and nothing else; everything after them (graph, views,
analysis, export) reads them. The classes here are the single source of truth for the file
format: the loader in :mod:`topomap.snapshot_io` decodes JSON into them field by field, and the
published JSON Schema (``docs/snapshot.schema.json``) is generated from them.

Conventions: times are timezone-aware UTC ``datetime``; addresses are strings as the source
wrote them (canonicalised by :mod:`topomap.zones` when the graph is built); every list is a tuple
so snapshots are immutable and hashable where needed. This module does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NewType

#: Version of the Snapshot file format written by this topomap.
SCHEMA_VERSION = 1

NodeId = NewType("NodeId", str)
"""A graph node id with its kind prefix: ``pod:shop/web-1``, ``external:203.0.113.7``."""

Protocol = Literal["tcp", "udp", "sctp", "icmp", "icmpv6"]
Side = Literal["src", "dst"]
Initiator = Literal["src", "dst", "unknown"]
SourceKind = Literal["host", "cluster", "capture", "mixed"]
CollectorStatus = Literal["ok", "partial", "unavailable", "failed"]
WorkloadKind = Literal[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
TunnelKind = Literal["vxlan", "geneve", "gre", "ipip"]
TcpFlag = Literal["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """The collection window: every observation in the snapshot falls inside it."""

    start: datetime
    """When collection began (UTC)."""
    end: datetime
    """When collection ended (UTC); equal to ``start`` for a one-shot poll."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CollectorRun:
    """One collector's part in the snapshot: what it saw, and what it could not see."""

    name: str
    """Collector name, e.g. ``conntrack``, ``procnet``, ``kubernetes``."""
    version: str
    """Version of the collector (topomap's version for the bundled ones)."""
    status: CollectorStatus
    """``ok``; ``partial`` (ran, with blind spots listed in ``warnings``/``skipped``);
    ``unavailable`` (could not run at all: see ``reason``); ``failed`` (broke mid-run)."""
    reason: str | None = None
    """Why the collector is unavailable or failed, with the fix where one is known."""
    counts: dict[str, int] = field(default_factory=dict)
    """What it recorded, by kind: ``{"connections": 412, "processes": 97}``."""
    skipped: dict[str, int] = field(default_factory=dict)
    """What it saw but could not record, by reason: ``{"process exited mid-scan": 3}``."""
    warnings: tuple[str, ...] = ()
    """Blind spots in words, e.g. ``networkpolicies: forbidden (list, networking.k8s.io)``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Host:
    """A machine (VM, bare metal, or Kubernetes node) and the addresses it owns."""

    name: str
    """Host name; the Kubernetes node name when the host is a node."""
    ips: tuple[str, ...] = ()
    """Addresses assigned to the host's own interfaces (not its pods')."""
    machine_id: str | None = None
    """``/etc/machine-id`` when known: tells apart two hosts with the same name."""
    labels: dict[str, str] = field(default_factory=dict)
    """Node labels when the host is a Kubernetes node (zone, instance type, role)."""
    pod_cidrs: tuple[str, ...] = ()
    """Pod CIDRs assigned to this node, when it is a Kubernetes node."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Process:
    """A process, identified by pid *and* start time so a reused pid is a different process."""

    host: str
    """Name of the host the process runs on."""
    pid: int
    """Process id as seen from the host's pid namespace."""
    start_ticks: int
    """Start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""
    start_time: datetime | None = None
    """Start time as wall-clock UTC, when the boot time is known."""
    ppid: int | None = None
    """Parent process id."""
    comm: str = ""
    """Short command name (``/proc/<pid>/comm``)."""
    exe: str | None = None
    """Resolved executable path; ``None`` when unreadable (kernel thread, no privilege)."""
    cmdline: tuple[str, ...] = ()
    """Arguments, ``argv[0]`` first."""
    uid: int | None = None
    """Real user id."""
    container_id: str | None = None
    """Full container id when the process runs in a container."""
    netns: str | None = None
    """Network namespace inode (``net:[4026531840]`` -> ``4026531840``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessRef:
    """A pointer to a :class:`Process` in the same snapshot."""

    pid: int
    """Process id."""
    start_ticks: int
    """Start time in clock ticks since boot, as in :attr:`Process.start_ticks`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Container:
    """A container as its runtime reports it."""

    id: str
    """Full container id (64 hex digits for docker, containerd and CRI-O)."""
    host: str
    """Name of the host the container runs on."""
    runtime: str
    """``docker``, ``containerd``, ``cri-o``, ``podman``."""
    name: str | None = None
    """Container name (the Kubernetes container name inside a pod)."""
    image: str | None = None
    """Image reference, with digest when known."""
    pod_uid: str | None = None
    """UID of the pod the container belongs to."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectRef:
    """A reference to a Kubernetes object in the same namespace."""

    kind: str
    """Object kind, e.g. ``Deployment``."""
    name: str
    """Object name."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PodContainer:
    """A container as the pod's status lists it."""

    name: str
    """Container name within the pod."""
    container_id: str | None = None
    """Runtime id without the ``containerd://`` prefix; ``None`` before it started."""
    image: str | None = None
    """Image reference."""
    ports: tuple[ContainerPort, ...] = ()
    """Declared container ports (needed for named ports in NetworkPolicies)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ContainerPort:
    """A port a container declares."""

    port: int = field(metadata={"minimum": 1, "maximum": 65535})
    """The container port number."""
    protocol: Protocol = "tcp"
    """Transport protocol."""
    name: str | None = None
    """Port name, referenced by named ports in NetworkPolicies and Services."""
    host_port: int | None = field(default=None, metadata={"minimum": 1, "maximum": 65535})
    """Host port the container port is published on, if any."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Pod:
    """A Kubernetes pod."""

    namespace: str
    """Namespace of the pod."""
    name: str
    """Pod name."""
    uid: str | None = None
    """Pod UID: joins containers (via their cgroup path) to the pod."""
    node: str | None = None
    """Name of the node (host) the pod is scheduled on."""
    ips: tuple[str, ...] = ()
    """Pod IPs (one per family); the node's IPs for host-network pods."""
    host_network: bool = False
    """Whether the pod shares the node's network namespace."""
    labels: dict[str, str] = field(default_factory=dict)
    """Pod labels."""
    workload: ObjectRef | None = None
    """The top-level owner (Deployment, StatefulSet, ...); ``None`` for a bare pod."""
    containers: tuple[PodContainer, ...] = ()
    """Containers with their runtime ids and declared ports."""
    phase: str | None = None
    """Pod phase when observed (``Running``, ``Succeeded``, ...)."""
    created: datetime | None = None
    """``metadata.creationTimestamp``: from when the pod's IPs are its own."""
    ended: datetime | None = None
    """When the pod gave up its IPs, when known: ``metadata.deletionTimestamp`` of a pod being
    deleted, or the last container's ``finishedAt`` of a ``Succeeded``/``Failed`` pod. With
    ``created``, tells apart pods that held the same IP one after the other."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Workload:
    """A workload controller: what owns pods."""

    namespace: str
    """Namespace of the workload."""
    kind: WorkloadKind
    """Controller kind."""
    name: str
    """Controller name."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels on the controller object."""
    selector: dict[str, str] = field(default_factory=dict)
    """``spec.selector.matchLabels``, when the controller has one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Namespace:
    """A Kubernetes namespace."""

    name: str
    """Namespace name."""
    labels: dict[str, str] = field(default_factory=dict)
    """Namespace labels (``kubernetes.io/metadata.name`` included)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ServicePort:
    """One port of a Service."""

    port: int = field(metadata={"minimum": 1, "maximum": 65535})
    """The service port clients connect to."""
    protocol: Protocol = "tcp"
    """Transport protocol."""
    name: str | None = None
    """Port name."""
    target_port: int | str | None = None
    """Backend port number or container port name."""
    node_port: int | None = field(default=None, metadata={"minimum": 1, "maximum": 65535})
    """Node port, for NodePort and LoadBalancer services."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointPort:
    """A port of an EndpointSlice: the backend port a Service port is sent to."""

    port: int = field(metadata={"minimum": 1, "maximum": 65535})
    """Backend port number (a named ``targetPort`` already resolved by Kubernetes)."""
    protocol: Protocol = "tcp"
    """Transport protocol."""
    name: str | None = None
    """Name of the Service port it serves (``None`` for a Service's single unnamed port)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceEndpoint:
    """A backend address of a Service (from its EndpointSlices)."""

    ip: str
    """Backend address."""
    pod: str | None = None
    """Name of the backend pod in the service's namespace, when it is a pod."""
    ready: bool = True
    """Whether the endpoint was ready."""
    node: str | None = None
    """Node the backend runs on (the slice's ``nodeName``), when known."""
    ports: tuple[EndpointPort, ...] = ()
    """Backend ports of the slice the endpoint is in."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    """A Kubernetes Service."""

    namespace: str
    """Namespace of the service."""
    name: str
    """Service name."""
    type: ServiceType = "ClusterIP"
    """Service type."""
    cluster_ips: tuple[str, ...] = ()
    """Virtual IPs (empty for headless services)."""
    ports: tuple[ServicePort, ...] = ()
    """Service ports."""
    selector: dict[str, str] = field(default_factory=dict)
    """Pod selector."""
    external_ips: tuple[str, ...] = ()
    """``spec.externalIPs``."""
    load_balancer_ips: tuple[str, ...] = ()
    """Addresses (or host names) from ``status.loadBalancer.ingress``."""
    endpoints: tuple[ServiceEndpoint, ...] = ()
    """Backends from the service's EndpointSlices."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Listener:
    """A listening socket (TCP LISTEN, or a bound UDP socket)."""

    host: str
    """Host the socket lives on."""
    protocol: Protocol
    """Transport protocol."""
    ip: str
    """Bound address; ``0.0.0.0`` or ``::`` for all addresses."""
    port: int = field(metadata={"minimum": 0, "maximum": 65535})
    """Bound port."""
    process: ProcessRef | None = None
    """Owning process, when the socket's inode was found in a process's fds."""
    netns: str | None = None
    """Network namespace inode the socket lives in."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FlowTuple:
    """One direction of a connection, as conntrack writes it."""

    src: str
    """Source address."""
    dst: str
    """Destination address."""
    sport: int | None = field(default=None, metadata={"minimum": 0, "maximum": 65535})
    """Source port (``None`` for ICMP)."""
    dport: int | None = field(default=None, metadata={"minimum": 0, "maximum": 65535})
    """Destination port (``None`` for ICMP)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Tunnel:
    """The outer headers an overlay (encapsulated) connection travelled in, as captured."""

    kind: TunnelKind
    """``vxlan``, ``geneve`` (UDP overlays), ``gre`` or ``ipip`` (IPv4/IPv6 in IP)."""
    outer: FlowTuple
    """Outer source and destination (the overlay nodes); ports for the UDP overlays."""
    vni: int | None = field(default=None, metadata={"minimum": 0})
    """VXLAN/Geneve network identifier, or the GRE key, when present."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Connection:
    """One observed connection (a TCP connection, a UDP or ICMP flow).

    ``original`` is the direction the first packet travelled, as conntrack records it; ``reply``
    is the tuple the answer travels on. They differ under NAT: a connection to a Service ClusterIP
    has ``original.dst`` = the ClusterIP and ``reply.src`` = the backend pod that answered.
    """

    protocol: Protocol
    """Transport protocol."""
    original: FlowTuple
    """The tuple of the first packet."""
    reply: FlowTuple | None = None
    """The tuple of the answer, when known: ``reply.src`` reveals DNAT, ``reply.dst`` SNAT."""
    initiator: Initiator = "src"
    """Which end of ``original`` opened the connection; ``unknown`` when the source cannot tell."""
    state: str | None = None
    """Protocol state when observed (``ESTABLISHED``, ``TIME_WAIT``, ``UNREPLIED``, ...)."""
    packets_orig: int | None = field(default=None, metadata={"minimum": 0})
    """Packets sent in the original direction, when counted."""
    bytes_orig: int | None = field(default=None, metadata={"minimum": 0})
    """Bytes sent in the original direction, when counted."""
    packets_reply: int | None = field(default=None, metadata={"minimum": 0})
    """Packets sent in the reply direction, when counted."""
    bytes_reply: int | None = field(default=None, metadata={"minimum": 0})
    """Bytes sent in the reply direction, when counted."""
    first_seen: datetime
    """When the connection was first observed (its start, when the source knows it)."""
    last_seen: datetime
    """When the connection was last observed."""
    observed_by: str
    """Name of the collector that observed it."""
    process: ProcessRef | None = None
    """The local process owning the socket, when the collector saw the socket."""
    process_side: Side | None = None
    """Which end of ``original`` is ``process``."""
    netns: str | None = None
    """Network namespace inode the connection was observed in."""
    conntrack_zone: int | None = None
    """Conntrack zone, when not the default."""
    mark: int | None = None
    """Conntrack mark, when set."""
    tcp_flags: tuple[TcpFlag, ...] = ()
    """TCP flags seen in either direction, in bit order (packet capture only)."""
    tunnel: Tunnel | None = None
    """The overlay tunnel the connection was seen inside (packet capture only)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DnsAnswer:
    """A DNS answer seen on the wire or in a resolver cache: name -> addresses."""

    name: str
    """The queried name, without trailing dot (``api.stripe.com``)."""
    addresses: tuple[str, ...]
    """A and AAAA addresses the name resolved to (after following CNAMEs)."""
    cnames: tuple[str, ...] = ()
    """CNAME chain between the name and the addresses, in order."""
    ttl: int = field(default=0, metadata={"minimum": 0})
    """Smallest TTL in the answer, in seconds."""
    time: datetime
    """When the answer was seen."""
    observed_by: str
    """Name of the collector that saw it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterInfo:
    """Cluster-wide address ranges, used to refine zones."""

    name: str | None = None
    """Cluster name, when known (kubeconfig context or a label)."""
    pod_cidrs: tuple[str, ...] = ()
    """Pod address ranges."""
    service_cidrs: tuple[str, ...] = ()
    """Service (ClusterIP) address ranges."""
    node_cidrs: tuple[str, ...] = ()
    """Ranges the nodes' own addresses come from."""
    unreadable: tuple[UnreadableResource, ...] = ()
    """Resources the collector was not allowed (or not able) to read. What they hold is
    *unknown*, not empty: with ``networkpolicies`` here, no analysis may conclude that no
    NetworkPolicy exists."""


@dataclass(frozen=True, kw_only=True, slots=True)
class UnreadableResource:
    """A Kubernetes resource that could not be read, and why."""

    resource: str
    """Resource (plural) name, e.g. ``networkpolicies``."""
    group: str = ""
    """API group, ``""`` for the core group (``networking.k8s.io``)."""
    verb: str = "list"
    """The verb that was refused."""
    status: int | None = None
    """HTTP status of the refusal (403, 401, ...), ``None`` when there was no answer."""
    reason: str
    """What the API server said, or what went wrong, in one line."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """Everything one source observed over one window: the unit collectors write."""

    schema_version: int = field(default=SCHEMA_VERSION, metadata={"required": True, "minimum": 1})
    """File format version; see ``docs/snapshot.md`` for the history."""
    snapshot_id: str
    """Unique id of this snapshot (a UUID)."""
    source: SourceKind
    """``host`` (host collectors), ``cluster`` (Kubernetes API), ``capture`` (pcap), ``mixed``."""
    observer: str
    """Who observed: the host name for host and capture snapshots, the cluster or context name
    for cluster snapshots."""
    window: Window
    """Collection window."""
    collectors: tuple[CollectorRun, ...] = ()
    """What each collector saw and could not see."""
    cluster: ClusterInfo | None = None
    """Cluster address ranges, when the source knows them."""
    hosts: tuple[Host, ...] = ()
    """Hosts and their addresses (the observing host first for host snapshots)."""
    processes: tuple[Process, ...] = ()
    """Processes seen."""
    containers: tuple[Container, ...] = ()
    """Containers seen."""
    namespaces: tuple[Namespace, ...] = ()
    """Kubernetes namespaces."""
    pods: tuple[Pod, ...] = ()
    """Kubernetes pods."""
    workloads: tuple[Workload, ...] = ()
    """Kubernetes workload controllers."""
    services: tuple[Service, ...] = ()
    """Kubernetes services."""
    listeners: tuple[Listener, ...] = ()
    """Listening sockets."""
    connections: tuple[Connection, ...] = ()
    """Observed connections."""
    dns: tuple[DnsAnswer, ...] = ()
    """DNS answers."""
    policy_objects: tuple[dict[str, Any], ...] = ()
    """NetworkPolicies, AdminNetworkPolicies, the BaselineAdminNetworkPolicy and Ingresses,
    verbatim as the Kubernetes API returns them (``kind`` and ``apiVersion`` set,
    ``metadata.managedFields`` left out), for the policy engine. Which of these resources could
    not be read is in ``cluster.unreadable``."""

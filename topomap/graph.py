"""Build one networkx graph from any number of snapshots.

:func:`build_graph` merges snapshots into the *finest* graph (the ``process`` view): one node per
host, pod, container, process, service and external address, however many snapshots saw it, and
one edge per (client, server, protocol, server port) carrying the summed connections.

How a connection becomes an edge:

1. **One connection, counted once.** Each observation gets two identity keys: the tuple before
   NAT (client -> address it dialled) and after NAT (address the server saw -> server). The client
   host's conntrack (which sees both), the client's socket (which sees the ClusterIP) and the
   server's socket (which sees the backend) therefore fall into one record. Counters of the same
   connection seen twice are not added (both ends count the same packets): the larger is kept.
2. **NAT resolved.** When the reply tuple shows a DNAT (``reply.src`` differs from
   ``original.dst``), the server is the backend that answered, and the Service whose ClusterIP was
   dialled is recorded on the edge (``services``), not used as the endpoint.
3. **Endpoints resolved** to the finest thing known: the socket's own process; a process
   listening on the server port (in the pod, or on the host for host-network pods); the pod by
   IP; the Service by ClusterIP (when no backend is known); the host by its address; else
   ``external:<ip>``, classified by :mod:`topomap.zones` and named by the snapshots' DNS answers.

Containment (host > pod > container > process) is kept as node attributes (``parent`` and the
``host``/``pod``/``container``/``workload``/``namespace``/``services`` ancestry used by
:mod:`topomap.views`), never as edges. Workloads and namespaces are not endpoints; their
attributes live in ``G.graph["groups"]`` until a view needs them as nodes.

Pure: snapshots in, graph out, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from topomap import ids, model, zones
from topomap.model import NodeId

#: Below this, an unknown-initiator flow's lower port is taken as the server (IANA ephemeral
#: ports start at 49152, Linux's at 32768).
EPHEMERAL_PORT_START = 32768

Endpoint = tuple[str, int | None]
FlowKey = tuple[str, Endpoint, Endpoint]
ProcKey = tuple[str, int, int]  # host, pid, start_ticks


def format_time(value: datetime) -> str:
    """UTC, whole seconds, fixed width: sorts as text in time order (graph JSON's time format)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class _Flow:
    """One connection while snapshots are merged (mutable, internal)."""

    protocol: str
    client: Endpoint
    server: Endpoint
    dialled: Endpoint | None  # the ClusterIP-style address dialled, when DNAT was seen
    first: datetime
    last: datetime
    counters: list[int | None]  # packets_c2s, bytes_c2s, packets_s2c, bytes_s2c
    observers: set[str]
    client_proc: ProcKey | None = None
    server_proc: ProcKey | None = None
    keys: list[FlowKey] = field(default_factory=list)

    def absorb(
        self, first: datetime, last: datetime, counters: list[int | None], observers: set[str]
    ) -> None:
        """Fold in another observation of the same connection (counters: larger wins)."""
        if first < self.first:
            self.first = first
        if last > self.last:
            self.last = last
        self.counters = [
            b if a is None else a if b is None else max(a, b)
            for a, b in zip(self.counters, counters, strict=True)
        ]
        self.observers |= observers


@dataclass
class _Inventory:
    """Indexes over everything the snapshots describe (built before any edge)."""

    nodes: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    groups: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    pod_by_ip: dict[str, NodeId] = field(default_factory=dict)
    pod_by_uid: dict[str, NodeId] = field(default_factory=dict)
    host_by_ip: dict[str, NodeId] = field(default_factory=dict)
    service_by_ip: dict[str, NodeId] = field(default_factory=dict)
    # (address or "*" for every node address, protocol, port) -> Service exposing it there
    service_by_exposure: dict[tuple[str, str, int], NodeId] = field(default_factory=dict)
    listener_exact: dict[tuple[str, str, int], NodeId] = field(default_factory=dict)
    listener_in: dict[tuple[NodeId, str, int], NodeId] = field(default_factory=dict)
    netns_owner: dict[tuple[str, str], NodeId] = field(default_factory=dict)
    dns_names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    zone_extra: list[tuple[str, zones.Zone]] = field(default_factory=list)


def _merge_attrs(target: dict[str, Any], attrs: dict[str, Any]) -> None:
    """Fill ``target`` from ``attrs``: empty values never overwrite; lists and dicts union."""
    for key, value in attrs.items():
        if value is None or value == [] or value == {} or value == "":
            target.setdefault(key, value)
            continue
        current = target.get(key)
        if isinstance(value, list) and isinstance(current, list):
            target[key] = sorted(set(current) | set(value))
        elif isinstance(value, dict) and isinstance(current, dict):
            target[key] = {**current, **value}
        else:
            target[key] = value


def _add(store: dict[NodeId, dict[str, Any]], node: NodeId, attrs: dict[str, Any]) -> None:
    _merge_attrs(store.setdefault(node, {}), attrs)


def _index_snapshot(inv: _Inventory, snap: model.Snapshot) -> None:
    """Add one snapshot's entities to the inventory (no connections yet)."""
    if snap.cluster is not None:
        for cidr in snap.cluster.pod_cidrs:
            inv.zone_extra.append((cidr, zones.Zone.CLUSTER_POD))
        for cidr in snap.cluster.service_cidrs:
            inv.zone_extra.append((cidr, zones.Zone.CLUSTER_SERVICE))
        for cidr in snap.cluster.node_cidrs:
            inv.zone_extra.append((cidr, zones.Zone.CLUSTER_NODE))
    for h in snap.hosts:
        node = ids.host(h.name)
        ips = sorted({zones.canonical_ip(ip) for ip in h.ips})
        _add(
            inv.nodes,
            node,
            {
                "kind": "host",
                "label": h.name,
                "name": h.name,
                "ips": ips,
                "labels": dict(h.labels),
                "pod_cidrs": sorted(h.pod_cidrs),
                "host": node,
            },
        )
        if h.machine_id:
            inv.nodes[node]["machine_id"] = h.machine_id
        for ip in ips:
            inv.host_by_ip[ip] = node
        for cidr in h.pod_cidrs:
            inv.zone_extra.append((cidr, zones.Zone.CLUSTER_POD))
    for ns in snap.namespaces:
        _add(
            inv.groups,
            ids.namespace(ns.name),
            {"kind": "namespace", "label": ns.name, "name": ns.name, "labels": dict(ns.labels)},
        )
    for w in snap.workloads:
        _add(
            inv.groups,
            ids.workload(w.namespace, w.kind, w.name),
            {
                "kind": "workload",
                "label": w.name,
                "name": w.name,
                "namespace": w.namespace,
                "workload_kind": w.kind,
                "labels": dict(w.labels),
                "selector": dict(w.selector),
            },
        )
    for p in snap.pods:
        _index_pod(inv, p)
    for s in snap.services:
        _index_service(inv, s)
    for c in snap.containers:
        node = ids.container(c.id)
        attrs: dict[str, Any] = {
            "kind": "container",
            "label": c.name or c.id[:12],
            "container_id": c.id,
            "runtime": c.runtime,
            "name": c.name,
            "image": c.image,
            "host": ids.host(c.host),
            "pod_uid": c.pod_uid,
        }
        _add(inv.nodes, node, attrs)
        _add(
            inv.nodes,
            ids.host(c.host),
            {"kind": "host", "label": c.host, "name": c.host, "host": ids.host(c.host)},
        )
    for proc in snap.processes:
        node = ids.process(proc.host, proc.pid, proc.start_ticks)
        _add(
            inv.nodes,
            node,
            {
                "kind": "process",
                "label": f"{proc.comm or '?'} ({proc.pid})",
                "pid": proc.pid,
                "start_ticks": proc.start_ticks,
                "start_time": format_time(proc.start_time) if proc.start_time else None,
                "ppid": proc.ppid,
                "comm": proc.comm,
                "exe": proc.exe,
                "cmdline": list(proc.cmdline),
                "uid": proc.uid,
                "host": ids.host(proc.host),
                "container": ids.container(proc.container_id) if proc.container_id else None,
                "netns": proc.netns,
            },
        )
        _add(
            inv.nodes,
            ids.host(proc.host),
            {"kind": "host", "label": proc.host, "name": proc.host, "host": ids.host(proc.host)},
        )
    for d in snap.dns:
        names = {d.name.rstrip(".").lower()}
        for ip in d.addresses:
            inv.dns_names[zones.canonical_ip(ip)].update(names)


def _index_pod(inv: _Inventory, p: model.Pod) -> None:
    node = ids.pod(p.namespace, p.name)
    workload = ids.workload(p.namespace, p.workload.kind, p.workload.name) if p.workload else None
    ips = sorted({zones.canonical_ip(ip) for ip in p.ips})
    _add(
        inv.nodes,
        node,
        {
            "kind": "pod",
            "label": p.name,
            "name": p.name,
            "namespace": p.namespace,
            "uid": p.uid,
            "ips": ips,
            "labels": dict(p.labels),
            "host_network": p.host_network,
            "phase": p.phase,
            "host": ids.host(p.node) if p.node else None,
            "workload": workload,
        },
    )
    _add(
        inv.groups,
        ids.namespace(p.namespace),
        {"kind": "namespace", "label": p.namespace, "name": p.namespace},
    )
    if workload is not None and p.workload is not None:
        _add(
            inv.groups,
            workload,
            {
                "kind": "workload",
                "label": p.workload.name,
                "name": p.workload.name,
                "namespace": p.namespace,
                "workload_kind": p.workload.kind,
            },
        )
    if p.node:
        _add(
            inv.nodes,
            ids.host(p.node),
            {"kind": "host", "label": p.node, "name": p.node, "host": ids.host(p.node)},
        )
    if p.uid:
        inv.pod_by_uid[p.uid] = node
    if not p.host_network:
        for ip in ips:
            inv.pod_by_ip[ip] = node
    for c in p.containers:
        if c.container_id:
            _add(
                inv.nodes,
                ids.container(c.container_id),
                {
                    "kind": "container",
                    "label": c.name,
                    "container_id": c.container_id,
                    "name": c.name,
                    "image": c.image,
                    "pod_uid": p.uid,
                    "host": ids.host(p.node) if p.node else None,
                    "pod": node,
                },
            )


def _index_service(inv: _Inventory, s: model.Service) -> None:
    node = ids.service(s.namespace, s.name)
    ports = [
        f"{p.port}/{p.protocol}" + (f"->{p.target_port}" if p.target_port else "") for p in s.ports
    ]
    _add(
        inv.nodes,
        node,
        {
            "kind": "service",
            "label": s.name,
            "name": s.name,
            "namespace": s.namespace,
            "service_type": s.type,
            "cluster_ips": sorted(zones.canonical_ip(i) for i in s.cluster_ips),
            "ports": sorted(ports),
            "selector": dict(s.selector),
            "node_ports": sorted(p.node_port for p in s.ports if p.node_port),
            "external_ips": sorted(s.external_ips),
            "load_balancer_ips": sorted(s.load_balancer_ips),
        },
    )
    _add(
        inv.groups,
        ids.namespace(s.namespace),
        {"kind": "namespace", "label": s.namespace, "name": s.namespace},
    )
    for ip in s.cluster_ips:
        inv.service_by_ip[zones.canonical_ip(ip)] = node
    for port in s.ports:
        if port.node_port:
            inv.service_by_exposure[("*", port.protocol, port.node_port)] = node
        for address in (*s.external_ips, *s.load_balancer_ips):
            try:
                ip = zones.canonical_ip(address)
            except ValueError:  # a load balancer host name, not an address
                continue
            inv.service_by_exposure[(ip, port.protocol, port.port)] = node


def _link_ancestry(inv: _Inventory) -> None:
    """Fill ``parent`` and the ancestry attributes once every snapshot is indexed."""
    nodes = inv.nodes
    pods = [(n, a) for n, a in nodes.items() if a["kind"] == "pod"]
    # Selector matching through an index of (namespace, label, value) -> pods: one set
    # intersection per service instead of services x pods label comparisons.
    by_label: dict[tuple[str, str, str], set[NodeId]] = defaultdict(set)
    for pod, attrs in pods:
        for label, value in (attrs.get("labels") or {}).items():
            by_label[(attrs["namespace"], label, value)].add(pod)
    backends: dict[NodeId, set[NodeId]] = defaultdict(set)
    for svc, attrs in nodes.items():
        selector = attrs.get("selector") if attrs["kind"] == "service" else None
        if not selector:
            continue
        matched = set.intersection(
            *(by_label.get((attrs["namespace"], k, v), set()) for k, v in selector.items())
        )
        for pod in matched:
            backends[pod].add(svc)
    for pod, attrs in pods:
        attrs["parent"] = attrs.get("host")
        attrs["pod"] = pod
        attrs["services"] = sorted(backends.get(pod, ()))
    for node, attrs in nodes.items():
        if attrs["kind"] != "container":
            continue
        owner = attrs.get("pod") or inv.pod_by_uid.get(attrs.get("pod_uid") or "")
        attrs["container"] = node
        _inherit(attrs, nodes.get(owner) if owner else None)
        attrs["parent"] = owner or attrs.get("host")
    for attrs in list(nodes.values()):  # may add containers known only from a process
        if attrs["kind"] != "process":
            continue
        container = attrs.get("container")
        if container and container not in nodes:
            nodes[container] = {
                "kind": "container",
                "label": container[10:22],
                "container_id": container[10:],
                "host": attrs["host"],
                "container": container,
                "parent": attrs["host"],
            }
        cattrs = nodes.get(container) if container else None
        _inherit(attrs, cattrs)
        if cattrs is not None:
            attrs["container"] = container
        attrs["parent"] = container or attrs["host"]
        if attrs.get("netns") and attrs.get("pod"):
            host = attrs["host"][5:]
            inv.netns_owner[(host, attrs["netns"])] = attrs["pod"]


def _inherit(attrs: dict[str, Any], parent: dict[str, Any] | None) -> None:
    if parent is None:
        return
    for key in ("host", "pod", "workload", "namespace", "services"):
        if parent.get(key) is not None and not attrs.get(key):
            attrs[key] = parent[key]


def _index_listeners(inv: _Inventory, snapshots: Iterable[model.Snapshot]) -> None:
    """Map (address or pod or host, protocol, port) to the process listening there."""
    for snap in snapshots:
        for lst in snap.listeners:
            if lst.process is None:
                continue
            proc = ids.process(lst.host, lst.process.pid, lst.process.start_ticks)
            attrs = inv.nodes.get(proc)
            if attrs is None:
                continue
            ip = zones.canonical_ip(lst.ip)
            pod = attrs.get("pod")
            pod_attrs = inv.nodes.get(pod) if pod else None
            in_host_netns = pod_attrs is None or pod_attrs.get("host_network")
            scope: NodeId = attrs["host"] if in_host_netns or pod is None else pod
            if ip in ("0.0.0.0", "::"):
                inv.listener_in.setdefault((scope, lst.protocol, lst.port), proc)
            elif zones.classify(ip) is zones.Zone.LOOPBACK:
                inv.listener_in.setdefault((NodeId(f"{scope}#lo"), lst.protocol, lst.port), proc)
            else:
                inv.listener_exact.setdefault((ip, lst.protocol, lst.port), proc)


def _ends(
    conn: model.Connection, is_server: Any
) -> tuple[bool, Endpoint, Endpoint, Endpoint, Endpoint]:
    """(swapped, client, dialled server, client as the server saw it, answering server).

    ``swapped`` is true when the client is ``original.dst``; then the reply tuple says nothing
    reliable about NAT and is ignored.
    """
    o = conn.original
    src, dst = (o.src, o.sport), (o.dst, o.dport)
    initiator = conn.initiator
    if initiator == "unknown":
        server_is_src = is_server(src, conn.protocol) and not is_server(dst, conn.protocol)
        initiator = "dst" if server_is_src else "src"
    if initiator == "dst":
        return True, dst, src, dst, src
    r = conn.reply
    if r is None:
        return False, src, dst, src, dst
    return False, src, dst, (r.dst, r.dport), (r.src, r.sport)


class _Builder:
    def __init__(self, snapshots: list[model.Snapshot]) -> None:
        self.snapshots = snapshots
        self.inv = _Inventory()
        for snap in snapshots:
            _index_snapshot(self.inv, snap)
        _link_ancestry(self.inv)
        _index_listeners(self.inv, snapshots)
        self.zone_table = zones.ZoneTable.build(self.inv.zone_extra)
        self.flows: dict[FlowKey, _Flow] = {}
        self._canon: dict[str, str] = {}

    def canon(self, ip: str) -> str:
        value = self._canon.get(ip)
        if value is None:
            value = self._canon[ip] = zones.canonical_ip(ip)
        return value

    def is_server(self, end: Endpoint, protocol: str) -> bool:
        ip, port = end
        if port is None:
            return False
        ip = self.canon(ip)
        if (ip, protocol, port) in self.inv.listener_exact or ip in self.inv.service_by_ip:
            return True
        return port < EPHEMERAL_PORT_START

    def scoped(self, end: Endpoint, host: str, netns: str | None) -> Endpoint:
        """Canonical address; loopback addresses are qualified by where they were seen."""
        ip = self.canon(end[0])
        if zones.classify(ip) in (zones.Zone.LOOPBACK, zones.Zone.UNSPECIFIED):
            ip = f"{ip}@{host}/{netns or ''}"
        return ip, end[1]

    def add_connections(self) -> None:
        for snap in self.snapshots:
            for conn in snap.connections:
                self.add_connection(snap, conn)

    def add_connection(self, snap: model.Snapshot, conn: model.Connection) -> None:
        host = snap.observer
        swapped, *ends = _ends(conn, self.is_server)
        client, dialled, client_seen, server = (self.scoped(e, host, conn.netns) for e in ends)
        proto = conn.protocol
        pre, post = (proto, client, dialled), (proto, client_seen, server)
        flow = self._join(self.flows.get(pre), self.flows.get(post))
        c = (conn.packets_orig, conn.bytes_orig, conn.packets_reply, conn.bytes_reply)
        counters: list[int | None] = [c[2], c[3], c[0], c[1]] if swapped else list(c)
        observer = f"{conn.observed_by}@{host}"
        nat = server != dialled
        if flow is None:
            flow = _Flow(
                proto,
                client,
                server,
                dialled if nat else None,
                conn.first_seen,
                conn.last_seen,
                counters,
                {observer},
            )
        else:
            flow.absorb(conn.first_seen, conn.last_seen, counters, {observer})
            if nat and flow.dialled is None:  # this view saw the NAT: it knows the backend
                flow.dialled, flow.server, flow.client = dialled, server, client
        if conn.process is not None:
            proc = (host, conn.process.pid, conn.process.start_ticks)
            if (conn.process_side != "dst") != swapped:
                flow.client_proc = proc
            else:
                flow.server_proc = proc
        for key in (pre, post):
            if key not in flow.keys:
                flow.keys.append(key)
                self.flows[key] = flow

    def _join(self, a: _Flow | None, b: _Flow | None) -> _Flow | None:
        """One flow for two keys: when each key already had its own flow, fold b into a."""
        if a is None or b is None or a is b:
            return a or b
        a.absorb(b.first, b.last, b.counters, b.observers)
        if a.dialled is None and b.dialled is not None:
            a.dialled, a.server, a.client = b.dialled, b.server, b.client
        a.client_proc = a.client_proc or b.client_proc
        a.server_proc = a.server_proc or b.server_proc
        for key in b.keys:
            if key not in a.keys:
                a.keys.append(key)
            self.flows[key] = a
        return a

    def service_dialled(self, protocol: str, ip: str, port: int | None) -> str:
        """The Service behind a DNATed address: ClusterIP, externalIP, LB ingress or NodePort."""
        inv = self.inv
        found = inv.service_by_ip.get(ip)
        if found is None and port is not None:
            found = inv.service_by_exposure.get((ip, protocol, port)) or (
                inv.service_by_exposure.get(("*", protocol, port))
            )
        return found or f"{ip}:{port}"

    # --- endpoint resolution -------------------------------------------------------------

    def ensure_process(self, proc: ProcKey) -> NodeId:
        node = ids.process(*proc)
        if node not in self.inv.nodes:
            host = ids.host(proc[0])
            self.inv.nodes[node] = {
                "kind": "process",
                "label": f"? ({proc[1]})",
                "pid": proc[1],
                "start_ticks": proc[2],
                "host": host,
                "parent": host,
            }
        return node

    def resolve(self, end: Endpoint, protocol: str, role: str, flow: _Flow) -> NodeId:
        proc = flow.client_proc if role == "client" else flow.server_proc
        if proc is not None:
            return self.ensure_process(proc)
        ip, port = end
        inv = self.inv
        if "@" in ip:  # loopback, qualified with the observing host and netns
            host_name, _, netns = ip.partition("@")[2].partition("/")
            scope = inv.netns_owner.get((host_name, netns)) or ids.host(host_name)
            if role == "server" and port is not None:
                found = inv.listener_in.get(
                    (NodeId(f"{scope}#lo"), protocol, port)
                ) or inv.listener_in.get((scope, protocol, port))
                if found:
                    return found
            return scope
        if role == "server" and port is not None:
            found = inv.listener_exact.get((ip, protocol, port))
            if found:
                return found
        pod = inv.pod_by_ip.get(ip)
        if pod is not None:
            if role == "server" and port is not None:
                return inv.listener_in.get((pod, protocol, port), pod)
            return pod
        service = inv.service_by_ip.get(ip)
        if service is not None:
            return service
        host = inv.host_by_ip.get(ip)
        if host is not None:
            if role == "server" and port is not None:
                return inv.listener_in.get((host, protocol, port), host)
            return host
        node = ids.external(ip)
        if node not in inv.nodes:
            names = sorted(inv.dns_names.get(ip, ()))
            inv.nodes[node] = {
                "kind": "external",
                "label": names[0] if names else ip,
                "ip": ip,
                "zone": self.zone_table.classify(ip).value,
                "dns_names": names,
            }
        return node

    def build(self) -> nx.MultiDiGraph:
        self.add_connections()
        edges: dict[tuple[NodeId, NodeId, str], dict[str, Any]] = {}
        seen: set[int] = set()
        times: dict[datetime, str] = {}
        for flow in self.flows.values():
            if id(flow) in seen:
                continue
            seen.add(id(flow))
            u = self.resolve(flow.client, flow.protocol, "client", flow)
            v = self.resolve(flow.server, flow.protocol, "server", flow)
            port = flow.server[1]
            key = f"{flow.protocol}/{port}" if port is not None else flow.protocol
            first = times.get(flow.first) or times.setdefault(flow.first, format_time(flow.first))
            last = times.get(flow.last) or times.setdefault(flow.last, format_time(flow.last))
            known = [x for x in (flow.counters[0], flow.counters[2]) if x is not None]
            edge = edges.get((u, v, key))
            if edge is None:
                edge = edges[(u, v, key)] = {
                    "protocol": flow.protocol,
                    "port": port,
                    "ports": [] if port is None else [port],
                    "connections": 0,
                    "packets": 0,
                    "bytes": 0,
                    "counted": 0,
                    "first_seen": first,
                    "last_seen": last,
                    "observed_by": set(),
                    "services": set(),
                }
            edge["connections"] += 1
            if known:
                edge["counted"] += 1
                edge["packets"] += sum(known)
                edge["bytes"] += sum(x for x in (flow.counters[1], flow.counters[3]) if x)
            if first < edge["first_seen"]:
                edge["first_seen"] = first
            if last > edge["last_seen"]:
                edge["last_seen"] = last
            edge["observed_by"].update(flow.observers)
            if flow.dialled is not None:
                edge["services"].add(self.service_dialled(flow.protocol, *flow.dialled))
        graph = nx.MultiDiGraph()
        graph.graph.update(self.metadata())
        graph.add_nodes_from(self.inv.nodes.items())
        graph.add_edges_from(
            (
                u,
                v,
                key,
                {
                    **attrs,
                    "observed_by": sorted(attrs["observed_by"]),
                    "services": sorted(attrs["services"]),
                },
            )
            for (u, v, key), attrs in edges.items()
        )
        return graph

    def metadata(self) -> dict[str, Any]:
        starts = [s.window.start for s in self.snapshots]
        ends = [s.window.end for s in self.snapshots]
        coverage = sorted(
            (
                {
                    "observer": s.observer,
                    "collector": run.name,
                    "version": run.version,
                    "status": run.status,
                    "reason": run.reason,
                    "warnings": list(run.warnings),
                    "skipped": dict(sorted(run.skipped.items())),
                }
                for s in self.snapshots
                for run in s.collectors
            ),
            key=lambda item: (item["observer"], item["collector"]),
        )
        return {
            "view": "process",
            "window": {
                "start": format_time(min(starts)) if starts else None,
                "end": format_time(max(ends)) if ends else None,
            },
            "scope": {
                "observers": sorted({s.observer for s in self.snapshots}),
                "sources": sorted({s.source for s in self.snapshots}),
                "snapshots": len(self.snapshots),
                "zones": sorted({f"{cidr}={zone.value}" for cidr, zone in self.inv.zone_extra}),
            },
            "coverage": coverage,
            "groups": {k: self.inv.groups[k] for k in sorted(self.inv.groups)},
        }


def build_graph(snapshots: Iterable[model.Snapshot]) -> nx.MultiDiGraph:
    """Merge snapshots into the finest graph (the ``process`` view).

    Parameters
    ----------
    snapshots
        Any number of snapshots, from any mix of hosts, the cluster API and captures.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes keyed by id (see :mod:`topomap.ids`) with ``kind``, ``label`` and ancestry
        attributes; edges keyed ``"<protocol>/<server port>"`` with ``protocol``, ``port``,
        ``ports``, ``connections``, ``packets``, ``bytes``, ``counted`` (connections whose
        counters were known), ``first_seen``, ``last_seen``, ``observed_by`` and ``services``.
    """
    return _Builder(list(snapshots)).build()

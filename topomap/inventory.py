"""The inventory: every entity the snapshots describe, indexed before any connection is added.

Hosts, namespaces, workloads, pods, services, containers and processes become node attribute
dicts keyed by node id (the same thing seen by several snapshots is merged into one dict:
empty values never overwrite, lists and dicts are unioned). Alongside, the indexes that
connection resolution needs: pod by IP and UID, host by IP, Service by ClusterIP and by exposure
(NodePort, externalIPs, load balancer), listening process by address or by pod/host, and pod
by network namespace. Containment (``parent``) and ancestry (``host``, ``pod``, ``container``,
``workload``, ``namespace``, ``services``) are linked once everything is indexed.

Pure: snapshots in, dicts out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from topomap import ids, model, zones
from topomap.model import NodeId


def format_time(value: datetime) -> str:
    """UTC, whole seconds, fixed width: sorts as text in time order (graph JSON's time format).

    >>> format_time(datetime(2026, 11, 28, 10, 0, 5, 999, tzinfo=UTC))
    '2026-11-28T10:00:05Z'
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # %-formatting the fields takes half the time of isoformat(), strftime() or an f-string
    # with format specs; a graph build formats every process's start time (graph_build.py)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
    )


@dataclass
class Inventory:
    """Indexes over everything the snapshots describe (built before any edge)."""

    nodes: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    groups: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    pod_by_ip: dict[str, NodeId] = field(default_factory=dict)
    pod_by_uid: dict[str, NodeId] = field(default_factory=dict)
    host_by_ip: dict[str, NodeId] = field(default_factory=dict)
    service_by_ip: dict[str, NodeId] = field(default_factory=dict)
    # (address or "*" for every node address, protocol, port) -> Service exposing it there
    service_by_exposure: dict[tuple[str, str, int], NodeId] = field(default_factory=dict)
    # (address dialled, protocol, port) -> ready backends (ip, port) from EndpointSlices
    service_backends: dict[tuple[str, str, int], tuple[tuple[str, int], ...]] = field(
        default_factory=dict
    )
    # (host node, protocol, port) -> pod serving there: host-network pods and hostPorts
    host_port_pods: dict[tuple[NodeId, str, int], NodeId] = field(default_factory=dict)
    # address -> [(from, until, pod)] for addresses several pods held one after the other
    pod_ip_times: dict[str, list[tuple[datetime, datetime, NodeId]]] = field(default_factory=dict)
    listener_exact: dict[tuple[str, str, int], NodeId] = field(default_factory=dict)
    listener_in: dict[tuple[NodeId, str, int], NodeId] = field(default_factory=dict)
    netns_owner: dict[tuple[str, str], NodeId] = field(default_factory=dict)
    lifetimes: dict[NodeId, tuple[datetime, datetime]] = field(default_factory=dict)
    shared_ips: dict[str, set[NodeId]] = field(default_factory=lambda: defaultdict(set))
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
    current = store.get(node)
    if current is None:  # the common case: first sighting, nothing to merge
        store[node] = attrs
    else:
        _merge_attrs(current, attrs)


def index_snapshot(inv: Inventory, snap: model.Snapshot) -> None:
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
    seen_hosts: set[str] = set()

    def add_host(name: str) -> None:
        if name not in seen_hosts:
            seen_hosts.add(name)
            node = ids.host(name)
            _add(inv.nodes, node, {"kind": "host", "label": name, "name": name, "host": node})

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
        add_host(c.host)
    # The per-process loop runs 50,000 times in benchmarks/graph_build.py: the host and
    # container ids it repeats are made once per snapshot, and _add is written out.
    nodes = inv.nodes
    host_ids: dict[str, NodeId] = {}
    container_ids: dict[str, NodeId] = {}
    for proc in snap.processes:
        node = ids.process(proc.host, proc.pid, proc.start_ticks)
        host = host_ids.get(proc.host) or host_ids.setdefault(proc.host, ids.host(proc.host))
        cid = proc.container_id
        container = None
        if cid:
            container = container_ids.get(cid) or container_ids.setdefault(cid, ids.container(cid))
        attrs = {
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
            "host": host,
            "container": container,
            "netns": proc.netns,
        }
        current = nodes.get(node)
        if current is None:
            nodes[node] = attrs
        else:
            _merge_attrs(current, attrs)
        if proc.host not in seen_hosts:
            add_host(proc.host)
    dns_names, canonical_ip = inv.dns_names, zones.canonical_ip
    for d in snap.dns:
        name = d.name.rstrip(".").lower()
        for ip in d.addresses:
            dns_names[canonical_ip(ip)].add(name)


def _index_pod(inv: Inventory, p: model.Pod) -> None:
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
        _lifetime(inv, node, p.created, p.ended)
        for ip in ips:
            previous = inv.pod_by_ip.get(ip)
            if previous is not None and previous != node:
                inv.shared_ips[ip].update((previous, node))
            inv.pod_by_ip[ip] = node
    if p.node:
        host = ids.host(p.node)
        for c in p.containers:
            for cp in c.ports:
                port = cp.port if p.host_network else cp.host_port
                if port:
                    inv.host_port_pods.setdefault((host, cp.protocol, port), node)
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


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _lifetime(
    inv: Inventory, node: NodeId, created: datetime | None, ended: datetime | None
) -> None:
    """Merge what a snapshot knows of a pod's lifetime: known times win over unknown ones."""
    start, end = created or _EARLIEST, ended or _LATEST
    old = inv.lifetimes.get(node)
    if old is not None:
        start, end = max(start, old[0]), min(end, old[1])
    inv.lifetimes[node] = (start, end)


def pod_at(inv: Inventory, ip: str, when: datetime) -> NodeId | None:
    """The pod that held ``ip`` at ``when``, for an address several pods held in turn.

    The pod whose lifetime (creation to end) contains ``when``, the latest created if several
    do; else the one that ended last before ``when`` (a pod that left keeps its identity); else
    the first created. ``None`` when only one pod ever had the address (``pod_by_ip`` says).
    """
    held = inv.pod_ip_times.get(ip)
    if held is None:
        return None
    covering = [pod for start, end, pod in held if start <= when <= end]
    if covering:
        return covering[-1]
    ended = [(end, pod) for _, end, pod in held if end < when]
    if ended:
        return max(ended)[1]
    return held[0][2]


def _index_service(inv: Inventory, s: model.Service) -> None:
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
            "exposures": exposures(s),
        },
    )
    _add(
        inv.groups,
        ids.namespace(s.namespace),
        {"kind": "namespace", "label": s.namespace, "name": s.namespace},
    )
    for ip in s.cluster_ips:
        inv.service_by_ip[zones.canonical_ip(ip)] = node
    dialled = [zones.canonical_ip(ip) for ip in s.cluster_ips]
    for port in s.ports:
        if port.node_port:
            inv.service_by_exposure[("*", port.protocol, port.node_port)] = node
        for address in (*s.external_ips, *s.load_balancer_ips):
            try:
                ip = zones.canonical_ip(address)
            except ValueError:  # a load balancer host name, not an address
                continue
            inv.service_by_exposure[(ip, port.protocol, port.port)] = node
            dialled.append(ip)
        backends = service_backends(s, port)
        if backends:
            for ip in dialled:
                inv.service_backends[(ip, port.protocol, port.port)] = backends


def exposures(s: model.Service) -> list[str]:
    """Where a Service is reachable besides its ClusterIPs, as ``"<how> <address>:<port>/<proto>"``
    (``NodePort *:30080/tcp`` is every node's address)."""
    found: set[str] = set()
    for port in s.ports:
        if port.node_port:
            found.add(f"NodePort *:{port.node_port}/{port.protocol}")
        for ip in s.external_ips:
            found.add(f"externalIP {ip}:{port.port}/{port.protocol}")
        for ip in s.load_balancer_ips:
            found.add(f"LoadBalancer {ip}:{port.port}/{port.protocol}")
    return sorted(found)


def service_backends(s: model.Service, port: model.ServicePort) -> tuple[tuple[str, int], ...]:
    """The ready backends ``(ip, port)`` a Service port sends to, from its EndpointSlices.

    A slice's ports are the Service's ports by name (the only one may be unnamed) with named
    target ports already resolved; without slice ports, a numeric ``targetPort`` (or the port
    itself) is the backend port.
    """
    out: set[tuple[str, int]] = set()
    for endpoint in s.endpoints:
        if not endpoint.ready:
            continue
        number: int | None = None
        for candidate in endpoint.ports:
            if candidate.name == port.name and candidate.protocol == port.protocol:
                number = candidate.port
                break
        if number is None and not endpoint.ports:
            target = port.target_port
            number = target if isinstance(target, int) else port.port if target is None else None
        if number is not None:
            out.add((zones.canonical_ip(endpoint.ip), number))
    return tuple(sorted(out))


def link_ancestry(inv: Inventory) -> None:
    """Fill ``parent`` and the ancestry attributes once every snapshot is indexed."""
    nodes = inv.nodes
    for address, holders in inv.shared_ips.items():
        inv.pod_ip_times[address] = sorted((*inv.lifetimes[p], p) for p in holders)
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


def index_listeners(inv: Inventory, snapshots: Iterable[model.Snapshot]) -> None:
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

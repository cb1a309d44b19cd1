"""The connectivity list: every (source, destination) pair with the connections allowed.

Pairs run over workloads and the IP atoms of the policies (sources from ingress CIDRs,
destinations from egress CIDRs), plus ``{ingress-controller}`` when Ingress or Route objects
send traffic to workloads. Self pairs and IP-to-IP pairs are left out, as are pairs with no
allowed connection; lines are sorted by source then destination name, byte-wise, exactly as
netpol-analyzer sorts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from topomap.policy import objects as o
from topomap.policy.connset import EMPTY, ConnSet
from topomap.policy.engine import IngressController, IPRange, Peer, PolicyEngine
from topomap.policy.loader import LoadedCluster


@dataclass(frozen=True, slots=True)
class Line:
    src: Peer
    dst: Peer
    conns: ConnSet

    def txt(self) -> str:
        return f"{self.src.display} => {self.dst.display} : {self.conns.txt()}"


def _service_ports(
    svc: o.Service, wanted: int | str | None, kind: str
) -> tuple[o.ServicePort, ...]:
    """The Service port a backend port names: the first whose name, port or target port it
    equals (a name matches a target port only for Routes); every port when none is named."""
    if wanted is None:
        return svc.ports
    for port in svc.ports:
        if (
            (port.name is not None and port.name == wanted)
            or port.port == wanted
            or (port.target_port == wanted and (isinstance(wanted, int) or kind == "Route"))
        ):
            return (port,)
    return ()


def backend_conns(
    cluster: o.Cluster, backend: o.IngressBackend, workload: o.Workload
) -> ConnSet | None:
    """TCP ports one Ingress/Route backend sends to ``workload``; None when its Service does not
    select the workload.

    As netpol-analyzer's ingress analyzer: the target of the Service port the backend names
    (a container port name resolved on the pod) counts only if it is TCP and one of the pod's
    container ports; a VirtualMachine exposes every TCP port.
    """
    if backend.namespace != workload.namespace:
        return None
    exposed = (
        cluster.container_ports.get(workload.display, ())
        if isinstance(cluster, LoadedCluster)
        else None  # unknown: a Cluster the loader did not read
    )
    found: ConnSet | None = None
    for svc in cluster.services:
        if svc.namespace != backend.namespace or svc.name != backend.service:
            continue
        if not svc.selector or any(workload.labels.get(k) != v for k, v in svc.selector.items()):
            continue
        found = found or EMPTY
        for port in _service_ports(svc, backend.port, backend.source_kind):
            target = port.target_port if port.target_port is not None else port.port
            if isinstance(target, str):
                named = workload.named_ports.get(target)
                if named is None or named[0] != "TCP":
                    continue
                target = named[1]
            if workload.kind == "VirtualMachine" or exposed is None or ("TCP", target) in exposed:
                found = found | ConnSet.of("TCP", target)
    return found


def ingress_controller_conns(cluster: o.Cluster, workload: o.Workload) -> ConnSet:
    """TCP ports that all Ingress/Route objects together send to ``workload``."""
    out = EMPTY
    for backend in cluster.ingress_backends:
        out = out | (backend_conns(cluster, backend, workload) or EMPTY)
    return out


def connlist(engine: PolicyEngine) -> list[Line]:
    """All allowed (src, dst, conns), sorted like netpol-analyzer's ``list`` output."""
    workloads = engine.cluster.workloads
    sources: list[Peer] = [*workloads, *engine.ip_atoms("ingress")]
    destinations: list[Peer] = [*workloads, *engine.ip_atoms("egress")]
    lines: list[Line] = []
    for src in sources:
        for dst in destinations:
            if src is dst or (isinstance(src, IPRange) and isinstance(dst, IPRange)):
                continue
            if src.display == dst.display:
                continue
            conns = engine.allowed(src, dst)
            if conns:
                lines.append(Line(src, dst, conns))
    if engine.cluster.ingress_backends:
        controller = IngressController()
        for dst in workloads:
            wanted = ingress_controller_conns(engine.cluster, dst)
            if wanted:
                conns = wanted & engine.allowed(controller, dst)
                if conns:
                    lines.append(Line(controller, dst, conns))
    lines.sort(key=lambda line: (line.src.display.encode(), line.dst.display.encode()))
    return lines


def render_txt(lines: list[Line]) -> str:
    return "".join(line.txt() + "\n" for line in lines)


def _matches(peer: Peer, names: list[str]) -> bool:
    """A focus value names a workload as ``name`` or ``ns/name`` (``ingress-controller`` too)."""
    if isinstance(peer, IngressController):
        return "ingress-controller" in names
    if not isinstance(peer, o.Workload):
        return False
    return peer.name in names or f"{peer.namespace}/{peer.name}" in names


def focus(
    lines: list[Line],
    workloads: list[str],
    *,
    direction: str | None = None,
    peers: list[str] | None = None,
) -> list[Line]:
    """The lines touching the focus workloads (``--focusworkload``), optionally only one
    direction of theirs (``--focus-direction``) and only with the given peers
    (``--focusworkload-peer``)."""
    kept = []
    for line in lines:
        as_src = direction in (None, "egress") and _matches(line.src, workloads)
        as_dst = direction in (None, "ingress") and _matches(line.dst, workloads)
        if peers is not None:
            as_src = as_src and _matches(line.dst, peers)
            as_dst = as_dst and _matches(line.src, peers)
        if as_src or as_dst:
            kept.append(line)
    return kept


def focus_conn(lines: list[Line], protocol: str, port: int) -> list[Line]:
    """``--focus-conn proto-port``: the pairs that allow that connection, with only it."""
    proto: o.Proto = protocol.upper()  # type: ignore[assignment]
    only = ConnSet.of(proto, port)
    return [Line(x.src, x.dst, only) for x in lines if x.conns.contains(proto, port)]


def render_focus_conn_txt(lines: list[Line], protocol: str, port: int) -> str:
    """The txt spelling of a ``--focus-conn`` result: a header, then ``src => dst`` lines."""
    out = [f"Permitted connections on {protocol.upper()} {port}:"]
    out += [f"{line.src.display} => {line.dst.display}" for line in lines]
    return "\n".join(out) + "\n"

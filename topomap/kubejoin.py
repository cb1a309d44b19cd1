"""Kubernetes joins the graph builder makes beyond addresses: Service backends and reused IPs.

Two things the connection tuples alone cannot tell, answered from the cluster's objects:

* **Which pod a Service connection reached** when no conntrack reply tuple shows the DNAT (a
  client's socket sees only ``ClusterIP:port``). The Service's EndpointSlices list its ready
  backends and their ports: when the backend's own view of the same connection was observed
  (same client address and port, to a backend address and port), the two are one connection;
  otherwise, when the Service has exactly one ready backend for that port, that backend
  answered. With several backends and no other view, the connection stays at the Service.
* **Which pod an address belonged to at the time**, when several pods held it one after the
  other (a pod that left and a new one given its IP): the pod whose lifetime covers the start
  of the connection, or the one that left last before it, so a pod that left before the
  snapshot keeps its identity instead of being taken for its successor.

Called by :mod:`topomap.graph` on its internal flows; pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from topomap import inventory
from topomap.model import NodeId

if TYPE_CHECKING:  # pragma: no cover - types only; graph imports this module
    from topomap.graph import _Builder


def resolve_service_flows(builder: _Builder) -> None:
    """Give flows that dialled a Service address, with no NAT seen, the backend that answered."""
    backends = builder.inv.service_backends
    flows = builder.flows
    for flow in builder.flow_list:
        if flow.merged or flow.dialled is not None or flow.server_port is None:
            continue
        proto = flow.protocol
        candidates = backends.get((flow.server_ip, proto, flow.server_port))
        if not candidates:
            continue
        dialled = (flow.server_ip, flow.server_port, proto)
        seen = [
            other
            for ip, port in candidates
            if (other := flows.get((proto, flow.client_ip, flow.client_port, ip, port))) is not None
            and other is not flow
            and not other.merged
        ]
        if len(seen) == 1:  # the backend's view of this very connection
            other = seen[0]
            backend = (other.server_ip, other.server_port)
            builder._join(flow, other)
        elif len(candidates) == 1:
            backend = candidates[0]
        else:
            continue
        flow.dialled = dialled
        flow.server_ip, flow.server_port = backend


def pod_then(
    inv: inventory.Inventory,
    ip: str,
    when: datetime,
    port: int | None,
    protocol: str,
    default: NodeId,
) -> NodeId:
    """The node for ``ip`` at ``when``: its pod then (or the pod's listener on ``port``)."""
    pod = inventory.pod_at(inv, ip, when)
    if pod is None:
        return default
    if port is not None:
        found = inv.listener_in.get((pod, protocol, port))
        if found is not None:
            return found
    return pod

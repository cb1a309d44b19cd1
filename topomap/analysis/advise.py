"""``topomap policy advise``: least-privilege NetworkPolicies that allow exactly what was seen.

For every pod-network workload (or bare pod) in the observed graph, one NetworkPolicy that
selects its pods for both directions (so everything not listed is denied) and allows:

* ingress from each observed source: a pod as ``namespaceSelector`` (its namespace name) plus
  ``podSelector`` (its workload's selector, or its labels without ``pod-template-hash``), an
  address outside the pod network (a node, an external client) as an ``ipBlock`` /32 or /128;
* egress to each observed destination inside the boundary the same way, and to destinations
  outside it only when the policy file's ``allowed_egress`` allows them (observed addresses, as
  NetworkPolicies cannot name DNS names);

each on exactly the observed protocols and server ports. Rules are grouped by peer, ports
sorted, policies sorted by namespace and name, so the output is stable and reviewable.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml

from topomap import zones
from topomap.analysis import policy_file as pf
from topomap.analysis.context import Context, End
from topomap.model import NodeId

#: Labels that identify a pod instance, not its role: never used in a selector.
_INSTANCE_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "pod-template-generation",
        "batch.kubernetes.io/controller-uid",
        "controller-uid",
    }
)

Peer = tuple[str, ...]  # hashable description of a rule peer


def _selector(ctx: Context, end: End) -> dict[str, str]:
    """The labels that select ``end``'s pods: the workload's selector, else the pod's labels."""
    groups = ctx.graph.graph.get("groups", {})
    selector = (groups.get(end.group) or {}).get("selector") if end.workload else None
    if selector:
        return dict(selector)
    return {k: v for k, v in end.labels.items() if k not in _INSTANCE_LABELS}


def _pod_peer(ctx: Context, end: End) -> Peer:
    labels = _selector(ctx, end)
    return ("pod", end.namespace or "default", *(f"{k}={v}" for k, v in sorted(labels.items())))


def _ip_peer(ip: str) -> Peer:
    addr = zones.parse_ip(ip)
    return ("ip", f"{addr}/{addr.max_prefixlen}")


def _end_ip(ctx: Context, end: End) -> str | None:
    if end.ip:
        return end.ip
    if end.host and end.host in ctx.graph:
        ips = ctx.graph.nodes[end.host].get("ips") or []
        return str(ips[0]) if ips else None
    return None


def _peer_yaml(peer: Peer) -> dict[str, Any]:
    if peer[0] == "ip":
        return {"ipBlock": {"cidr": peer[1]}}
    labels = dict(item.split("=", 1) for item in peer[2:])
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": peer[1]}},
        "podSelector": {"matchLabels": labels} if labels else {},
    }


def _rules(by_peer: dict[Peer, set[tuple[str, int]]], key: str) -> list[dict[str, Any]]:
    rules = []
    for peer, ports in sorted(by_peer.items()):
        rules.append(
            {
                key: [_peer_yaml(peer)],
                "ports": [
                    {"protocol": proto.upper(), "port": port} for proto, port in sorted(ports)
                ],
            }
        )
    return rules


def advise(ctx: Context) -> list[dict[str, Any]]:
    """The NetworkPolicies (as Kubernetes objects) that allow exactly the observed traffic."""
    ingress: dict[str, dict[Peer, set[tuple[str, int]]]] = defaultdict(lambda: defaultdict(set))
    egress: dict[str, dict[Peer, set[tuple[str, int]]]] = defaultdict(lambda: defaultdict(set))
    subjects: dict[str, End] = {}
    for flow in ctx.flows:
        if flow.port is None or flow.protocol not in ("tcp", "udp", "sctp"):
            continue
        src, dst = flow.src, flow.dst
        if src.pod is not None and src.pod == dst.pod:
            continue
        conn = (flow.protocol, flow.port)
        if dst.is_pod:
            peer = _pod_peer(ctx, src) if src.is_pod else _ip_from(ctx, src)
            if peer is not None:
                subjects.setdefault(dst.group, dst)
                ingress[dst.group][peer].add(conn)
        if src.is_pod:
            if dst.is_pod:
                peer = _pod_peer(ctx, dst)
            elif dst.outside and not pf.egress_entry(
                ctx.policy, src.as_source(), dst.ip or "", dst.names, flow.protocol, flow.port
            ):
                continue  # not approved: advise no policy that would allow it
            else:
                peer = _ip_from(ctx, dst)
            if peer is not None:
                subjects.setdefault(src.group, src)
                egress[src.group][peer].add(conn)
    for pod, attrs in sorted(ctx.pods.items()):  # workloads with no traffic: deny everything
        group = attrs.get("workload") or pod
        if not attrs.get("host_network") and group not in subjects:
            subjects[group] = _bare_end(pod, attrs)
    policies = []
    for group, end in sorted(subjects.items(), key=lambda kv: (kv[1].namespace or "", kv[0])):
        name = group.rpartition("/")[2]
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": _selector(ctx, end)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": _rules(ingress.get(group, {}), "from"),
            "egress": _rules(egress.get(group, {}), "to"),
        }
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": f"topomap-advise-{name}"[:63].rstrip("-."),
                    "namespace": end.namespace or "default",
                    "annotations": {"topomap.dev/advised-for": group},
                },
                "spec": spec,
            }
        )
    return policies


def _ip_from(ctx: Context, end: End) -> Peer | None:
    ip = _end_ip(ctx, end)
    return _ip_peer(ip) if ip else None


def _bare_end(pod: NodeId, attrs: dict[str, Any]) -> End:
    group = NodeId(attrs.get("workload") or pod)
    return End(
        node=pod,
        kind="pod",
        group=group,
        pod=pod,
        namespace=attrs.get("namespace"),
        workload=group.partition(":")[2] if group.startswith("workload:") else None,
        labels=dict(attrs.get("labels") or {}),
        host=attrs.get("host"),
        host_network=False,
        ip=None,
        zone=None,
        names=(),
        outside=False,
    )


def dumps_policies(policies: list[dict[str, Any]]) -> str:
    """Multi-document YAML, ready for ``kubectl apply -f``."""
    return "".join(
        "---\n" + yaml.safe_dump(policy, sort_keys=False, default_flow_style=False)
        for policy in policies
    )

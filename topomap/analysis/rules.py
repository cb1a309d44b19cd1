"""The CC6.6 rules: each one function, in one place, with its id, title, severity, controls,
rationale and remediation. ``docs/rules.md`` is generated from :data:`RULES` (a test keeps it
current), so the documentation cannot drift from what runs.

A rule function looks at the prepared :class:`~topomap.analysis.context.Context` and yields
:class:`Hit` s: one per observed flow (or per configuration item) that breaks the rule, with the
subject at the workload view, the parts that give the finding its identity (never a pid,
ephemeral port or pod hash), and the flows as evidence. :mod:`topomap.analysis.analyze` folds
hits with the same identity into one finding, applies severity overrides and suppressions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from topomap.analysis import policy_file as pf
from topomap.analysis.context import METADATA_ZONE, Context, End, Flow, edge_id
from topomap.findings import Severity
from topomap.policy import engine as engine_module

CC66_BOUNDARY = "CC6.6 Implements Boundary Protection Systems"
CC66_RESTRICTS = "CC6.6 Restricts Access"
CC66_CREDENTIALS = "CC6.6 Protects Identification and Authentication Credentials"
CC61_POINTS = "CC6.1 Manages Points of Access"
CC61_LOGICAL = "CC6.1 Restricts Logical Access"
CC67_ENCRYPTION = "CC6.7 Uses Encryption Technologies or Secure Communication Channels"
CC72_MONITORS = "CC7.2 Monitors System Components"

#: The Service every cluster has for its API server.
APISERVER_SERVICE = "service:default/kubernetes"


@dataclass
class Hit:
    """One rule breach before folding: what, about whom, and the flows that show it."""

    subject: tuple[str, ...]
    """Main subject first (workload-view node or edge id), then finer detail."""
    meaning: tuple[str, ...]
    """What makes it the same finding across runs (fed to the fingerprint)."""
    message: str
    flows: list[Flow] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)


Check = Callable[[Context], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    """A rule and everything an auditor needs to know about it."""

    id: str
    title: str
    severity: Severity
    controls: tuple[str, ...]
    rationale: str
    remediation: str
    check: Check
    uses_policies: bool = False
    """Judges against Kubernetes policies (cannot be evaluated when they were unreadable)."""


def _port(flow: Flow) -> str:
    return f"{flow.protocol}/{flow.port if flow.port is not None else '*'}"


def _group_edge(flow: Flow) -> str:
    return edge_id(flow.src.group, flow.dst.group, _port(flow))


def _peer_name(end: End) -> str:
    if end.names:
        return f"{end.names[0]} ({end.ip})"
    return end.ip or end.node


def _peer_identity(end: End) -> str:
    """An external peer by DNS name when known (its addresses rotate), else by address."""
    return f"dns:{end.names[0]}" if end.names else end.node


def _identity(end: End) -> str:
    """What a policy finding is about at this end: the workload (or pod, or host); addresses
    outside the boundary all count as one, so a thousand internet clients of one service are
    one finding with a thousand flows of evidence, not a thousand findings."""
    return f"outside:{end.zone}" if end.outside else end.group


def _label(end: End) -> str:
    return end.group.partition(":")[2] or end.group


# --- boundary -------------------------------------------------------------------------------


def check_external_egress(ctx: Context) -> Iterator[Hit]:
    """An observed flow from inside the boundary (pod, container, process, host, or an address in
    `boundary.internal`) to an address outside it (public or documentation zone) that no
    `allowed_egress` entry covers by CIDR or DNS name (`*.` wildcards; names come from the
    DNS answers in the snapshots), protocol, port and source limits. One finding per source
    workload, peer (by DNS name when known) and port."""
    for flow in ctx.flows:
        src, dst = flow.src, flow.dst
        if src.outside or not dst.outside or dst.zone == METADATA_ZONE:
            continue
        entry = pf.egress_entry(
            ctx.policy, src.as_source(), dst.ip or "", dst.names, flow.protocol, flow.port
        )
        if entry is None:
            yield Hit(
                subject=(_group_edge(flow), src.group, dst.node, flow.edge_id),
                meaning=(src.group, _peer_identity(dst), _port(flow)),
                message=(
                    f"{_label(src)} connected to {_peer_name(dst)} on {_port(flow)}, "
                    "which no allowed_egress entry of the policy file covers"
                ),
                flows=[flow],
                details={"peer_zone": dst.zone or "", "dns_names": ", ".join(dst.names)},
            )


def check_external_ingress(ctx: Context) -> Iterator[Hit]:
    """An observed flow from an address outside the boundary to an endpoint inside it that no
    `entry_points` entry covers (by service the connection went through, workload or host;
    port; source CIDR)."""
    for flow in ctx.flows:
        src, dst = flow.src, flow.dst
        if not src.outside or dst.outside:
            continue
        services = tuple(s.partition(":")[2] for s in flow.data.get("services") or ())
        host = (dst.host or "").partition(":")[2] or None
        point = pf.entry_point(
            ctx.policy,
            services=services,
            workload=dst.workload,
            host=host if dst.kind in ("host", "process") and dst.pod is None else None,
            source_ip=src.ip or "",
            port=flow.port,
        )
        if point is None:
            via = f" through service {', '.join(services)}" if services else ""
            yield Hit(
                subject=(_group_edge(flow), dst.group, src.node, flow.edge_id),
                meaning=(dst.group, _port(flow), ",".join(services)),
                message=(
                    f"{_peer_name(src)} reached {_label(dst)} on {_port(flow)}{via}, "
                    "which is not a declared entry point"
                ),
                flows=[flow],
                details={"services": ", ".join(services)},
            )


# --- policies -------------------------------------------------------------------------------


Evaluated = tuple[Flow, engine_module.Evaluation, bool, bool]


def _evaluations(ctx: Context) -> list[Evaluated]:
    """Flows with a pod end, their verdict, and which directions a pod decides (computed once
    per context: the bypass and the uncovered rule both judge every such flow)."""
    if ctx.evaluations is None:
        ctx.evaluations = list(_evaluate(ctx))
    return ctx.evaluations


def _evaluate(ctx: Context) -> Iterator[Evaluated]:
    for flow in ctx.flows:
        src, dst = flow.src, flow.dst
        egress, ingress = src.is_pod, dst.is_pod
        if (
            not (egress or ingress)
            or flow.port is None
            or flow.protocol not in ("tcp", "udp", "sctp")
        ):
            continue
        if src.pod is not None and src.pod == dst.pod:
            continue  # inside one pod: no policy applies
        sp, dp = ctx.peer(src), ctx.peer(dst)
        if sp is None or dp is None:
            continue
        yield (
            flow,
            engine_module.evaluate(ctx.engine, sp, dp, flow.protocol, flow.port),
            egress,
            ingress,
        )


def _decided_by(decision: engine_module.Decision) -> str:
    if decision.policy:
        rule = f" ({decision.rule})" if decision.rule else ""
        return f"{decision.layer} {decision.policy}{rule}"
    return decision.layer


def check_policy_bypass(ctx: Context) -> Iterator[Hit]:
    """An observed flow with a pod end that the policies deny in a direction a pod decides (egress
    of a source pod, ingress of a destination pod). The deciding policy and rule are in the
    details."""
    for flow, ev, egress, ingress in _evaluations(ctx):
        denied = []
        if egress and ev.egress.verdict == "deny":
            denied.append(("egress", ev.egress))
        if ingress and ev.ingress.verdict == "deny":
            denied.append(("ingress", ev.ingress))
        if not denied:
            continue
        why = "; ".join(f"{d} denied by {_decided_by(dec)}" for d, dec in denied)
        yield Hit(
            subject=(_group_edge(flow), flow.src.group, flow.dst.group, flow.edge_id),
            meaning=(_identity(flow.src), _identity(flow.dst), _port(flow)),
            message=(
                f"{_label(flow.src)} -> {_label(flow.dst)} on {_port(flow)} was observed "
                f"although the policies deny it ({why})"
            ),
            flows=[flow],
            details={d: _decided_by(dec) for d, dec in denied},
        )


def check_uncovered(ctx: Context) -> Iterator[Hit]:
    """An observed flow with a pod end that is allowed, but in at least one direction a pod decides
    only by the system default: no AdminNetworkPolicy, NetworkPolicy or
    BaselineAdminNetworkPolicy rule decides it."""
    for flow, ev, egress, ingress in _evaluations(ctx):
        if (egress and ev.egress.verdict == "deny") or (ingress and ev.ingress.verdict == "deny"):
            continue  # a bypass, reported by its own rule
        open_ = [
            d
            for d, on, ruled in (
                ("egress", egress, ev.egress_ruled),
                ("ingress", ingress, ev.ingress_ruled),
            )
            if on and not ruled
        ]
        if not open_:
            continue
        yield Hit(
            subject=(_group_edge(flow), flow.src.group, flow.dst.group, flow.edge_id),
            meaning=(_identity(flow.src), _identity(flow.dst), _port(flow), ",".join(open_)),
            message=(
                f"{_label(flow.src)} -> {_label(flow.dst)} on {_port(flow)} is allowed only by "
                f"the system default ({' and '.join(open_)}: no policy rule decides it)"
            ),
            flows=[flow],
            details={"undecided": ", ".join(open_)},
        )


def check_unprotected(ctx: Context) -> Iterator[Hit]:
    """A workload (or bare pod) on the pod network that no policy selects for ingress, or for
    egress; reported per direction, whether or not traffic was observed."""
    seen: set[tuple[str, str]] = set()
    for pod, attrs in sorted(ctx.pods.items()):
        if attrs.get("host_network"):
            continue
        group = attrs.get("workload") or pod
        peer = ctx.pod_peer(pod)
        for direction in ("ingress", "egress"):
            if (group, direction) in seen or ctx.engine.selecting(direction, peer):
                continue
            seen.add((group, direction))
            yield Hit(
                subject=(group, pod),
                meaning=(group, direction),
                message=f"no policy selects {group.partition(':')[2]} for {direction}: "
                f"all {direction} is open",
                details={"direction": direction},
            )


# --- exposure -------------------------------------------------------------------------------


def _declared_workload_port(policy: pf.PolicyFile, group: str, port: int) -> bool:
    """Whether an entry point names this workload (glob) and port (or any port)."""
    if not group.startswith("workload:"):
        return False
    workload = group.partition(":")[2]
    return any(
        p.workload
        and fnmatch.fnmatchcase(workload, p.workload)
        and (not p.ports or port in p.ports)
        for p in policy.entry_points
    )


def check_exposure(ctx: Context) -> Iterator[Hit]:
    """A Service of type NodePort or LoadBalancer or with externalIPs, a container hostPort, or a
    listening socket of a hostNetwork pod on a non-loopback address, that is not a declared
    entry point; and an Ingress without `spec.tls` (CC6.7)."""
    policy = ctx.policy
    declared_services = {p.service for p in policy.entry_points if p.service}
    for node, attrs in sorted(ctx.services.items()):
        ref = node.partition(":")[2]
        kinds = []
        if attrs.get("service_type") in ("NodePort", "LoadBalancer"):
            kinds.append(attrs["service_type"])
        if attrs.get("external_ips"):
            kinds.append("externalIPs")
        if kinds and ref not in declared_services:
            ports = ", ".join(str(p) for p in attrs.get("node_ports") or []) or "-"
            yield Hit(
                subject=(node,),
                meaning=(node, ",".join(kinds)),
                message=f"service {ref} is exposed ({', '.join(kinds)}; node ports {ports}) "
                "but is not a declared entry point",
                details={"exposure": ", ".join(kinds), "node_ports": ports},
            )
    for pod, protocol, port, host_port in sorted(ctx.host_ports):
        group = ctx.pods.get(pod, {}).get("workload") or pod
        if _declared_workload_port(policy, group, host_port):
            continue
        yield Hit(
            subject=(group, pod),
            meaning=(group, "hostPort", f"{protocol}/{host_port}"),
            message=f"{group.partition(':')[2]} publishes hostPort {host_port}/{protocol} "
            f"(container port {port}) that is not a declared entry point",
            details={"exposure": "hostPort"},
        )
    for owner, protocol, ip, port in sorted(set(ctx.listeners)):
        group = ctx.pods.get(owner, {}).get("workload") or owner
        if _declared_workload_port(policy, group, port):
            continue
        yield Hit(
            subject=(group, owner),
            meaning=(group, "hostNetwork", f"{protocol}/{port}"),
            message=f"host-network pod of {group.partition(':')[2]} listens on {ip}:{port}/"
            f"{protocol}, reachable on the node's addresses, not a declared entry point",
            details={"exposure": "hostNetwork"},
        )
    for ingress in ctx.ingresses:
        meta = ingress.get("metadata") or {}
        spec = ingress.get("spec") or {}
        if spec.get("tls"):
            continue
        ref = f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"
        yield Hit(
            subject=(f"ingress:{ref}",),
            meaning=(f"ingress:{ref}", "no-tls"),
            message=f"Ingress {ref} serves without TLS (spec.tls is empty)",
            details={"exposure": "Ingress without TLS", "control": CC67_ENCRYPTION},
        )


def check_metadata(ctx: Context) -> Iterator[Hit]:
    """An observed flow from a pod (including host-network pods) to a cloud metadata address
    (169.254.169.254, 169.254.170.2, 169.254.170.23, fd00:ec2::254)."""
    for flow in ctx.flows:
        if flow.dst.zone == METADATA_ZONE and flow.src.pod is not None:
            yield Hit(
                subject=(_group_edge(flow), flow.src.group, flow.dst.node, flow.edge_id),
                meaning=(flow.src.group, flow.dst.node),
                message=f"{_label(flow.src)} reached the cloud metadata endpoint {flow.dst.ip}",
                flows=[flow],
            )


def check_apiserver(ctx: Context) -> Iterator[Hit]:
    """An observed flow from a pod through the `default/kubernetes` Service whose workload is not
    listed in `apiserver_clients`."""
    allowed = ctx.policy.apiserver_clients
    for flow in ctx.flows:
        src = flow.src
        if src.pod is None or APISERVER_SERVICE not in (flow.data.get("services") or ()):
            continue
        if src.workload and any(fnmatch.fnmatchcase(src.workload, p) for p in allowed):
            continue
        yield Hit(
            subject=(_group_edge(flow), src.group, flow.edge_id),
            meaning=(src.group,),
            message=f"{_label(src)} called the Kubernetes API server but is not listed in "
            "apiserver_clients",
            flows=[flow],
        )


#: Zones of addresses that belong to the cluster: an end there that is not a pod, service or
#: host is one the collectors should have been able to name.
_CLUSTER_ZONES = frozenset({"cluster-pod", "cluster-service", "cluster-node"})


def _unattributed(end: End) -> bool:
    if end.kind == "host":
        return True  # seen on a host (conntrack) without the process that held the socket
    return end.kind == "external" and end.zone in _CLUSTER_ZONES


def check_unattributed(ctx: Context) -> Iterator[Hit]:
    """A flow end the collectors could not tie to a process or workload: a host end without the
    owning process (conntrack saw it, procnet did not), or an address in the cluster's pod,
    service or node ranges that matches no pod, service or node. One finding per host or
    address, with the flow and connection counts."""
    for flow in ctx.flows:
        for end in (flow.src, flow.dst):
            if not _unattributed(end):
                continue
            where = end.host or end.node
            yield Hit(
                subject=(where,),
                meaning=(where,),
                message=f"traffic at {where.partition(':')[2] or where} could not be tied to a "
                "process or workload (collector coverage gap)",
                flows=[flow],
                details={"endpoint_kind": end.kind},
            )
            break


def check_not_evaluated(ctx: Context) -> Iterator[Hit]:
    """A snapshot records that the cluster's policies could not be read (for example 403 on
    networkpolicies); one finding per reason, and the rules that use policies do not run."""
    for reason in ctx.policies_unreadable:
        yield Hit(
            subject=("cluster",),
            meaning=("policies-unreadable", reason.partition(": ")[2] or reason),
            message=f"policy rules could not be evaluated: {reason}; "
            "the absence of policy findings proves nothing",
            details={"reason": reason},
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "TM-EXT-EGRESS",
        "Unexpected external egress",
        "high",
        (CC66_BOUNDARY, CC66_RESTRICTS),
        "Every connection leaving the system boundary must be to a destination the organisation "
        "approved, owns and can explain; anything else is a possible exfiltration path.",
        "Stop the traffic, or add an allowed_egress entry (with owner and reason) to the policy "
        "file and enforce it with an egress NetworkPolicy or firewall rule.",
        check_external_egress,
    ),
    Rule(
        "TM-EXT-INGRESS",
        "Unexpected external ingress",
        "high",
        (CC66_RESTRICTS, CC66_BOUNDARY),
        "Only declared entry points may be reachable from outside the boundary.",
        "Close the path (Service type, firewall, NetworkPolicy ingress), or declare it under "
        "entry_points with owner and reason.",
        check_external_ingress,
    ),
    Rule(
        "TM-POLICY-BYPASS",
        "Traffic the policies deny",
        "critical",
        (CC66_BOUNDARY, CC72_MONITORS),
        "Observed traffic that the NetworkPolicies deny means enforcement is not in place (the "
        "network plugin does not enforce policies) or policy and reality drifted: the control "
        "the auditor is shown does not operate.",
        "Verify the CNI enforces NetworkPolicies on this node, then either fix the policy or "
        "stop the traffic.",
        check_policy_bypass,
        uses_policies=True,
    ),
    Rule(
        "TM-UNCOVERED",
        "Connection no policy covers",
        "medium",
        (CC66_BOUNDARY, CC61_LOGICAL),
        "A connection allowed only by the Kubernetes default (no policy selects the pod in that "
        "direction) is allowed by accident, not by decision.",
        "Add a NetworkPolicy that allows exactly this traffic (see `topomap policy advise`) and a "
        "default-deny for the namespace.",
        check_uncovered,
        uses_policies=True,
    ),
    Rule(
        "TM-UNPROTECTED",
        "Workload no policy selects",
        "low",
        (CC66_BOUNDARY, CC61_LOGICAL),
        "A workload that no NetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy "
        "selects accepts (or sends) anything, even when no such traffic was observed yet.",
        "Select the workload with a default-deny policy plus the allows it needs.",
        check_unprotected,
        uses_policies=True,
    ),
    Rule(
        "TM-EXPOSURE",
        "Undeclared exposure",
        "high",
        (CC61_POINTS, CC66_RESTRICTS, CC67_ENCRYPTION),
        "NodePort, LoadBalancer and externalIPs services, hostPort and hostNetwork listeners "
        "are reachable from outside the cluster network; Ingresses without TLS carry data in "
        "clear text. Each must be a declared, owned entry point.",
        "Declare it under entry_points (owner, reason, sources), or remove the exposure; give "
        "Ingresses a TLS section.",
        check_exposure,
    ),
    Rule(
        "TM-METADATA",
        "Cloud metadata access",
        "high",
        (CC66_CREDENTIALS, CC66_BOUNDARY),
        "The cloud metadata endpoint hands out the node's credentials; a pod that reaches it "
        "can act with the node's cloud identity.",
        "Block 169.254.169.254 (and 169.254.170.23, fd00:ec2::254) for pods with an egress "
        "policy, and require IMDSv2 with a hop limit of 1.",
        check_metadata,
    ),
    Rule(
        "TM-APISERVER",
        "API server access",
        "medium",
        (CC61_LOGICAL, CC66_RESTRICTS),
        "Workloads that talk to the Kubernetes API can read or change the cluster within their "
        "RBAC; the set of such workloads must be known.",
        "List the workload under apiserver_clients if it needs the API, otherwise block it and "
        "set automountServiceAccountToken: false.",
        check_apiserver,
    ),
    Rule(
        "TM-UNATTRIBUTED",
        "Unattributed traffic",
        "low",
        (CC72_MONITORS,),
        "Traffic the collectors could not tie to a process or workload is a gap in the evidence: "
        "it cannot be judged against the policies.",
        "Run the procnet and cgroup collectors (as root) on the host, and the Kubernetes "
        "collector for the cluster, so every end is attributed.",
        check_unattributed,
    ),
    Rule(
        "TM-NOT-EVALUATED",
        "Policy rules not evaluated",
        "medium",
        (CC66_BOUNDARY,),
        "When the cluster's policies could not be read, no conclusion about policy coverage "
        "can be drawn; saying nothing would look like a clean result.",
        "Grant the collector list/watch on networkpolicies (networking.k8s.io) and the "
        "policy.networking.k8s.io admin policies (see deploy/rbac.yaml), then collect again.",
        check_not_evaluated,
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
RULE_IDS: frozenset[str] = frozenset(RULES_BY_ID)

"""Kubernetes network policy semantics: who may connect to whom, on what, and who decided.

For one direction at a time (egress of the source, ingress of the destination), the layers run
in the order Kubernetes defines, each over what the previous left undecided:

1. **AdminNetworkPolicy**, lowest ``priority`` first, rules in order; the first rule matching
   the peer decides its ports: ``Allow``, ``Deny`` or ``Pass`` (hand to the next layers).
2. **NetworkPolicy**, if any selects the pod in this direction: the union of the matching
   rules' ports is allowed, the rest denied.
3. **BaselineAdminNetworkPolicy** ``default``, when no NetworkPolicy selects the pod.
4. **System default**: whatever is still undecided is allowed.

A connection is allowed when both directions allow it. IP peers have no policies of their own,
so only the pod's side decides. Results are :class:`ConnSet`; each direction also records
which policy (and rule) decided which ports, which is what ``--explain`` prints and what the
CC6.6 analysis uses to tell "allowed by a policy" from "allowed only by the system default".

A direction result depends only on the pod's class (namespace labels, labels, named ports),
on which rule peers match the other end, and on how the rules' named ports resolve there; that
signature keys the memo, so pods and peers no policy can tell apart are evaluated once (a
5,000-pod cluster with 1,000 policies computes a few thousand results, not millions).
Pure: a :class:`Cluster` in, answers out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from topomap.policy import objects as o
from topomap.policy.connset import ALL, EMPTY, ConnSet

Direction = Literal["ingress", "egress"]
Verdict = Literal["allow", "deny", "pass"]
SYSTEM_DEFAULT = "system default"

IPV4_ALL = (0, 2**32 - 1)


@dataclass(frozen=True, slots=True)
class IPRange:
    """A block of IPv4 addresses outside the cluster: one atom of the partition."""

    start: int
    end: int

    @property
    def display(self) -> str:
        return f"{ipaddress.IPv4Address(self.start)}-{ipaddress.IPv4Address(self.end)}[External]"


@dataclass(frozen=True, slots=True)
class IngressController:
    """The fake source for Ingress and Route traffic, as netpol-analyzer models it."""

    @property
    def display(self) -> str:
        return "{ingress-controller}"


Peer = o.Workload | IPRange | IngressController


@dataclass(frozen=True, slots=True)
class _Subject:
    """What selects one pod in one direction."""

    anps: tuple[o.AdminPolicy, ...]
    policies: tuple[o.NetworkPolicy, ...]
    baseline: bool
    named_ports: tuple[str, ...] = ()  # port names the rules use (resolved on the target)


@dataclass(frozen=True, slots=True)
class Decision:
    """Ports of one direction decided by one layer."""

    conns: ConnSet
    verdict: Verdict
    layer: str  # "AdminNetworkPolicy", "NetworkPolicy", "BaselineAdminNetworkPolicy", default
    policy: str | None = None  # "ns/name" or name; None for the system default
    rule: str | None = None  # rule name or "Ingress rule #1"


@dataclass(frozen=True, slots=True)
class DirectionResult:
    allowed: ConnSet
    decisions: tuple[Decision, ...] = field(default=())

    @property
    def by_default(self) -> ConnSet:
        """The ports allowed only because no rule decided them. A port an ANP passed counts as
        decided (the pass is a reason), as in netpol-analyzer's explain output."""
        out = passed = EMPTY
        for d in self.decisions:
            if d.layer == SYSTEM_DEFAULT:
                out = out | d.conns
            elif d.verdict == "pass":
                passed = passed | d.conns
        return out - passed


UNRESTRICTED = DirectionResult(ALL, (Decision(ALL, "allow", SYSTEM_DEFAULT),))


@lru_cache(maxsize=1 << 14)
def _cidr_range(cidr: str) -> tuple[int, int] | None:
    """The first and last address of an IPv4 CIDR as integers; None for IPv6."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version != 4:
        return None
    return int(net.network_address), int(net.broadcast_address)


def _within(atom: IPRange, cidr: str) -> bool:
    """Whether the whole atom lies inside an IPv4 CIDR."""
    span = _cidr_range(cidr)
    return span is not None and span[0] <= atom.start and atom.end <= span[1]


def _block_contains(block: o.IPBlock, atom: IPRange) -> bool:
    if not _within(atom, block.cidr):
        return False
    for cidr in block.excepts:
        hole = _cidr_range(cidr)
        if hole is not None and hole[0] <= atom.end and atom.start <= hole[1]:
            return False
    return True


class PolicyEngine:
    """Evaluate a :class:`~topomap.policy.objects.Cluster`'s policies."""

    def __init__(self, cluster: o.Cluster) -> None:
        self.cluster = cluster
        self.ns_labels = {name: ns.labels for name, ns in cluster.namespaces.items()}
        self.anps = sorted(cluster.admin_policies, key=lambda p: p.priority)
        self.banp = cluster.baseline
        self.policies_in: dict[str, list[o.NetworkPolicy]] = {}
        for policy in cluster.policies:
            self.policies_in.setdefault(policy.namespace, []).append(policy)
        self._memo: dict[tuple[object, ...], DirectionResult] = {}
        self._verdicts: dict[tuple[object, object, str, int], Evaluation] = {}
        self._classes: dict[o.Workload, int] = {}
        self._class_ids: dict[object, int] = {}
        self._subject_cache: dict[tuple[Direction, object], _Subject] = {}

    def _subject(self, direction: Direction, pod: o.Workload) -> _Subject:
        """The policies that select ``pod`` in ``direction`` (once per equivalence class)."""
        key = (direction, self.class_of(pod))
        found = self._subject_cache.get(key)
        if found is None:
            egress = direction == "egress"
            anps = tuple(a for a in self.anps if self._admin_subject_matches(a, pod))
            policies = tuple(
                p
                for p in self.policies_in.get(pod.namespace, ())
                if (p.affects_egress if egress else p.affects_ingress)
                and p.pod_selector.matches(pod.labels)
            )
            baseline = self.banp is not None and self._admin_subject_matches(self.banp, pod)
            admin = [*anps, *([self.banp] if baseline and self.banp else [])]
            names = {
                port.name
                for a in admin
                for r in (a.egress if egress else a.ingress)
                for port in r.ports or ()
                if port.name
            } | {
                spec.port
                for p in policies
                for r in (p.egress if egress else p.ingress)
                for spec in r.ports
                if isinstance(spec.port, str)
            }
            found = self._subject_cache[key] = _Subject(
                anps, policies, baseline, tuple(sorted(names))
            )
        return found

    def selecting(self, direction: Direction, pod: o.Workload) -> tuple[str, ...]:
        """Names of the policies that select ``pod`` in ``direction`` (ANPs, NetworkPolicies,
        then the BANP); empty when the pod is unprotected that way."""
        subject = self._subject(direction, pod)
        egress = direction == "egress"

        def has_rules(policy: o.AdminPolicy) -> bool:  # an ANP without rules this way decides
            return bool(policy.egress if egress else policy.ingress)  # nothing there

        names = [f"AdminNetworkPolicy {a.name}" for a in subject.anps if has_rules(a)]
        names += [f"NetworkPolicy {p.namespace}/{p.name}" for p in subject.policies]
        if subject.baseline and self.banp is not None and has_rules(self.banp):
            names.append(f"BaselineAdminNetworkPolicy {self.banp.name}")
        return tuple(names)

    def class_of(self, pod: o.Workload) -> int:
        """An id shared by the workloads no policy can tell apart (namespace, labels, ports)."""
        found = self._classes.get(pod)
        if found is None:
            found = self._class_ids.setdefault(_key(pod), len(self._class_ids))
            self._classes[pod] = found
        return found

    def _signature(self, direction: Direction, pod: o.Workload, peer: Peer) -> tuple[object, ...]:
        """Everything a direction result depends on: the pod's class, which rule peers match
        ``peer``, and (egress) how the rules' named ports resolve on it. Peers with the same
        signature get the same answer, so each is computed once."""
        subject = self._subject(direction, pod)
        egress = direction == "egress"
        bits: list[bool] = []
        for anp in subject.anps:
            for rule in anp.egress if egress else anp.ingress:
                bits.extend(self._admin_peer_matches(p, peer) for p in rule.peers)
        for policy in subject.policies:
            for np_rule in policy.egress if egress else policy.ingress:
                bits.extend(self._np_peer_matches(policy, p, peer) for p in np_rule.peers)
        if subject.baseline and self.banp is not None:
            for rule in self.banp.egress if egress else self.banp.ingress:
                bits.extend(self._admin_peer_matches(p, peer) for p in rule.peers)
        named: tuple[object, ...] = ()
        if egress and isinstance(peer, o.Workload) and subject.named_ports:
            named = tuple(peer.named_ports.get(name) for name in subject.named_ports)
        return (direction, self.class_of(pod), isinstance(peer, o.Workload), tuple(bits), named)

    # --- matching -------------------------------------------------------------------------

    def _labels_of_ns(self, namespace: str) -> dict[str, str]:
        return self.ns_labels.get(namespace, {"kubernetes.io/metadata.name": namespace})

    def _np_peer_matches(self, policy: o.NetworkPolicy, peer: o.NPPeer, other: Peer) -> bool:
        if peer.ip_block is not None:
            return isinstance(other, IPRange) and _block_contains(peer.ip_block, other)
        if isinstance(other, IngressController):  # stands for an arbitrary in-cluster pod
            return (
                peer.namespace_selector is not None
                and peer.namespace_selector.is_empty
                and (peer.pod_selector is None or peer.pod_selector.is_empty)
            )
        if not isinstance(other, o.Workload):
            return False
        if peer.namespace_selector is None:
            if other.namespace != policy.namespace:
                return False
        elif not peer.namespace_selector.matches(self._labels_of_ns(other.namespace)):
            return False
        return peer.pod_selector is None or peer.pod_selector.matches(other.labels)

    def _admin_peer_matches(self, peer: o.AdminPeer, other: Peer) -> bool:
        if peer.kind == "networks":
            return isinstance(other, IPRange) and any(_within(other, c) for c in peer.networks)
        if isinstance(other, IngressController):  # an arbitrary in-cluster pod
            return peer.kind in ("namespaces", "pods") and (
                peer.namespace_selector.is_empty
                and (peer.kind == "namespaces" or peer.pod_selector.is_empty)
            )
        if peer.kind == "nodes" or not isinstance(other, o.Workload):
            return False
        if not peer.namespace_selector.matches(self._labels_of_ns(other.namespace)):
            return False
        return peer.kind == "namespaces" or peer.pod_selector.matches(other.labels)

    def _admin_subject_matches(self, policy: o.AdminPolicy, pod: o.Workload) -> bool:
        if not policy.subject_namespaces.matches(self._labels_of_ns(pod.namespace)):
            return False
        return policy.subject_pods is None or policy.subject_pods.matches(pod.labels)

    # --- ports ----------------------------------------------------------------------------

    @staticmethod
    def _np_ports(ports: tuple[o.PortSpec, ...], target: Peer) -> ConnSet:
        if not ports:
            return ALL
        out = EMPTY
        for spec in ports:
            if spec.port is None:
                out = out | ConnSet.all_ports(spec.protocol)
            elif isinstance(spec.port, int):
                out = out | ConnSet.of(spec.protocol, spec.port, spec.end_port)
            elif isinstance(target, o.Workload):  # named: resolved on the destination pod
                named = target.named_ports.get(spec.port)
                if named is not None and named[0] == spec.protocol:
                    out = out | ConnSet.of(spec.protocol, named[1])
        return out

    @staticmethod
    def _admin_ports(ports: tuple[o.AdminPort, ...] | None, target: Peer) -> ConnSet:
        if ports is None:
            return ALL
        out = EMPTY
        for spec in ports:
            if spec.name is not None:
                if isinstance(target, o.Workload):
                    named = target.named_ports.get(spec.name)
                    if named is not None:
                        out = out | ConnSet.of(named[0], named[1])
            elif spec.start is not None:
                out = out | ConnSet.of(spec.protocol, spec.start, spec.end)
        return out

    # --- one direction --------------------------------------------------------------------

    def direction(self, direction: Direction, pod: o.Workload, peer: Peer) -> DirectionResult:
        """What ``pod`` lets through in ``direction`` with ``peer`` (the other end).

        For egress the ports are the peer's (the destination); for ingress the pod's own.
        """
        key = self._signature(direction, pod, peer)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._compute(direction, pod, peer)
        return found

    @property
    def memo_size(self) -> int:
        """How many distinct direction results were computed (for benchmarks and tests)."""
        return len(self._memo)

    def _compute(self, direction: Direction, pod: o.Workload, peer: Peer) -> DirectionResult:
        target: Peer = peer if direction == "egress" else pod
        decisions: list[Decision] = []
        undecided, passed = ALL, EMPTY
        subject = self._subject(direction, pod)
        for anp in subject.anps:
            rules = anp.egress if direction == "egress" else anp.ingress
            for rule in rules:
                if not undecided or not any(self._admin_peer_matches(p, peer) for p in rule.peers):
                    continue
                conns = self._admin_ports(rule.ports, target) & undecided
                if conns:
                    verdict: Verdict = rule.action.lower()  # type: ignore[assignment]
                    decisions.append(Decision(conns, verdict, anp.kind, anp.name, rule.name))
                    undecided = undecided - conns
                    if verdict == "pass":
                        passed = passed | conns
        rest = undecided | passed
        selecting = subject.policies
        if rest and selecting:
            allowed_by_np = EMPTY
            for policy in selecting:
                for np_rule in policy.egress if direction == "egress" else policy.ingress:
                    if np_rule.peers and not any(
                        self._np_peer_matches(policy, p, peer) for p in np_rule.peers
                    ):
                        continue
                    conns = self._np_ports(np_rule.ports, target) & rest - allowed_by_np
                    if conns:
                        name = f"{policy.namespace}/{policy.name}"
                        label = f"{direction.capitalize()} rule #{np_rule.index + 1}"
                        decisions.append(Decision(conns, "allow", "NetworkPolicy", name, label))
                        allowed_by_np = allowed_by_np | conns
            denied = rest - allowed_by_np
            if denied:
                names = ", ".join(f"{p.namespace}/{p.name}" for p in selecting)
                decisions.append(Decision(denied, "deny", "NetworkPolicy", names))
            rest = EMPTY
        elif rest and self.banp is not None and subject.baseline:
            rules = self.banp.egress if direction == "egress" else self.banp.ingress
            for rule in rules:
                if not rest or not any(self._admin_peer_matches(p, peer) for p in rule.peers):
                    continue
                conns = self._admin_ports(rule.ports, target) & rest
                if conns:
                    verdict = "allow" if rule.action == "Allow" else "deny"
                    decisions.append(Decision(conns, verdict, self.banp.kind, "default", rule.name))
                    rest = rest - conns
        if rest:
            decisions.append(Decision(rest, "allow", SYSTEM_DEFAULT))
        allowed = EMPTY
        for d in decisions:
            if d.verdict == "allow":
                allowed = allowed | d.conns
        return DirectionResult(allowed, tuple(decisions))

    # --- pairs ----------------------------------------------------------------------------

    def pair(self, src: Peer, dst: Peer) -> tuple[DirectionResult, DirectionResult]:
        """(egress of src, ingress of dst); a side that is not a pod is unrestricted."""
        egress = self.direction("egress", src, dst) if isinstance(src, o.Workload) else UNRESTRICTED
        ingress = (
            self.direction("ingress", dst, src) if isinstance(dst, o.Workload) else UNRESTRICTED
        )
        return egress, ingress

    def allowed(self, src: Peer, dst: Peer) -> ConnSet:
        """Connections allowed from ``src`` to ``dst`` (both directions agree)."""
        egress, ingress = self.pair(src, dst)
        return egress.allowed & ingress.allowed

    def selected(self, pod: o.Workload, direction: Direction) -> bool:
        """Whether any NetworkPolicy, ANP or BANP selects ``pod`` in ``direction``."""
        return bool(self.selecting(direction, pod))

    # --- IP atoms -------------------------------------------------------------------------

    def ip_atoms(self, direction: Direction) -> list[IPRange]:
        """The partition of 0.0.0.0/0 by every CIDR the policies use in ``direction``.

        Sources come from ingress rules, destinations from egress rules (and ANP/BANP egress
        ``networks``). Neighbouring atoms are never merged, as in netpol-analyzer.
        """
        cuts = {IPV4_ALL[0], IPV4_ALL[1] + 1}
        cidrs: list[str] = []
        for p in self.cluster.policies:
            for rule in p.ingress if direction == "ingress" else p.egress:
                for peer in rule.peers:
                    if peer.ip_block is not None:
                        cidrs.append(peer.ip_block.cidr)
                        cidrs.extend(peer.ip_block.excepts)
        if direction == "egress":
            for a in [*self.anps, *([self.banp] if self.banp else [])]:
                for admin_rule in a.egress:
                    for admin_peer in admin_rule.peers:
                        cidrs.extend(admin_peer.networks)
        for cidr in cidrs:
            span = _cidr_range(cidr)
            if span is not None:
                cuts.update((span[0], span[1] + 1))
        edges = sorted(cuts)
        return [IPRange(lo, hi - 1) for lo, hi in zip(edges, edges[1:], strict=False)]


def _key(peer: Peer) -> object:
    """What a peer's policy behaviour depends on: pods with equal keys behave alike."""
    if isinstance(peer, o.Workload):
        return (
            peer.namespace,
            frozenset(peer.labels.items()),
            frozenset(peer.named_ports.items()),
        )
    return peer


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict on one observed connection, with what decided each direction."""

    allowed: bool
    egress: Decision
    """The final decision on the egress side (an ANP ``Pass`` hands over to later layers)."""
    ingress: Decision
    """The final decision on the ingress side."""
    covered: bool
    """Whether some policy rule (a ``Pass`` included) decided both directions, rather than the
    system default alone."""
    egress_ruled: bool = False
    """Whether a rule (a ``Pass`` included) decided the egress side."""
    ingress_ruled: bool = False
    """Whether a rule (a ``Pass`` included) decided the ingress side."""


def _deciding(result: DirectionResult, protocol: str, port: int) -> tuple[Decision, bool]:
    """The final decision on one port, and whether a rule (not only the default) touched it."""
    passed = False
    for decision in result.decisions:
        if decision.conns.contains(protocol, port):
            if decision.verdict == "pass":
                passed = True
                continue
            return decision, passed or decision.layer != SYSTEM_DEFAULT
    raise AssertionError("every port is decided by some layer")  # pragma: no cover


def evaluate(engine: PolicyEngine, src: Peer, dst: Peer, protocol: str, port: int) -> Evaluation:
    """Allowed or denied, for one connection, and which policy (and rule) decided each way.

    Observed traffic repeats the same few connections between the same workloads, so verdicts
    are memoised per (source class, destination class, protocol, port).
    """
    key = (
        engine.class_of(src) if isinstance(src, o.Workload) else src,
        engine.class_of(dst) if isinstance(dst, o.Workload) else dst,
        protocol,
        port,
    )
    found = engine._verdicts.get(key)
    if found is None:
        egress, ingress = engine.pair(src, dst)
        (e, e_ruled), (i, i_ruled) = (
            _deciding(egress, protocol, port),
            _deciding(ingress, protocol, port),
        )
        found = engine._verdicts[key] = Evaluation(
            allowed=e.verdict == "allow" and i.verdict == "allow",
            egress=e,
            ingress=i,
            covered=e_ruled and i_ruled,
            egress_ruled=e_ruled,
            ingress_ruled=i_ruled,
        )
    return found

"""netpol-analyzer's ``list --explain`` report: why each connection is allowed or denied.

This module owns the explanation layer on top of :mod:`topomap.policy.engine`: for every ordered
pair of peers (workloads, IP atoms, ``{ingress-controller}``) it splits the connection space
into classes that share one reason per direction, and renders them in netpol-analyzer's txt
grammar:

* a ``# Specific connections and their reasons #`` section with one block per pair that some
  rule decided (allowed *and* denied pairs), ``Allowed connections:`` before
  ``Denied connections:``, each class ``\\tAllowed|Denied <conns> due to ...`` with its
  ``\\t\\tEgress (...)`` / ``\\t\\tIngress (...)`` reasons;
* a ``# All Connections due to the system default (Allow all) #`` section listing the pairs
  where, in both directions, no rule decided anything (a port an ANP passed and nothing
  decided later is *not* system default: the pass is a reason).

It also owns the focus options (``--focusworkload``, ``--focusworkload-peer``,
``--focus-direction``, ``--focus-conn``) and ``--explain-only allow|deny``. Not covered:
explain combined with ``--exposure`` (:mod:`topomap.policy.exposure` reports exposure alone),
and multiple networks (UDN/CUDN/NAD).

The engine's :class:`~topomap.policy.engine.Decision` names, per port, only the first policy
rule that allows it and one combined NetworkPolicy deny, while the report names every policy
that allows a port (by its first rule that does) and, for a denied port, why each selecting
policy did not allow the peer. So the per-rule
evaluation is redone here with the engine's own matchers; :func:`system_default_pairs` uses the
engine's decisions directly. Ingress and Route objects are named from the
:class:`~topomap.policy.objects.IngressBackend` entries that the loader records per object.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from topomap.policy import connlist
from topomap.policy import objects as o
from topomap.policy.connset import ALL, EMPTY, ConnSet
from topomap.policy.engine import (
    SYSTEM_DEFAULT,
    Direction,
    DirectionResult,
    IngressController,
    IPRange,
    Peer,
    PolicyEngine,
)

ExplainOnly = Literal["allow", "deny"]

#: How netpol-analyzer names the fall-through rule in a reason list.
DEFAULT_RULE = "the system default (Allow all)"
SPECIFIC_HEADER = "Specific connections and their reasons"
DEFAULT_HEADER = "All Connections due to the system default (Allow all)"
PAIR_SEPARATOR = "-" * 160
_EXPLAIN_ORDER: tuple[o.Proto, ...] = ("TCP", "UDP", "SCTP")
_VERBS = {"Allow": "allows", "Deny": "denies", "Pass": "passes"}


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class Focus:
    """The ``list`` focus flags.

    ``workloads`` and ``peers`` are ``name`` or ``ns/name`` (or ``ingress-controller``);
    ``direction`` restricts which end
    the focus workload is (``egress``: the source, ``ingress``: the destination); ``conn``
    restricts the ports explained (``--focus-conn tcp-80``, see :meth:`parse_conn`).
    """

    workloads: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    direction: Direction | None = None
    conn: ConnSet | None = None

    @staticmethod
    def parse_conn(text: str) -> ConnSet:
        """``tcp-80`` (netpol-analyzer's ``--focus-conn`` spelling) as a ConnSet."""
        proto, _, port = text.partition("-")
        protocol = {p.lower(): p for p in _EXPLAIN_ORDER}.get(proto.lower())
        if protocol is None or not port.isdigit():
            raise ValueError(f"focus conn {text!r} is not <protocol>-<port>, e.g. tcp-80")
        return ConnSet.of(protocol, int(port))

    def keeps(self, src: Peer, dst: Peer) -> bool:
        """Whether the pair (src, dst) is in focus."""
        if not self.workloads:
            return True
        as_src = _named(src, self.workloads) and (not self.peers or _named(dst, self.peers))
        as_dst = _named(dst, self.workloads) and (not self.peers or _named(src, self.peers))
        if self.direction == "egress":
            return as_src
        if self.direction == "ingress":
            return as_dst
        return as_src or as_dst


def _named(peer: Peer, names: tuple[str, ...]) -> bool:
    if isinstance(peer, IngressController):
        return "ingress-controller" in names
    if not isinstance(peer, o.Workload):
        return False
    return peer.name in names or f"{peer.namespace}/{peer.name}" in names


@dataclass(frozen=True, slots=True)
class IngressSource:
    """One Ingress or Route object's backend: what ``{ingress-controller}`` reasons name."""

    kind: Literal["Ingress", "Route"]
    namespace: str
    name: str
    backend: o.IngressBackend


@dataclass(frozen=True, slots=True)
class Verdict:
    """One direction's outcome for some ports, and every rule that contributed to it."""

    allowed: bool
    reasons: frozenset[str]

    @property
    def by_default(self) -> bool:
        """Only the system default decided (nothing matched, nothing passed)."""
        return self.reasons == {DEFAULT_RULE}


@dataclass(frozen=True, slots=True)
class Segment:
    conns: ConnSet
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class ConnClass:
    """Ports of one pair that share the egress verdict and the ingress verdict."""

    conns: ConnSet
    egress: Verdict
    ingress: Verdict

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed

    @property
    def by_default(self) -> bool:
        return self.egress.by_default and self.ingress.by_default


@dataclass(frozen=True, slots=True)
class PairExplanation:
    src: Peer
    dst: Peer
    classes: tuple[ConnClass, ...]

    @property
    def by_default(self) -> bool:
        """No rule decided anything in either direction (the system default section)."""
        return all(c.by_default for c in self.classes)

    @property
    def allowed(self) -> ConnSet:
        out = EMPTY
        for c in self.classes:
            if c.allowed:
                out = out | c.conns
        return out


_UNRESTRICTED = (Segment(ALL, Verdict(True, frozenset({DEFAULT_RULE}))),)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _merge(parts: Iterable[tuple[ConnSet, Verdict]]) -> tuple[Segment, ...]:
    """Union the ports of equal verdicts; drop empty parts."""
    merged: dict[Verdict, ConnSet] = {}
    for conns, verdict in parts:
        if conns:
            merged[verdict] = merged.get(verdict, EMPTY) | conns
    return tuple(Segment(conns, verdict) for verdict, conns in merged.items())


def _refine(
    universe: ConnSet, labelled: Sequence[tuple[ConnSet, str]]
) -> list[tuple[ConnSet, frozenset[str]]]:
    """Split ``universe`` into regions by which labelled sets contain them."""
    regions: list[tuple[ConnSet, frozenset[str]]] = [(universe, frozenset())]
    for conns, label in labelled:
        split: list[tuple[ConnSet, frozenset[str]]] = []
        for region, labels in regions:
            inside, outside = region & conns, region - conns
            if inside:
                split.append((inside, labels | {label}))
            if outside:
                split.append((outside, labels))
        regions = split
    return regions


@dataclass
class Explainer:
    """Per-rule explanations for one engine's cluster (memoised per direction, pod and peer)."""

    engine: PolicyEngine
    ingress_sources: tuple[IngressSource, ...] = ()
    _cache: dict[tuple[Direction, str, str], tuple[Segment, ...]] = field(default_factory=dict)

    # -- one direction ----------------------------------------------------------------------

    def direction(self, direction: Direction, pod: o.Workload, peer: Peer) -> tuple[Segment, ...]:
        """Verdicts of ``pod``'s ``direction`` towards ``peer``: disjoint, covering ALL."""
        key = (direction, pod.display, peer.display)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._direction(direction, pod, peer)
        return found

    def _direction(self, direction: Direction, pod: o.Workload, peer: Peer) -> tuple[Segment, ...]:
        engine = self.engine
        title = direction.capitalize()
        target: Peer = peer if direction == "egress" else pod
        decided: list[tuple[ConnSet, Verdict]] = []
        pending: list[tuple[ConnSet, frozenset[str]]] = []  # (ports, reasons so far) to decide
        undecided = ALL
        subject = engine._subject(direction, pod)  # the policies selecting the pod
        for anp in subject.anps:
            for rule in anp.egress if direction == "egress" else anp.ingress:
                if not undecided:
                    break
                if not any(engine._admin_peer_matches(p, peer) for p in rule.peers):
                    continue
                conns = engine._admin_ports(rule.ports, target) & undecided
                if not conns:
                    continue
                reason = frozenset(
                    {
                        f"AdminNetworkPolicy '{anp.name}' {_VERBS[rule.action]} connections "
                        f"by {title} rule {rule.name}"
                    }
                )
                if rule.action == "Pass":
                    pending.append((conns, reason))
                else:
                    decided.append((conns, Verdict(rule.action == "Allow", reason)))
                undecided = undecided - conns
        if undecided:
            pending.append((undecided, frozenset()))
        for conns, prefix in pending:
            if subject.policies:
                decided.extend(
                    self._np_layer(direction, pod, peer, subject.policies, conns, prefix)
                )
            else:
                decided.extend(
                    self._baseline_layer(direction, pod, peer, conns, prefix, subject.baseline)
                )
        return _merge(decided)

    def _np_layer(
        self,
        direction: Direction,
        pod: o.Workload,
        peer: Peer,
        selecting: Sequence[o.NetworkPolicy],
        conns: ConnSet,
        prefix: frozenset[str],
    ) -> list[tuple[ConnSet, Verdict]]:
        engine = self.engine
        title = direction.capitalize()
        target: Peer = peer if direction == "egress" else pod
        allows: list[tuple[ConnSet, str]] = []
        denies: set[str] = set()
        for policy in selecting:
            name = f"NetworkPolicy '{policy.namespace}/{policy.name}'"
            rules = policy.egress if direction == "egress" else policy.ingress
            head = f"{name} selects {pod.display}"
            if not rules:
                denies.add(
                    f"{head}, but {peer.display} is not allowed by any {title} rule "
                    "(no rules defined)"
                )
                continue
            matching = [
                r
                for r in rules
                if not r.peers or any(engine._np_peer_matches(policy, p, peer) for p in r.peers)
            ]
            if not matching:
                denies.add(f"{head}, but {peer.display} is not allowed by any {title} rule")
                continue
            covered = EMPTY  # within one policy, the first rule that allows a port names it
            for rule in matching:
                rule_conns = engine._np_ports(rule.ports, target) - covered
                if rule_conns:
                    label = f"{title} rule #{rule.index + 1}"
                    allows.append((rule_conns, f"{name} allows connections by {label}"))
                    covered = covered | rule_conns
            first = matching[0]  # a denied port: the first rule selecting the peer is named
            named_only = bool(first.ports) and all(isinstance(s.port, str) for s in first.ports)
            why = (
                "named ports of the rule have no match in the configuration of the destination peer"
                if named_only and not engine._np_ports(first.ports, target)
                else "the protocols and ports do not match"
            )
            denies.add(
                f"{head}, and {title} rule #{first.index + 1} selects {peer.display}, but {why}"
            )
        out: list[tuple[ConnSet, Verdict]] = []
        allowed = EMPTY
        for region, labels in _refine(conns, allows):
            if labels:
                out.append((region, Verdict(True, prefix | labels)))
                allowed = allowed | region
        out.append((conns - allowed, Verdict(False, prefix | denies)))
        return out

    def _baseline_layer(
        self,
        direction: Direction,
        pod: o.Workload,
        peer: Peer,
        conns: ConnSet,
        prefix: frozenset[str],
        selected: bool,
    ) -> list[tuple[ConnSet, Verdict]]:
        engine = self.engine
        banp = engine.banp
        out: list[tuple[ConnSet, Verdict]] = []
        rest = conns
        if banp is not None and selected:
            target: Peer = peer if direction == "egress" else pod
            for rule in banp.egress if direction == "egress" else banp.ingress:
                if not rest:
                    break
                if not any(engine._admin_peer_matches(p, peer) for p in rule.peers):
                    continue
                decided = engine._admin_ports(rule.ports, target) & rest
                if decided:
                    reason = (
                        f"BaselineAdminNetworkPolicy '{banp.name}' {_VERBS[rule.action]} "
                        f"connections by {direction.capitalize()} rule {rule.name}"
                    )
                    out.append((decided, Verdict(rule.action == "Allow", prefix | {reason})))
                    rest = rest - decided
        out.append((rest, Verdict(True, prefix | {DEFAULT_RULE})))
        return out

    # -- the ingress controller -------------------------------------------------------------

    def sources_of(self, workload: o.Workload) -> list[tuple[IngressSource, ConnSet]]:
        """The Ingress/Route objects whose Service selects ``workload``, with their ports."""
        out: list[tuple[IngressSource, ConnSet]] = []
        for source in self.ingress_sources:
            conns = connlist.backend_conns(self.engine.cluster, source.backend, workload)
            if conns is not None:
                out.append((source, conns))
        return out

    def controller_ingress(self, pod: o.Workload) -> tuple[Segment, ...]:
        """Ingress of ``pod`` from ``{ingress-controller}``: the Ingress/Route objects' ports,
        and what the pod's policies let through from an arbitrary in-cluster pod."""
        allows: list[tuple[ConnSet, str]] = []
        mismatches: set[str] = set()
        for source, conns in self.sources_of(pod):
            obj = f"{source.kind} '{source.namespace}/{source.name}'"
            service = source.backend.service
            if conns:
                allows.append(
                    (conns, f"{obj} allows ingress connections through service {service}")
                )
            mismatches.add(
                f"{obj} allows ingress to service {service}, but the protocols and ports do not "
                "match"
            )
        regions = _refine(ALL, allows)
        parts: list[tuple[ConnSet, Verdict]] = []
        for segment in self.direction("ingress", pod, IngressController()):
            base = segment.verdict.reasons - {DEFAULT_RULE}
            for region, labels in regions:
                through = bool(labels)  # some object sends these ports
                verdict = Verdict(
                    segment.verdict.allowed and through, base | (labels if through else mismatches)
                )
                parts.append((segment.conns & region, verdict))
        return _merge(parts)

    # -- pairs ------------------------------------------------------------------------------

    def pair(self, src: Peer, dst: Peer, universe: ConnSet = ALL) -> PairExplanation:
        """The classes of (src, dst), restricted to ``universe``."""
        egress = (
            self.direction("egress", src, dst) if isinstance(src, o.Workload) else _UNRESTRICTED
        )
        if isinstance(src, IngressController) and isinstance(dst, o.Workload):
            ingress = self.controller_ingress(dst)
        elif isinstance(dst, o.Workload):
            ingress = self.direction("ingress", dst, src)
        else:
            ingress = _UNRESTRICTED
        merged: dict[tuple[Verdict, Verdict], ConnSet] = {}
        for e in egress:
            for i in ingress:
                conns = e.conns & i.conns & universe
                if conns:
                    key = (e.verdict, i.verdict)
                    merged[key] = merged.get(key, EMPTY) | conns
        classes = tuple(ConnClass(conns, e, i) for (e, i), conns in merged.items())
        return PairExplanation(src, dst, classes)


def pairs(
    engine: PolicyEngine,
    focus: Focus | None = None,
    ingress_sources: Sequence[IngressSource] = (),
) -> list[tuple[Peer, Peer]]:
    """Every pair the report covers, sorted by source then destination (byte-wise).

    Workloads and IP atoms (sources from ingress CIDRs, destinations from egress CIDRs), self
    and IP-to-IP pairs left out, plus ``{ingress-controller}`` to each workload an Ingress or
    Route object sends traffic to; all in focus.
    """
    focus = focus or Focus()
    workloads = engine.cluster.workloads
    sources: list[Peer] = [*workloads, *engine.ip_atoms("ingress")]
    destinations: list[Peer] = [*workloads, *engine.ip_atoms("egress")]
    out: list[tuple[Peer, Peer]] = []
    for src in sources:
        for dst in destinations:
            if isinstance(src, IPRange) and isinstance(dst, IPRange):
                continue
            if src.display != dst.display and focus.keeps(src, dst):
                out.append((src, dst))
    controller = IngressController()
    for dst in workloads:
        if focus.keeps(controller, dst) and any(
            connlist.backend_conns(engine.cluster, s.backend, dst) is not None
            for s in ingress_sources
        ):
            out.append((controller, dst))
    out.sort(key=lambda pair: (pair[0].display.encode(), pair[1].display.encode()))
    return out


def explain_pairs(
    engine: PolicyEngine,
    focus: Focus | None = None,
    ingress_sources: Sequence[IngressSource] = (),
) -> list[PairExplanation]:
    """The explanation of every pair in :func:`pairs`, in that order."""
    focus = focus or Focus()
    explainer = Explainer(engine, tuple(ingress_sources))
    universe = focus.conn if focus.conn is not None else ALL
    return [
        explainer.pair(src, dst, universe) for src, dst in pairs(engine, focus, ingress_sources)
    ]


def _decided_by_default(result: DirectionResult, universe: ConnSet) -> bool:
    return all(d.layer == SYSTEM_DEFAULT for d in result.decisions if d.conns & universe)


def system_default_pairs(
    engine: PolicyEngine, focus: Focus | None = None
) -> list[tuple[Peer, Peer]]:
    """Pairs no rule decided in either direction, from the engine's own decisions.

    A port an AdminNetworkPolicy passed carries a ``pass`` decision, so it does not count as
    system default even when nothing decided it afterwards. Ingress-controller pairs are never
    system default (the Ingress/Route objects decide them).
    """
    focus = focus or Focus()
    universe = focus.conn if focus.conn is not None else ALL
    out: list[tuple[Peer, Peer]] = []
    for src, dst in pairs(engine, focus):
        egress, ingress = engine.pair(src, dst)
        if _decided_by_default(egress, universe) and _decided_by_default(ingress, universe):
            out.append((src, dst))
    return out


# ---------------------------------------------------------------------------------------------
# Rendering


def spell(conns: ConnSet) -> str:
    """Explain-style connections: ``TCP:[1-79,81-65535], UDP, SCTP`` (bare name: all ports)."""
    parts: list[str] = []
    for proto in _EXPLAIN_ORDER:
        ranges = conns.ranges(proto)
        if not ranges:
            continue
        if ranges == ((1, 65535),):
            parts.append(proto)
        else:
            parts.append(
                f"{proto}:[" + ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges) + "]"
            )
    return ", ".join(parts)


def _reasons(reasons: frozenset[str]) -> str:
    """Reason lines of one direction: grouped by kind (``NetworkPolicy list:``), sorted."""
    groups: dict[str, list[str]] = {}
    for reason in reasons:
        kind = reason.split(" '", 1)[0] if " '" in reason else reason
        groups.setdefault(kind, []).append(reason)
    blocks: list[tuple[str, str]] = []
    for kind, items in groups.items():
        if len(items) == 1:
            blocks.append((items[0], f"\t\t\t{items[0]}\n"))
        else:
            body = "".join(f"\t\t\t\t- {item}\n" for item in sorted(items))
            blocks.append((f"{kind} list:", f"\t\t\t{kind} list:\n{body}\n"))
    return "".join(text for _, text in sorted(blocks))


def _direction_text(title: str, verdict: Verdict) -> str:
    result = "Allowed" if verdict.allowed else "Denied"
    if verdict.by_default:
        return f"\t\t{title} ({result}) due to {DEFAULT_RULE}\n"
    return f"\t\t{title} ({result})\n" + _reasons(verdict.reasons)


def _class_text(c: ConnClass) -> str:
    head = f"\t{'Allowed' if c.allowed else 'Denied'} {spell(c.conns)}"
    if c.by_default:
        return f"{head} due to {DEFAULT_RULE}\n"
    return (
        f"{head} due to the following policies and rules:\n"
        + _direction_text("Egress", c.egress)
        + _direction_text("Ingress", c.ingress)
    )


def _header(title: str) -> str:
    bar = "#" * (len(title) + 4)
    return f"\n{bar}\n# {title} #\n{bar}\n"


def _pair_text(p: PairExplanation, explain_only: ExplainOnly | None) -> str:
    sections: list[str] = []
    for allowed, title in ((True, "Allowed connections:"), (False, "Denied connections:")):
        if explain_only == ("deny" if allowed else "allow"):
            continue
        lines = sorted(_class_text(c) for c in p.classes if c.allowed == allowed)
        if lines:
            sections.append(f"{title}\n" + "\n".join(lines))
    if not sections:
        return ""
    body = "\n".join(sections)
    return f"{PAIR_SEPARATOR}\nConnections between {p.src.display} => {p.dst.display}:\n\n{body}\n"


def render_explain(
    engine: PolicyEngine,
    *,
    explain_only: ExplainOnly | None = None,
    focus: Focus | None = None,
    ingress_sources: Sequence[IngressSource] | None = None,
) -> str:
    """``list --explain`` txt output (optionally ``--explain-only``, focus flags).

    ``ingress_sources`` names the Ingress and Route objects behind the cluster's ingress
    backends; by default, those the loader recorded (:func:`ingress_sources_of`).
    """
    if ingress_sources is None:
        ingress_sources = ingress_sources_of(engine.cluster)
    explained = explain_pairs(engine, focus, ingress_sources)
    specific = "".join(_pair_text(p, explain_only) for p in explained if not p.by_default)
    out = ""
    if specific:
        out += _header(SPECIFIC_HEADER) + specific
    if explain_only != "deny":
        defaults = [p for p in explained if p.by_default]
        if defaults:
            out += _header(DEFAULT_HEADER)
            out += "".join(f"{p.src.display} => {p.dst.display}\n" for p in defaults)
    return out


def ingress_sources_of(cluster: o.Cluster) -> tuple[IngressSource, ...]:
    """The Ingress and Route objects behind the cluster's ingress backends, in load order."""
    return tuple(
        IngressSource(b.source_kind, b.namespace, b.source_name, b)
        for b in cluster.ingress_backends
    )

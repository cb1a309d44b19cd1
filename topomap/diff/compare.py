"""Comparison: what changed between two normalised sides, and which findings are new.

:func:`compare` takes a baseline and a current :class:`~topomap.diff.normalize.Side` and
reports, in a :class:`Diff`:

* nodes added and removed (external peers apart: they have their own list);
* edges added and removed, an edge being an ordered pair of nodes; and edges whose ports or
  protocols changed (the pair is on both sides, its ``protocol/port`` set is not the same);
* external peers new and gone. A peer is known *by name and address*: an address with a DNS
  name (on either side) is the peer of that name, so ``api.stripe.com`` answering from a new
  address is the same peer (the new address is listed, not counted as a new peer), while an
  address nobody named is a peer of its own;
* findings new, resolved and still open, matched by :attr:`topomap.findings.Finding.fingerprint`,
  when both sides carry findings.

Pure: sides in, a :class:`Diff` out; :mod:`topomap.diff.render` turns it into text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from topomap import findings as findings_mod
from topomap.diff.normalize import EdgeKey, Node, Side, Stats
from topomap.gcpause import paused_gc

FailOn = Literal["edges", "external", "findings"]
FAIL_ON: tuple[FailOn, ...] = ("edges", "external", "findings")


@dataclass(frozen=True, kw_only=True, slots=True)
class Approval:
    """Who approved a baseline, when and why (from a baseline file)."""

    approved_by: str
    """Name of the approver."""
    approved_at: str
    """When (UTC ISO 8601)."""
    note: str
    """Why: the review it records."""
    graph_sha256: str
    """``content_sha256`` of the approved graph."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SideInfo:
    """Where one side of a diff came from, for the report's header."""

    source: str
    """What the user gave (path, or ``store:PATH@START..END``)."""
    kind: Literal["snapshots", "graph", "baseline", "store"]
    """What it was."""
    window: dict[str, str | None] = field(default_factory=dict)
    """Collection window (``start``, ``end``) of what it holds."""
    graph_sha256: str | None = None
    """Content digest of the graph compared (graph JSON and baselines)."""
    findings: str | None = None
    """Where its findings came from, if any."""
    approval: Approval | None = None
    """The approval, for a baseline file."""


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeRef:
    """A node as the report shows it."""

    id: str
    """Normalised node id."""
    kind: str
    """Node kind."""
    label: str
    """Human label."""
    namespace: str | None = None
    """Namespace, when it has one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EdgeChange:
    """An edge (an ordered pair of nodes) added, removed, or with other ports."""

    source: NodeRef
    """Client end."""
    target: NodeRef
    """Server end."""
    services: tuple[str, ...]
    """``protocol/port`` on the side it exists on (current for added and changed edges)."""
    added: tuple[str, ...] = ()
    """For a changed edge: ``protocol/port`` only the current side has."""
    removed: tuple[str, ...] = ()
    """For a changed edge: ``protocol/port`` only the baseline has."""
    first_seen: str | None = None
    """Earliest sighting on the side it is reported from."""
    last_seen: str | None = None
    """Latest sighting on the side it is reported from."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Peer:
    """An external peer: a DNS name (with its addresses) or an unnamed address."""

    id: str
    """``external:<name>`` or ``external:<address>``."""
    name: str | None
    """The DNS name it is known by, when any side named it."""
    addresses: tuple[str, ...]
    """Addresses seen on the side it is reported from."""
    zone: str | None
    """Zone of its (first) address."""
    talkers: tuple[str, ...] = ()
    """Labels of the nodes that talked with it (either direction), on that side."""
    services: tuple[str, ...] = ()
    """``protocol/port`` used with it."""
    new_addresses: tuple[str, ...] = ()
    """For a peer on both sides: addresses only the current side used."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingChange:
    """A finding and whether it is new, resolved or still open."""

    status: Literal["new", "resolved", "open"]
    """``new``: only current; ``resolved``: only baseline; ``open``: both."""
    finding: findings_mod.Finding
    """The finding (the current one when on both sides)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Diff:
    """Everything that changed from baseline to current, in report order."""

    view: str
    """The view compared at."""
    nodes_added: tuple[NodeRef, ...] = ()
    """Nodes only the current side has (external peers apart)."""
    nodes_removed: tuple[NodeRef, ...] = ()
    """Nodes only the baseline has (external peers apart)."""
    edges_added: tuple[EdgeChange, ...] = ()
    """Node pairs that talk now and did not before."""
    edges_removed: tuple[EdgeChange, ...] = ()
    """Node pairs that talked before and do not now."""
    edges_changed: tuple[EdgeChange, ...] = ()
    """Node pairs on both sides whose protocols or server ports differ."""
    peers_added: tuple[Peer, ...] = ()
    """External peers only the current side talks with."""
    peers_removed: tuple[Peer, ...] = ()
    """External peers only the baseline talked with."""
    peers_readdressed: tuple[Peer, ...] = ()
    """Named peers on both sides that the current side reached at new addresses."""
    findings_compared: bool = False
    """Whether both sides carried findings (otherwise the findings lists are empty)."""
    findings: tuple[FindingChange, ...] = field(default=())
    """New, resolved and still-open findings (new first, then resolved, then open)."""

    def count(self, status: str) -> int:
        """How many findings have ``status``."""
        return sum(1 for change in self.findings if change.status == status)

    @property
    def unchanged(self) -> bool:
        """Nothing changed in the graph and no finding is new or resolved."""
        return not (
            self.nodes_added
            or self.nodes_removed
            or self.edges_added
            or self.edges_removed
            or self.edges_changed
            or self.peers_added
            or self.peers_removed
            or self.count("new")
            or self.count("resolved")
        )

    def reached(self, fail_on: Iterable[FailOn]) -> list[str]:
        """Which ``--fail-on-new`` categories have something new, in words."""
        hits: list[str] = []
        for category in fail_on:
            if category == "edges":
                new = len(self.edges_added) + sum(1 for e in self.edges_changed if e.added)
                if new:
                    hits.append(f"{new} new edge(s) or ports")
            elif category == "external" and self.peers_added:
                hits.append(f"{len(self.peers_added)} new external peer(s)")
            elif category == "findings":
                new = sum(1 for c in self.findings if c.status == "new" and c.finding.active)
                if new:
                    hits.append(f"{new} new active finding(s)")
        return hits


# --- external peers: one identity per name ---------------------------------------------------


def names_by_ip(sides: Sequence[Side]) -> dict[str, str]:
    """address -> the DNS name it is known by, over both sides (first name in sort order)."""
    names: dict[str, set[str]] = {}
    for side in sides:
        for node in side.nodes.values():
            if node.kind == "external" and node.ip and node.names:
                names.setdefault(node.ip, set()).update(node.names)
    return {ip: min(found) for ip, found in names.items()}


def peer_aliases(side: Side, named: dict[str, str]) -> dict[str, str]:
    """External node id -> the peer identity it is compared as (``external:<name>`` when its
    address has a name in ``named``, else its own id), for every external node of ``side``."""
    aliases: dict[str, str] = {}
    for node_id, node in side.nodes.items():
        if node.kind == "external":
            name = named.get(node.ip or "")
            aliases[node_id] = f"external:{name}" if name else node_id
    return aliases


@dataclass(slots=True)
class _Peers:
    """External peers of one side, keyed by peer id, with their addresses."""

    addresses: dict[str, set[str]] = field(default_factory=dict)
    zone: dict[str, str | None] = field(default_factory=dict)


def _rekey(
    side: Side, named: dict[str, str]
) -> tuple[dict[str, Node], dict[EdgeKey, Stats], _Peers]:
    """The side with every external node replaced by its peer identity."""
    peers = _Peers()
    alias = peer_aliases(side, named)
    nodes: dict[str, Node] = {}
    for node_id, node in side.nodes.items():
        if node.kind != "external":
            nodes[node_id] = node
            continue
        peer = alias[node_id]
        name = named.get(node.ip or "")
        peers.addresses.setdefault(peer, set())
        peers.zone.setdefault(peer, node.zone)
        if node.ip:
            peers.addresses[peer].add(node.ip)
        if peer not in nodes:
            nodes[peer] = Node(
                id=peer, kind="external", label=name or node.label, zone=node.zone,
                ip=node.ip, names=(name,) if name else (),
            )  # fmt: skip
    renamed = {k: v for k, v in alias.items() if k != v}
    if not renamed:
        return nodes, side.edges, peers
    edges = dict(side.edges)
    moved = [key for key in edges if key[0] in renamed or key[1] in renamed]
    for key in moved:
        stats = edges.pop(key)
        u, v, protocol, port = key
        key = (renamed.get(u, u), renamed.get(v, v), protocol, port)
        found = edges.get(key)
        if found is None:
            edges[key] = Stats(stats.first_seen, stats.last_seen, stats.connections)
        else:
            found.first_seen = min(found.first_seen, stats.first_seen)
            found.last_seen = max(found.last_seen, stats.last_seen)
            found.connections += stats.connections
    return nodes, edges, peers


# --- the comparison --------------------------------------------------------------------------


def _service(protocol: str, port: int | None) -> str:
    return protocol if port is None else f"{protocol}/{port}"


def _service_key(text: str) -> tuple[str, int]:
    protocol, _, port = text.partition("/")
    return (protocol, int(port) if port.isdigit() else -1)


@dataclass(slots=True)
class _Pair:
    services: set[str] = field(default_factory=set)
    first_seen: str = ""
    last_seen: str = ""


def _pairs(edges: dict[EdgeKey, Stats]) -> dict[tuple[str, str], _Pair]:
    pairs: dict[tuple[str, str], _Pair] = {}
    for (u, v, protocol, port), stats in edges.items():
        pair = pairs.get((u, v))
        if pair is None:
            pair = pairs[(u, v)] = _Pair(first_seen=stats.first_seen, last_seen=stats.last_seen)
        else:
            pair.first_seen = min(pair.first_seen, stats.first_seen)
            pair.last_seen = max(pair.last_seen, stats.last_seen)
        pair.services.add(_service(protocol, port))
    return pairs


def _ref(nodes: dict[str, Node], node_id: str) -> NodeRef:
    node = nodes.get(node_id)
    if node is None:
        kind, _, rest = node_id.partition(":")
        return NodeRef(id=node_id, kind=kind, label=rest)
    return NodeRef(id=node_id, kind=node.kind, label=node.label, namespace=node.namespace)


def _sorted(services: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(services, key=_service_key))


def _talkers(
    peer_ids: set[str], pairs: dict[tuple[str, str], _Pair]
) -> dict[str, list[tuple[str, _Pair]]]:
    """For each peer: the other end and the pair of every edge it is on (one pass)."""
    found: dict[str, list[tuple[str, _Pair]]] = {p: [] for p in peer_ids}
    for (u, v), pair in pairs.items():
        if u in found:
            found[u].append((v, pair))
        if v in found and v != u:
            found[v].append((u, pair))
    return found


def _peer(
    peer_id: str,
    nodes: dict[str, Node],
    peers: _Peers,
    talkers: dict[str, list[tuple[str, _Pair]]],
) -> Peer:
    services: set[str] = set()
    for _, pair in talkers[peer_id]:
        services |= pair.services
    node = nodes[peer_id]
    return Peer(
        id=peer_id,
        name=node.names[0] if node.names else None,
        addresses=tuple(sorted(peers.addresses.get(peer_id, ()))),
        zone=peers.zone.get(peer_id),
        talkers=tuple(sorted({_ref(nodes, other).label for other, _ in talkers[peer_id]})),
        services=_sorted(services),
    )


def compare_findings(
    baseline: Sequence[findings_mod.Finding], current: Sequence[findings_mod.Finding]
) -> tuple[FindingChange, ...]:
    """Findings matched by fingerprint: new, then resolved, then still open (report order)."""
    before = findings_mod.by_fingerprint(baseline)
    after = findings_mod.by_fingerprint(current)
    changes = [
        *(FindingChange(status="new", finding=f) for k, f in after.items() if k not in before),
        *(FindingChange(status="resolved", finding=f) for k, f in before.items() if k not in after),
        *(FindingChange(status="open", finding=f) for k, f in after.items() if k in before),
    ]
    order = {"new": 0, "resolved": 1, "open": 2}
    changes.sort(key=lambda c: (order[c.status], findings_mod.sort_key(c.finding)))
    return tuple(changes)


def _edge_sort(change: EdgeChange) -> tuple[str, str]:
    return (change.source.id, change.target.id)


def compare(
    baseline: Side,
    current: Side,
    baseline_findings: Sequence[findings_mod.Finding] | None = None,
    current_findings: Sequence[findings_mod.Finding] | None = None,
) -> Diff:
    """What changed from ``baseline`` to ``current``.

    Parameters
    ----------
    baseline, current
        Normalised sides (:func:`topomap.diff.normalize.normalize`) at the same view.
    baseline_findings, current_findings
        Findings of each side; ``None`` when a side has no findings report, and then findings
        are not compared (an empty sequence is a report with no findings).

    Raises
    ------
    ValueError
        The sides are at different views.
    """
    if baseline.view != current.view:
        raise ValueError(f"cannot compare a {baseline.view} view with a {current.view} view")
    with paused_gc():  # many small objects, no cycles: see topomap.gcpause
        return _compare(baseline, current, baseline_findings, current_findings)


def _compare(
    baseline: Side,
    current: Side,
    baseline_findings: Sequence[findings_mod.Finding] | None,
    current_findings: Sequence[findings_mod.Finding] | None,
) -> Diff:
    named = names_by_ip((baseline, current))
    b_nodes, b_edges, b_peers = _rekey(baseline, named)
    c_nodes, c_edges, c_peers = _rekey(current, named)
    b_pairs, c_pairs = _pairs(b_edges), _pairs(c_edges)

    def internal(nodes: dict[str, Node]) -> set[str]:
        return {k for k, n in nodes.items() if n.kind != "external"}

    def externals(nodes: dict[str, Node], pairs: dict[tuple[str, str], _Pair]) -> set[str]:
        ends = {u for u, _ in pairs} | {v for _, v in pairs}
        return {k for k, n in nodes.items() if n.kind == "external" and k in ends}

    b_internal, c_internal = internal(b_nodes), internal(c_nodes)
    nodes_added = sorted(c_internal - b_internal)
    nodes_removed = sorted(b_internal - c_internal)

    def only_in(
        pairs: dict[tuple[str, str], _Pair],
        other: dict[tuple[str, str], _Pair],
        nodes: dict[str, Node],
    ) -> list[EdgeChange]:
        """The pairs of ``pairs`` that ``other`` lacks, as changes named from ``nodes``."""
        return [
            EdgeChange(
                source=_ref(nodes, key[0]),
                target=_ref(nodes, key[1]),
                services=_sorted(pairs[key].services),
                first_seen=pairs[key].first_seen,
                last_seen=pairs[key].last_seen,
            )
            for key in pairs.keys() - other.keys()
        ]

    added = only_in(c_pairs, b_pairs, c_nodes)
    removed = only_in(b_pairs, c_pairs, b_nodes)
    changed = []
    for key in c_pairs.keys() & b_pairs.keys():
        now, before = c_pairs[key].services, b_pairs[key].services
        if now != before:
            changed.append(
                EdgeChange(
                    source=_ref(c_nodes, key[0]),
                    target=_ref(c_nodes, key[1]),
                    services=_sorted(now),
                    added=_sorted(now - before),
                    removed=_sorted(before - now),
                    first_seen=c_pairs[key].first_seen,
                    last_seen=c_pairs[key].last_seen,
                )
            )
    b_ext, c_ext = externals(b_nodes, b_pairs), externals(c_nodes, c_pairs)
    moved = {
        p
        for p in b_ext & c_ext
        if c_peers.addresses.get(p, set()) - b_peers.addresses.get(p, set())
    }
    b_talk = _talkers(b_ext - c_ext, b_pairs)
    c_talk = _talkers((c_ext - b_ext) | moved, c_pairs)
    readdressed = []
    for peer_id in sorted(moved):
        new = c_peers.addresses.get(peer_id, set()) - b_peers.addresses.get(peer_id, set())
        if new:
            peer = _peer(peer_id, c_nodes, c_peers, c_talk)
            readdressed.append(dataclasses.replace(peer, new_addresses=tuple(sorted(new))))
    compared = baseline_findings is not None and current_findings is not None
    return Diff(
        view=current.view,
        nodes_added=tuple(_ref(c_nodes, n) for n in nodes_added),
        nodes_removed=tuple(_ref(b_nodes, n) for n in nodes_removed),
        edges_added=tuple(sorted(added, key=_edge_sort)),
        edges_removed=tuple(sorted(removed, key=_edge_sort)),
        edges_changed=tuple(sorted(changed, key=_edge_sort)),
        peers_added=tuple(_peer(p, c_nodes, c_peers, c_talk) for p in sorted(c_ext - b_ext)),
        peers_removed=tuple(_peer(p, b_nodes, b_peers, b_talk) for p in sorted(b_ext - c_ext)),
        peers_readdressed=tuple(readdressed),
        findings_compared=compared,
        findings=(
            compare_findings(baseline_findings or (), current_findings or ()) if compared else ()
        ),
    )

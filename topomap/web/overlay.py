"""The map's diff overlay: which drawn edges are new since the baseline, which baseline edges
are gone, decided by ``topomap diff``'s own normalisation and comparison.

Both graphs are normalised at the scene's view with :func:`topomap.diff.normalize.normalize`
and compared with :func:`topomap.diff.compare.compare`, exactly as ``topomap diff --view V``
does (the :class:`~topomap.diff.compare.Diff` is kept for the status line). This module only
maps that result back to what the map draws:

* every node of a graph has an *identity*: the normalised id of the node standing for it at the
  view (``pod:shop/cart-*`` for every replica, old or new), external peers by DNS name as
  :mod:`topomap.diff.compare` knows them;
* a drawn edge stands for the normalised edges (identity pairs) of the finest edges summed
  into it. It is **new** when every one of them is a pair ``topomap diff`` lists as added: all
  replicas' edges of a new workload edge are new, an edge between recreated pods is not;
* each pair ``topomap diff`` lists as removed is drawn **gone**, once per protocol (per
  ``protocol/port`` at the process view), between one representative of each end: the
  baseline's own node if it is on the map, else the first current node of the same identity
  (a recreated pod), else the baseline's node, drawn as gone too (the identity is gone). Where
  the map already draws an edge between those two nodes (inside a collapsed group), the gone
  edge is not drawn;
* pairs whose ``protocol/port`` set changed are not marked; the details of their drawn edges
  say what changed.

The overlay exists at the views ``topomap diff`` can compare (:func:`comparable`); the
comparison of a view is cached by input digest, so expanding or collapsing reuses it. Pure
apart from the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from topomap import views
from topomap.diff import compare, normalize
from topomap.model import NodeId

#: Drawn edge: (source, target, key) as the scene keys it.
Drawn = tuple[str, str, str]
#: An identity pair: a normalised edge as ``topomap diff`` compares it (ports apart).
Pair = tuple[str, str]


def comparable(current: nx.MultiDiGraph, baseline: nx.MultiDiGraph, view: str) -> bool:
    """Whether ``topomap diff`` can compare these two graphs at ``view``."""
    return normalize.can_normalize(current, view) and normalize.can_normalize(baseline, view)


@dataclass(frozen=True)
class Comparison:
    """``topomap diff`` at one view, with the identity of every node of both graphs."""

    diff: compare.Diff
    """What ``topomap diff --view V`` reports for these two graphs."""
    current: dict[str, str]
    """Node of the current graph -> its identity."""
    baseline: dict[str, str]
    """Node of the baseline graph -> its identity."""
    added: dict[Pair, compare.EdgeChange] = field(default_factory=dict)
    """Identity pairs listed as added, with their report line."""
    removed: dict[Pair, compare.EdgeChange] = field(default_factory=dict)
    """Identity pairs listed as removed, with their report line."""
    changed: dict[Pair, compare.EdgeChange] = field(default_factory=dict)
    """Identity pairs whose ``protocol/port`` set changed, with their report line."""


def _pair(change: compare.EdgeChange) -> Pair:
    return change.source.id, change.target.id


def compare_at(current: nx.MultiDiGraph, baseline: nx.MultiDiGraph, view: str) -> Comparison:
    """Normalise both graphs at ``view`` and compare them, as ``topomap diff`` does."""
    after = normalize.normalize(current, view, ids=True)
    before = normalize.normalize(baseline, view, ids=True)
    diff = compare.compare(before, after)
    named = compare.names_by_ip((before, after))

    def identities(side: normalize.Side) -> dict[str, str]:
        aliases = compare.peer_aliases(side, named)
        return {node: aliases.get(norm, norm) for node, norm in side.ids.items()}

    return Comparison(
        diff=diff,
        current=identities(after),
        baseline=identities(before),
        added={_pair(c): c for c in diff.edges_added},
        removed={_pair(c): c for c in diff.edges_removed},
        changed={_pair(c): c for c in diff.edges_changed},
    )


def summary(comparison: Comparison) -> str:
    """One line: what ``topomap diff`` at this view reports, as the overlay shows it."""
    diff = comparison.diff
    return (
        f"diff overlay = topomap diff --view {diff.view}: {len(diff.edges_added)} edge(s) "
        f"added, {len(diff.edges_removed)} removed, {len(diff.edges_changed)} with other "
        f"protocols or ports (not marked); {len(diff.peers_added)} new external peer(s), "
        f"{len(diff.peers_removed)} gone"
    )


class ComparisonCache:
    """Comparisons by ``(input digest, view)``; the least recently used dropped beyond
    ``size`` (a comparison holds two node maps of the input's size)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._found: OrderedDict[tuple[str, str], Comparison] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, view: str, build: Callable[[], Comparison]) -> Comparison:
        """The comparison of ``digest`` at ``view``, built by ``build`` on first use."""
        slot = (digest, view)
        with self._lock:
            found = self._found.get(slot)
            if found is not None:
                self._found.move_to_end(slot)
                return found
        found = build()  # pure: two threads building the same one at once waste time only
        with self._lock:
            self._found[slot] = found
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return found


#: Shared by every map in this process (keyed by input digest, so maps never mix).
COMPARISONS = ComparisonCache()


@dataclass(frozen=True)
class Gone:
    """A baseline edge drawn as gone: where it is drawn and what it stands for."""

    source: str
    """Drawn client end (a current node, or a baseline node that is gone too)."""
    target: str
    """Drawn server end."""
    key: str
    """Edge key (protocol, or ``protocol/port`` at the process view)."""
    attrs: dict[str, Any]
    """The baseline's edge attributes, summed over what it stands for."""
    changes: tuple[compare.EdgeChange, ...]
    """The ``topomap diff`` lines (removed edges) it stands for."""


@dataclass(frozen=True)
class Overlay:
    """The diff overlay of one scene."""

    comparison: Comparison
    """``topomap diff`` at the scene's view."""
    added: dict[Drawn, tuple[compare.EdgeChange, ...]]
    """Drawn edges marked new, with the added edges (``topomap diff`` lines) they stand for."""
    changed: dict[Drawn, tuple[compare.EdgeChange, ...]]
    """Drawn edges that stand for edges with changed ports (not marked; for the details)."""
    gone: dict[Drawn, Gone]
    """Gone edges to draw, by where they are drawn."""
    gone_nodes: frozenset[str]
    """Baseline nodes drawn as gone (ends of gone edges whose identity is gone)."""


def build(
    comparison: Comparison,
    view: str,
    current: nx.MultiDiGraph,
    current_drawn: Mapping[str, str],
    drawn_nodes: set[str] | frozenset[str],
    drawn_edges: set[Drawn] | frozenset[Drawn],
    baseline: nx.MultiDiGraph,
    baseline_drawn: Callable[[], Mapping[str, str]],
) -> Overlay:
    """Map ``comparison`` onto one scene.

    Parameters
    ----------
    comparison
        ``topomap diff`` at ``view`` (:func:`compare_at`).
    current, baseline
        The two graphs as loaded (what was normalised).
    current_drawn, baseline_drawn
        Node of each graph -> the node drawn for it on this scene (the view, with groups
        expanded or collapsed in place); the baseline's is made only when something is gone.
    drawn_nodes, drawn_edges
        What the scene draws of the current graph.
    """
    ident_c, ident_b = comparison.current, comparison.baseline
    process_view = view == "process"  # the key views.project gives: protocol/port, or protocol
    # --- current edges: new when every pair they stand for was added ---------------------
    new: dict[Drawn, set[Pair]] = defaultdict(set)
    old: set[Drawn] = set()
    other: dict[Drawn, set[Pair]] = defaultdict(set)
    for u, v, key, attrs in current.edges(keys=True, data=True):
        drawn = (current_drawn[u], current_drawn[v], key if process_view else attrs["protocol"])
        pair = (ident_c[u], ident_c[v])
        if pair in comparison.added:
            new[drawn].add(pair)
        else:
            old.add(drawn)
            if pair in comparison.changed:
                other[drawn].add(pair)
    added = {
        drawn: tuple(comparison.added[p] for p in sorted(found))
        for drawn, found in new.items()
        if drawn not in old
    }
    changed = {
        drawn: tuple(comparison.changed[p] for p in sorted(found)) for drawn, found in other.items()
    }
    # --- baseline edges of removed pairs: one drawn edge per pair and key -----------------
    removed = comparison.removed
    gone_edges = [
        (u, v, k) for u, v, k in baseline.edges(keys=True) if (ident_b[u], ident_b[v]) in removed
    ]
    if not gone_edges:
        return Overlay(comparison, added, changed, {}, frozenset())
    own: dict[str, set[str]] = defaultdict(set)  # identity -> the baseline's drawn nodes
    shown_b = baseline_drawn()
    for u, v, _ in gone_edges:
        for node in (u, v):
            own[ident_b[node]].add(shown_b[node])
    current_of: dict[str, set[str]] = defaultdict(set)  # identity -> current drawn nodes
    for node, shown in current_drawn.items():
        if ident_c[node] in own:
            current_of[ident_c[node]].add(shown)
    rep = {
        identity: _representative(nodes, current_of.get(identity, set()), drawn_nodes)
        for identity, nodes in own.items()
    }
    ends = {n for u, v, _ in gone_edges for n in (u, v)}
    stand_in = {n: NodeId(rep[ident_b[n]]) for n in ends}

    def regroup(node: NodeId, _attrs: dict[str, Any], group: NodeId) -> NodeId:
        return stand_in.get(node, group)

    sub = nx.MultiDiGraph()  # a plain copy: projecting a subgraph view is 3x slower
    sub.graph = baseline.graph
    sub.add_nodes_from((n, baseline.nodes[n]) for n in ends)
    sub.add_edges_from((u, v, k, baseline.edges[u, v, k]) for u, v, k in gone_edges)
    summed = views.project(sub, view, regroup=regroup)
    stands_for: dict[Drawn, set[Pair]] = defaultdict(set)
    for u, v, k, attrs in sub.edges(keys=True, data=True):
        drawn = (stand_in[u], stand_in[v], k if process_view else attrs["protocol"])
        stands_for[drawn].add((ident_b[u], ident_b[v]))
    gone = {
        drawn: Gone(
            source=drawn[0],
            target=drawn[1],
            key=drawn[2],
            attrs=dict(summed.edges[drawn]),
            changes=tuple(removed[p] for p in sorted(found)),
        )
        for drawn, found in sorted(stands_for.items())
        if drawn not in drawn_edges
    }
    gone_nodes = frozenset(n for g in gone.values() for n in (g.source, g.target)) - drawn_nodes
    return Overlay(comparison, added, changed, gone, gone_nodes)


def _representative(
    own: set[str], current: set[str], drawn_nodes: set[str] | frozenset[str]
) -> str:
    """Where the ends of gone edges of one identity are drawn: the baseline's own node if it
    is on the map, else the first current node of the identity, else the baseline's node."""
    on_map = sorted(own & drawn_nodes)
    if on_map:
        return on_map[0]
    now = sorted(current & drawn_nodes)
    return now[0] if now else min(own)

"""Normalisation: run-specific parts of node ids go, meaning stays; peers are known by name."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.diff import shop_sets
from topomap import graph
from topomap.diff import compare, normalize


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cartservice-7d9f8c6b5d-x2x9q", "cartservice-*"),  # Deployment: hash + suffix
        ("fluentd-2v6bd", "fluentd-*"),  # DaemonSet / Job: suffix only
        ("frontend-xgf88pr6r-5hr8x", "frontend-*"),
        ("debug-shell", "debug-shell"),  # vowels: not generated
        ("web-0", "web-0"),  # a StatefulSet ordinal is not random
        ("backup-28861440-abcde", "backup-28861440-abcde"),  # 'a' and 'e' are not in the alphabet
    ],
)
def test_strip_generated(name: str, expected: str) -> None:
    assert normalize.strip_generated(name) == expected


def test_process_view_ids_carry_no_pid_container_id_or_pod_hash() -> None:
    side = normalize.normalize(graph.build_graph(shop_sets.baseline().values()), "process")
    ids = set(side.nodes) | {e[0] for e in side.edges} | {e[1] for e in side.edges}
    kinds = {i.partition(":")[0] for i in ids}
    assert kinds == {"process", "container", "pod", "host", "service", "external"}
    assert "process:shop/frontend-*/server/server" in ids
    assert "container:shop/frontend-*/server" in ids
    assert "process:node-a/https" in ids  # apt's method on the host: host and command name
    assert not [i for i in ids if "@" in i and i.startswith("process:")]
    assert not [i for i in ids if i.startswith("container:") and len(i) > 60]


def test_replicas_fold_into_one_pod_node() -> None:
    """frontend runs two replicas (node-a and node-b): one normalised pod."""
    side = normalize.normalize(graph.build_graph(shop_sets.baseline().values()), "pod")
    frontends = [n for n in side.nodes if n.startswith("pod:shop/frontend")]
    assert frontends == ["pod:shop/frontend-*"]


@pytest.mark.parametrize("view", ["process", "pod", "workload"])
def test_ids_name_what_each_node_is_compared_as(view: str) -> None:
    g = graph.build_graph(shop_sets.baseline().values())
    side = normalize.normalize(g, view, ids=True)
    assert set(side.ids) == set(g) and set(side.ids.values()) <= set(side.nodes)
    keyed = {(side.ids[u], side.ids[v], a["protocol"], a["port"]) for u, v, a in g.edges(data=True)}
    assert keyed == set(side.edges)
    frontends = {
        side.ids[n] for n, a in g.nodes(data=True) if a["kind"] == "pod" and "frontend" in n
    }
    assert len(frontends) == 1  # both replicas
    assert not normalize.normalize(g, view).ids  # only when asked


def _external_side(ip: str, names: tuple[str, ...]) -> normalize.Side:
    snap = f.snapshot(
        pods=[f.pod("cart-1", "10.1.0.5")],
        connections=[f.conn("10.1.0.5", 40000, ip, 443)],
    )
    g = graph.build_graph([snap])
    side = normalize.normalize(g, "pod")
    node = side.nodes[f"external:{ip}"]
    node.names = names
    return side


def test_a_named_peer_at_a_new_address_is_not_a_new_peer() -> None:
    before = _external_side("54.187.174.169", ("api.stripe.com",))
    after = _external_side("54.187.216.72", ("api.stripe.com",))
    diff = compare.compare(before, after)
    assert not (diff.peers_added or diff.peers_removed or diff.edges_added or diff.edges_removed)
    assert [(p.name, p.new_addresses) for p in diff.peers_readdressed] == [
        ("api.stripe.com", ("54.187.216.72",))
    ]


def test_a_name_known_on_one_side_names_the_address_on_both() -> None:
    before = _external_side("54.187.174.169", ("api.stripe.com",))
    after = _external_side("54.187.174.169", ())  # the DNS answer was not seen this time
    assert compare.compare(before, after).unchanged


def test_an_unnamed_new_address_is_a_new_peer() -> None:
    before = _external_side("54.187.174.169", ("api.stripe.com",))
    after = _external_side("185.220.101.47", ())
    diff = compare.compare(before, after)
    assert [p.id for p in diff.peers_added] == ["external:185.220.101.47"]
    assert [p.id for p in diff.peers_removed] == ["external:api.stripe.com"]


def test_changed_ports_are_a_changed_edge() -> None:
    def side(port: int) -> normalize.Side:
        snap = f.snapshot(
            pods=[f.pod("web-1", "10.1.0.5"), f.pod("db-1", "10.1.0.6")],
            connections=[f.conn("10.1.0.5", 40000, "10.1.0.6", port)],
        )
        return normalize.normalize(graph.build_graph([snap]), "workload")

    diff = compare.compare(side(5432), side(6432))
    (changed,) = diff.edges_changed
    assert (changed.added, changed.removed) == (("tcp/6432",), ("tcp/5432",))
    assert diff.reached(["edges"]) == ["1 new edge(s) or ports"]
    assert diff.reached(["external", "findings"]) == []

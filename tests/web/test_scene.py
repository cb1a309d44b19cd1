"""Scenes, search, filters, findings, diff overlay, details and exports, without a browser."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest

from tests.web import mapdata
from topomap import export, ids, views
from topomap.web import details, exports, placement, query
from topomap.web import scene as sc
from topomap.web.source import MapSource, from_graph


@pytest.fixture(scope="module")
def source() -> MapSource:
    g = mapdata.shop()
    return from_graph(g, found=[mapdata.planted_finding(g)], baseline=mapdata.baseline(g))


def scene_at(source: MapSource, view: str, **groups: frozenset[str]) -> sc.Scene:
    return sc.CACHE.get(source, sc.SceneKey(view, **groups))


def nodes_of(elements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["data"]["id"]: e for e in elements if "source" not in e["data"]}


def test_every_node_is_placed_once_inside_existing_parents(source: MapSource) -> None:
    for view in source.views:
        scene = scene_at(source, view)
        elements = query.elements(
            query.choose(sc.CACHE, source, scene.key, query.Filters()), overlay=False
        )
        nodes = nodes_of(elements)
        real = {i for i, e in nodes.items() if e["data"]["kind"] != "box"}
        assert real == set(views.project(source.graph, view))
        boxes = {i for i, e in nodes.items() if e["data"]["kind"] == "box"}
        zones = {
            f"box:zone:{a['zone']}"
            for _, a in scene.graph.nodes(data=True)
            if a["kind"] == "external"
        }
        spaces = {
            f"box:namespace:{a['namespace']}"
            for _, a in scene.graph.nodes(data=True)
            if a.get("namespace") and a["kind"] in ("pod", "workload", "service")
        }
        assert boxes == zones | spaces, view
        for element in nodes.values():
            parent = element["data"].get("parent")
            assert parent is None or parent in nodes
        leaves = [e["position"] for e in nodes.values() if "position" in e]
        assert len({(p["x"], p["y"]) for p in leaves}) == len(leaves)  # nothing on top of another
        edges = [e for e in elements if "source" in e["data"]]
        assert len(edges) == scene.graph.number_of_edges()


def test_process_view_nests_processes_in_containers_in_pods_in_namespaces(
    source: MapSource,
) -> None:
    scene = scene_at(source, "process")
    g = source.graph
    for node, attrs in g.nodes(data=True):
        parent = scene.nodes[node]["data"].get("parent")
        if attrs["kind"] == "process":
            assert parent == (attrs["container"] or attrs["host"])
        elif attrs["kind"] == "container":
            assert parent == attrs["pod"]
        elif attrs["kind"] == "pod":
            assert parent == f"box:namespace:{attrs['namespace']}"


def test_placement_packs_leaves_without_overlap() -> None:
    kids = {f"g{i}": [f"g{i}/n{j}" for j in range(i + 1)] for i in range(6)}
    roots = [*kids, "lonely"]
    positions = placement.place(roots, kids)
    assert set(positions) == {n for k in kids.values() for n in k} | {"lonely"}
    points = sorted(positions.values())
    for a, b in zip(points, points[1:], strict=False):
        assert abs(a[0] - b[0]) >= placement.LEAF_W or abs(a[1] - b[1]) >= placement.LEAF_H


def test_expand_and_collapse_a_group_in_place(source: MapSource) -> None:
    start = scene_at(source, "namespace")
    expanded: set[str] = set()
    collapsed: set[str] = set()
    sc.expand(start, "namespace:shop", expanded, collapsed)
    assert expanded == {"namespace:shop"}
    open_ = scene_at(source, "namespace", expanded=frozenset(expanded))
    shop_workloads = {
        n
        for n, a in views.project(source.graph, "workload").nodes(data=True)
        if a.get("namespace") == "shop" and a["kind"] == "workload"
    }
    assert shop_workloads <= set(open_.graph)
    assert "namespace:shop" not in open_.graph and "namespace:kube-system" in open_.graph
    # connections are still all there, only grouped differently
    total = sum(a["connections"] for _, _, a in source.graph.edges(data=True))
    assert sum(a["connections"] for _, _, a in open_.graph.edges(data=True)) == total
    one = sorted(shop_workloads)[0]
    sc.collapse(open_, one, expanded, collapsed)
    assert expanded == set() and collapsed == set()
    # collapsing a namespace box at the pod view folds its pods into one node
    pods = scene_at(source, "pod")
    sc.collapse(pods, "box:namespace:kube-system", expanded, collapsed)
    folded = scene_at(source, "pod", collapsed=frozenset(collapsed))
    assert "namespace:kube-system" in folded.graph
    assert not [n for n in folded.graph if n.startswith("pod:kube-system/")]
    sc.expand(folded, "namespace:kube-system", expanded, collapsed)
    assert collapsed == set()


def test_search_by_name_ip_and_port(source: MapSource) -> None:
    scene = scene_at(source, "workload")
    g = source.graph
    cart = next(n for n in scene.graph if n.endswith("/cartservice") and n.startswith("workload:"))
    chosen = query.select(scene, query.Filters(search="CartService"))
    assert cart in chosen.matches
    neighbours = set(scene.graph.successors(cart)) | set(scene.graph.predecessors(cart))
    assert chosen.nodes >= {cart} | neighbours
    # a pod IP finds the workload the pod belongs to
    pod, attrs = next(
        (n, a) for n, a in g.nodes(data=True) if a["kind"] == "pod" and a.get("workload") == cart
    )
    assert query.select(scene, query.Filters(search=attrs["ips"][0])).matches == {cart}
    # a port finds the edges on it
    u, v, key = mapdata.planted_edge(g)
    port = key.partition("/")[2]
    by_port = query.select(scene, query.Filters(search=port))
    assert by_port.edges == {sc.edge_id(scene.mapping[u], v, "tcp")}
    assert query.select(scene, query.Filters(search="no-such-thing")).nodes == set()


def test_filters(source: MapSource) -> None:
    scene = scene_at(source, "workload")
    facts = {f.eid: f for f in scene.facts}
    udp = query.select(scene, query.Filters(protocols=frozenset({"udp"})))
    assert udp.edges == {e for e, f in facts.items() if f.protocol == "udp"} and udp.edges
    outside = query.select(scene, query.Filters(external_only=True))
    assert outside.edges == {e for e, f in facts.items() if f.external}
    for eid in outside.edges:
        ends = (facts[eid].source, facts[eid].target)
        assert any(scene.graph.nodes[n]["kind"] == "external" for n in ends)
    public = query.select(scene, query.Filters(zones=frozenset({"public"})))
    assert all("public" in facts[e].zones for e in public.edges) and public.edges
    dns = query.select(scene, query.Filters(namespaces=frozenset({"kube-system"}), port=53))
    assert dns.edges and all(
        53 in facts[e].ports and "kube-system" in facts[e].namespaces for e in dns.edges
    )
    u, v, _ = mapdata.planted_edge(source.graph)
    only = query.select(scene, query.Filters(findings_only=True))
    assert only.edges == {sc.edge_id(scene.mapping[u], v, "tcp")}
    assert only.nodes == {scene.mapping[u], v}


def test_findings_map_to_each_view(source: MapSource) -> None:
    (finding,) = source.findings
    u, v, _ = mapdata.planted_edge(source.graph)
    workload = source.graph.nodes[u]["workload"]
    for view, expected in (
        ("process", sc.edge_id(u, v, "tcp/4444")),
        ("workload", sc.edge_id(workload, v, "tcp")),
        ("namespace", sc.edge_id("namespace:shop", v, "tcp")),
    ):
        nodes, edges = scene_at(source, view).finding_subject(finding)
        assert edges == {expected}, view
        assert v in nodes


def test_auto_aggregation_steps_coarser_and_says_so(
    source: MapSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(query.LIMITS, "nodes", 20)
    choice = query.choose(sc.CACHE, source, sc.SceneKey("process"), query.Filters())
    assert choice.scene.key.view == "namespace"
    assert sc.all_zones(source.graph) <= choice.scene.key.collapsed
    assert len(choice.selection.nodes) <= 20
    assert choice.notice.startswith(
        f"The process view has {source.graph.number_of_nodes()} nodes and "
        f"{source.graph.number_of_edges()} edges here"
    )
    assert "showing the namespace view with external peers grouped by zone" in choice.notice
    # narrowed by a filter, the finer view fits again
    narrow = query.choose(
        sc.CACHE, source, sc.SceneKey("process"), query.Filters(search="adservice")
    )
    assert narrow.scene.key.view == "process" and narrow.notice == ""


def test_diff_overlay_against_the_baseline(source: MapSource) -> None:
    scene = scene_at(source, "workload")
    u, v, _ = mapdata.planted_edge(source.graph)
    ru, rv, _ = mapdata.removed_edge(source.graph)
    wu, wru, wrv = (source.graph.nodes[n]["workload"] for n in (u, ru, rv))
    assert scene.added == {sc.edge_id(wu, v, "tcp")}
    assert scene.removed == ([], [(wru, wrv, "tcp")])
    choice = query.choose(sc.CACHE, source, scene.key, query.Filters())
    drawn = {e["data"]["id"]: e["classes"] for e in query.elements(choice, overlay=True)}
    assert "added" in drawn[sc.edge_id(wu, v, "tcp")].split()
    assert "removed" in drawn[sc.edge_id(wru, wrv, "tcp")].split()
    plain = {e["data"]["id"] for e in query.elements(choice, overlay=False)}
    assert sc.edge_id(wru, wrv, "tcp") not in plain


def test_node_and_edge_details(source: MapSource) -> None:
    scene = scene_at(source, "workload")
    g = source.graph
    u, v, _ = mapdata.planted_edge(g)
    workload = g.nodes[u]["workload"]
    rows = dict(details.node_rows(scene, workload) or [])
    pods = [
        a for _, a in g.nodes(data=True) if a["kind"] == "pod" and a.get("workload") == workload
    ]
    assert rows["kind"] == "workload" and rows["namespace"] == "shop"
    assert rows["IPs"] == ", ".join(sorted(ip for p in pods for ip in p["ips"]))
    procs = sorted(
        a["label"]
        for n, a in g.nodes(data=True)
        if a["kind"] == "process" and a.get("workload") == workload
    )
    assert rows[f"processes ({len(procs)})"] == ", ".join(procs)
    assert rows["policies selecting it"].startswith("not analysed")
    edge = dict(details.edge_rows(scene, sc.edge_id(workload, v, "tcp")) or [])
    attrs = scene.graph.edges[workload, v, "tcp"]
    assert edge["connections"] == f"{attrs['connections']:,}" and edge["ports"] == "4444"
    assert edge["policy verdict"] == "allow" and edge["deciding policy"] == "system default"
    assert edge["diff"] == "new since the baseline"
    assert edge["finding"].startswith("HIGH TM-EXT-EGRESS: ")
    external = dict(details.node_rows(scene, v) or [])
    assert external["zone"] == "public" and external["DNS names"] == "-"
    assert details.node_rows(scene, "pod:shop/ghost") is None
    assert details.edge_rows(scene, "a->b#tcp") is None


def test_exports(source: MapSource) -> None:
    scene = scene_at(source, "workload")
    choice = query.Choice(scene, query.select(scene, query.Filters(external_only=True)))
    document = orjson.loads(exports.graph_json(choice))
    g = export.graph_from_document(document, origin="export")  # its digest checks out
    assert set(g) == choice.selection.nodes
    assert {sc.edge_id(a, b, k) for a, b, k in g.edges(keys=True)} == choice.selection.edges
    (finding,) = source.findings
    evil = type(finding)(
        **{**{f: getattr(finding, f) for f in finding.__slots__}, "message": "=HYPERLINK(1)"}
    )
    rows = list(csv.reader(io.StringIO(exports.findings_csv((finding, evil)))))
    assert rows[0] == list(exports.CSV_COLUMNS)
    assert rows[1][:2] == ["high", "TM-EXT-EGRESS"] and rows[1][6] == finding.evidence[0].edge
    assert rows[2][5] == "'=HYPERLINK(1)"


def test_scene_cache_is_keyed_by_input_digest(source: MapSource) -> None:
    key = sc.SceneKey("pod")
    assert sc.CACHE.get(source, key) is sc.CACHE.get(source, key)
    other = from_graph(views.project(source.graph, "pod"))
    assert other.digest != source.digest
    assert sc.CACHE.get(other, key) is not sc.CACHE.get(source, key)
    small = sc.SceneCache(size=2)
    for view in ("pod", "workload", "namespace"):
        small.get(source, sc.SceneKey(view))
    assert len(small) == 2


def test_a_coarse_graph_json_offers_only_coarser_views() -> None:
    g = views.project(mapdata.shop(), "workload")
    assert from_graph(g).views == ("workload", "namespace", "host")
    assert ids.kind_of(next(iter(g))) in {"external", "host", "service", "workload"}


def test_svg_export_draws_every_node_with_escaped_labels(source: MapSource) -> None:
    from xml.etree import ElementTree

    from topomap.web import svg

    scene = scene_at(source, "workload")
    choice = query.choose(sc.CACHE, source, scene.key, query.Filters())
    elements = query.elements(choice, overlay=True)
    evil = {
        "data": {"id": "pod:x", "label": mapdata.XSS, "kind": "pod"},
        "position": {"x": 0, "y": 0},
    }
    document = ElementTree.fromstring(svg.render([*elements, evil]))
    ns = "{http://www.w3.org/2000/svg}"
    leaves = [e for e in elements if "position" in e]
    assert len(document.findall(f"{ns}circle")) == len(leaves) + 1
    assert len(document.findall(f"{ns}line")) == len([e for e in elements if "source" in e["data"]])
    assert len(document.findall(f"{ns}rect")) == len(
        [e for e in elements if e["data"].get("kind") == "box"]
    )
    assert mapdata.XSS in [t.text for t in document.findall(f"{ns}text")]
    assert document.find(f"{ns}img") is None

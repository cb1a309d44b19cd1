"""The map's diff overlay agrees with ``topomap diff`` on the same inputs, at every view.

The two collections are tests/diff/shop_sets.py: the shop as committed, and the same shop
after a redeploy (every pod name, container id, pid and client port new) with one real new
edge (recommendationservice -> telemetry.example.net, a new external peer) and one real gone
edge (frontend -> adservice). Read the other way round (``reverse``), the gone edge is new from
both frontend replicas, and the new peer is gone. The map is loaded by the map's own loader
from the snapshot files and a graph JSON baseline; ``topomap diff`` runs through the CLI on the
same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tests.diff import shop_sets
from topomap import cli, export, graph, views
from topomap.web import details, page, query
from topomap.web import overlay as ov
from topomap.web import scene as sc
from topomap.web.source import MapSource, load_source

PEER = f"external:{shop_sets.NEW_PEER_IP}"
FRONTEND = "workload:shop/Deployment/frontend"
ADSERVICE = "workload:shop/Deployment/adservice"
RECOMMENDATION = "workload:shop/Deployment/recommendationservice"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both collections as snapshot directories, and each as a process-view graph JSON."""
    root = tmp_path_factory.mktemp("overlay")
    paths: dict[str, Path] = {}
    for name, snapshots in (("old", shop_sets.baseline()), ("new", shop_sets.current())):
        paths[name] = shop_sets.write(snapshots, root / name)
        paths[f"{name}.json"] = root / f"{name}.graph.json"
        built = graph.build_graph(snapshots.values())
        paths[f"{name}.json"].write_bytes(export.dumps_graph_json(built))
    return paths


def sides(files: dict[str, Path], reverse: bool) -> tuple[Path, Path]:
    """(baseline graph JSON, current snapshot directory)."""
    return (files["new.json"], files["old"]) if reverse else (files["old.json"], files["new"])


def load(files: dict[str, Path], reverse: bool) -> MapSource:
    """The map's inputs, as ``topomap serve CURRENT/*.json --baseline BASELINE`` loads them."""
    baseline, current = sides(files, reverse)
    return load_source(sorted(current.glob("*.json")), baseline_file=str(baseline))


@pytest.fixture(scope="module", params=[False, True], ids=["redeploy", "reverse"])
def case(request: pytest.FixtureRequest, files: dict[str, Path]) -> tuple[bool, MapSource]:
    return request.param, load(files, request.param)


def topomap_diff(files: dict[str, Path], reverse: bool, view: str) -> dict[str, Any]:
    baseline, current = sides(files, reverse)
    result = CliRunner().invoke(cli.cli, ["diff", str(baseline), str(current), "--view", view])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = orjson.loads(result.stdout)
    return doc


def pairs(changes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["source"]["id"], c["target"]["id"]) for c in changes}


def shown(scene: sc.Scene) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The ``topomap diff`` pairs behind the edges the overlay marks new, and draws gone."""
    overlay = scene.overlay
    assert overlay is not None
    new = {(c.source.id, c.target.id) for found in overlay.added.values() for c in found}
    gone = {(c.source.id, c.target.id) for g in overlay.gone.values() for c in g.changes}
    return new, gone


def pods(source: MapSource, workload: str) -> list[str]:
    return sorted(
        n
        for n, a in source.graph.nodes(data=True)
        if a["kind"] == "pod" and a["workload"] == workload
    )


def test_overlay_marks_what_topomap_diff_reports_at_every_view(
    case: tuple[bool, MapSource], files: dict[str, Path]
) -> None:
    reverse, source = case
    assert sc.baseline_views(source) == source.views
    for view in source.views:
        doc = topomap_diff(files, reverse, view)
        new, gone = shown(sc.CACHE.get(source, sc.SceneKey(view)))
        assert new == pairs(doc["edges_added"]), view
        assert gone == pairs(doc["edges_removed"]), view
        # the redeploy itself is no change: one edge each way (two at the finer views, where
        # frontend's pod and its process each reach adservice), none where it becomes a port
        expected = {"process": 2, "container": 2, "namespace": 0, "host": 0}.get(view, 1)
        counts = (expected, 1) if reverse else (1, expected)
        assert (len(doc["edges_added"]), len(doc["edges_removed"])) == counts, view
        assert not (doc["nodes_added"] or doc["nodes_removed"]), view


def test_recreated_pods_are_not_new_at_the_pod_view(case: tuple[bool, MapSource]) -> None:
    reverse, source = case
    scene = sc.CACHE.get(source, sc.SceneKey("pod"))
    assert source.baseline is not None
    old = views.project(source.baseline, "pod")
    # guard: compared edge by edge, every edge with a pod end would be new (no name survived)
    with_pods = [e for e in scene.graph.edges(keys=True) if "pod:" in (e[0][:4], e[1][:4])]
    assert len(with_pods) > 10 and not any(old.has_edge(*e) for e in with_pods)
    (recommendation,) = pods(source, RECOMMENDATION)
    (adservice,) = pods(source, ADSERVICE)
    frontends = pods(source, FRONTEND)
    assert len(frontends) == 2
    if not reverse:
        assert scene.added == {sc.edge_id(recommendation, PEER, "tcp")}
        # gone: drawn between the current (recreated) pods, the first frontend replica
        assert scene.removed == ([], [(frontends[0], adservice, "tcp")])
    else:
        # new from both frontend replicas: one topomap diff line, two drawn edges
        assert scene.added == {sc.edge_id(f, adservice, "tcp") for f in frontends}
        # the peer is gone with its edge: drawn as a gone node
        assert scene.removed == ([PEER], [(recommendation, PEER, "tcp")])
    drawn = query.elements(query.choose(sc.CACHE, source, scene.key, query.Filters()), overlay=True)
    classes = {e["data"]["id"]: e["classes"].split() for e in drawn if "source" in e["data"]}
    assert {e for e, c in classes.items() if "added" in c} == scene.added
    assert {e for e, c in classes.items() if "removed" in c} == {
        sc.edge_id(*key) for key in scene.removed[1]
    }


def test_details_quote_topomap_diff(case: tuple[bool, MapSource]) -> None:
    reverse, source = case
    scene = sc.CACHE.get(source, sc.SceneKey("workload"))
    new_edge = (FRONTEND, ADSERVICE) if reverse else (RECOMMENDATION, PEER)
    gone_edge = (RECOMMENDATION, PEER) if reverse else (FRONTEND, ADSERVICE)
    new_rows = dict(details.edge_rows(scene, sc.edge_id(*new_edge, "tcp")) or [])
    gone_rows = dict(details.edge_rows(scene, sc.edge_id(*gone_edge, "tcp")) or [])
    ads = "- frontend -> adservice tcp/9555"
    peer = f"- recommendationservice -> {shop_sets.NEW_PEER_NAME} tcp/443"
    if reverse:
        ads, peer = "+" + ads[1:], "-" + peer[1:]
    else:
        peer = "+" + peer[1:]
    assert new_rows["diff"] == "new since the baseline"
    assert new_rows["topomap diff"] == (ads if reverse else peer)
    assert gone_rows["diff"] == "gone since the baseline"
    assert gone_rows["topomap diff"] == (peer if reverse else ads)
    # at the namespace view the gone edge is a port gone from shop -> shop: a change, unmarked
    top = sc.CACHE.get(source, sc.SceneKey("namespace"))
    inside = sc.edge_id("namespace:shop", "namespace:shop", "tcp")
    assert inside not in top.added and inside not in top.removed_edges
    rows = dict(details.edge_rows(top, inside) or [])
    sign = "+" if reverse else "-"
    assert rows["diff"] == "protocols or ports changed since the baseline"
    assert rows["topomap diff"] == f"~ shop -> shop {sign}tcp/9555"


def test_a_node_gone_since_the_baseline_has_details(case: tuple[bool, MapSource]) -> None:
    """The dashed node of a peer that is only in the baseline: what it was and its diff line."""
    reverse, source = case
    scene = sc.CACHE.get(source, sc.SceneKey("pod"))
    rows = details.node_rows(scene, PEER)
    if not reverse:  # the peer is on the map (new), not a gone node
        assert rows is not None and "diff" not in dict(rows)
        return
    assert rows is not None
    shown = dict(rows)
    assert shown["diff"] == "in the baseline only: gone since, with the edges drawn dashed"
    # at the pod view topomap diff names the pod by its identity (replicas folded)
    assert shown["topomap diff"] == (
        f"- recommendationservice-* -> {shop_sets.NEW_PEER_NAME} tcp/443"
    )
    assert (shown["id"], shown["kind"]) == (PEER, "external")
    assert shop_sets.NEW_PEER_NAME in shown["DNS names"]
    assert details.node_rows(scene, "external:192.0.2.250") is None  # on neither side


def test_expanded_and_collapsed_groups(files: dict[str, Path]) -> None:
    source = load(files, reverse=False)
    (recommendation,) = pods(source, RECOMMENDATION)
    plain = sc.CACHE.get(source, sc.SceneKey("workload"))
    assert plain.added == {sc.edge_id(RECOMMENDATION, PEER, "tcp")}
    assert plain.removed == ([], [(FRONTEND, ADSERVICE, "tcp")])
    expanded = sc.CACHE.get(source, sc.SceneKey("workload", expanded=frozenset({RECOMMENDATION})))
    # the workload's new edge is new from its pods
    assert expanded.added == {sc.edge_id(recommendation, PEER, "tcp")}
    assert expanded.removed == ([], [(FRONTEND, ADSERVICE, "tcp")])
    # grouped into its zone, the new peer's edge joins recommendationservice's old public edge:
    # not every edge it stands for is new, so it is not marked
    zoned = sc.CACHE.get(source, sc.SceneKey("workload", collapsed=frozenset({"zone:public"})))
    assert zoned.graph.has_edge(RECOMMENDATION, "zone:public", "tcp")
    assert zoned.added == set()


def test_a_coarse_baseline_has_an_overlay_only_where_topomap_diff_compares(
    files: dict[str, Path], tmp_path: Path
) -> None:
    coarse = tmp_path / "workload.json"
    old = graph.build_graph(shop_sets.baseline().values())
    coarse.write_bytes(export.dumps_graph_json(views.project(old, "workload")))
    source = load_source(sorted(files["new"].glob("*.json")), baseline_file=str(coarse))
    assert sc.baseline_views(source) == ("workload",)
    for view in source.views:
        result = CliRunner().invoke(
            cli.cli, ["diff", str(coarse), str(files["new"]), "--view", view]
        )
        scene = sc.CACHE.get(source, sc.SceneKey(view))
        assert (scene.overlay is not None) == (result.exit_code == 0), view
    scene = sc.CACHE.get(source, sc.SceneKey("workload"))
    assert scene.added == {sc.edge_id(RECOMMENDATION, PEER, "tcp")}
    choice = query.choose(sc.CACHE, source, scene.key, query.Filters())
    assert page.status_line(choice, overlay=True).endswith(
        ". diff overlay = topomap diff --view workload: 1 edge(s) added, 1 removed, 0 with "
        "other protocols or ports (not marked); 1 new external peer(s), 0 gone"
    )
    assert "diff" not in page.status_line(choice)  # overlay off
    pods = query.choose(sc.CACHE, source, sc.SceneKey("pod"), query.Filters())
    assert "No diff overlay at the pod view: topomap diff cannot compare" in (
        page.status_line(pods, overlay=True)
    )


def test_one_comparison_per_input_and_view(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = load(files, reverse=False)
    assert source.baseline is not None
    cache = ov.ComparisonCache(size=2)
    made: list[str] = []

    def build(view: str) -> ov.Comparison:
        made.append(view)
        return ov.compare_at(source.graph, source.baseline, view)  # type: ignore[arg-type]

    first = cache.get(source.digest, "pod", lambda: build("pod"))
    assert cache.get(source.digest, "pod", lambda: build("pod")) is first
    cache.get(source.digest, "workload", lambda: build("workload"))
    cache.get(source.digest, "process", lambda: build("process"))  # drops pod, the oldest
    cache.get(source.digest, "pod", lambda: build("pod"))
    assert made == ["pod", "workload", "process", "pod"]
    # expanding or collapsing a group reuses its view's comparison
    monkeypatch.setattr(ov, "COMPARISONS", ov.ComparisonCache())
    scenes = sc.SceneCache()
    scene = scenes.get(source, sc.SceneKey("pod"))
    folded = scenes.get(source, sc.SceneKey("pod", collapsed=frozenset({"namespace:shop"})))
    assert scene.overlay is not None and folded.overlay is not None
    assert folded.overlay.comparison is scene.overlay.comparison

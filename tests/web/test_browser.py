"""The map in a real browser: Playwright driving Debian's Chromium against ``topomap serve``.

Expected ids and counts come from the core (views, the scene module) on the same samples,
never from numbers written here. The screenshot of the sample map goes to tmp/artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.web import mapdata
from tests.web.conftest import Server
from topomap import views
from topomap.web import query
from topomap.web import scene as sc
from topomap.web.source import from_graph, load_source

CY = "document.getElementById('map')._cyreg.cy"
ARTIFACTS = Path(os.environ.get("TOPOMAP_ARTIFACTS", mapdata.REPO / "tmp" / "artifacts"))


def drawn(page: Any) -> dict[str, Any]:
    """Ids of the drawn nodes (boxes apart), boxes and edges, with the edges' classes."""
    result: dict[str, Any] = page.evaluate(
        f"""() => {{
        const cy = {CY};
        return {{
            nodes: cy.nodes('[kind != "box"]').map(n => n.id()).sort(),
            boxes: cy.nodes('[kind = "box"]').map(n => n.id()).sort(),
            edges: Object.fromEntries(cy.edges().map(e => [e.id(), e.classes()])),
            selected: cy.$(':selected').map(e => e.id()),
        }};
    }}"""
    )
    return result


def open_map(page: Any, server: Server) -> dict[str, Any]:
    page.goto(server.url)
    page.wait_for_function(
        f"() => {{ const m = document.getElementById('map');"
        f" return m && m._cyreg && {CY}.nodes().length > 0; }}"
    )
    return drawn(page)


def wait_for_nodes(page: Any, expected: set[str]) -> dict[str, Any]:
    page.wait_for_function(
        f"""(want) => {{
        const got = {CY}.nodes('[kind != "box"]').map(n => n.id()).sort();
        return JSON.stringify(got) === JSON.stringify(want);
    }}""",
        arg=sorted(expected),
    )
    return drawn(page)


def click_node(page: Any, node: str) -> None:
    """A real mouse click on the node's position on the canvas."""
    box = page.locator("#map").bounding_box()
    point = page.evaluate(
        f"(id) => {{ const n = {CY}.getElementById(id); return n.renderedPosition(); }}", node
    )
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def expected_boxes(g: Any) -> set[str]:
    zones = {f"box:zone:{a['zone']}" for _, a in g.nodes(data=True) if a["kind"] == "external"}
    spaces = {
        f"box:namespace:{a['namespace']}"
        for _, a in g.nodes(data=True)
        if a["kind"] in ("pod", "workload", "service") and a.get("namespace")
    }
    return zones | spaces


def test_sample_map_renders_every_node_and_is_screenshotted(
    page: Any, sample_server: Server
) -> None:
    workload = views.project(mapdata.shop(), "workload")
    shown = open_map(page, sample_server)
    assert set(shown["nodes"]) == set(workload)
    assert len(shown["nodes"]) == workload.number_of_nodes()
    assert set(shown["boxes"]) == expected_boxes(workload)
    assert len(shown["edges"]) == workload.number_of_edges()
    assert (
        page.locator("#status")
        .inner_text()
        .startswith(
            f"workload view: {workload.number_of_nodes()} of {workload.number_of_nodes()} nodes"
        )
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # one more frame after the fit
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    assert (ARTIFACTS / "map.png").stat().st_size > 20_000


def test_clicking_a_node_shows_its_details(page: Any, sample_server: Server) -> None:
    g = mapdata.shop()
    u, _, _ = mapdata.planted_edge(g)
    workload = g.nodes[u]["workload"]
    ips = sorted(
        ip
        for _, a in g.nodes(data=True)
        if a["kind"] == "pod" and a.get("workload") == workload
        for ip in a["ips"]
    )
    open_map(page, sample_server)
    click_node(page, workload)
    details = page.locator("#details")
    details.get_by_text("listening ports (observed)").wait_for()
    text = details.inner_text()
    assert f"id\t{workload}" in text
    assert "kind\tworkload" in text
    assert f"IPs\t{', '.join(ips)}" in text


def test_a_click_hits_its_node_after_the_notice_moves_the_map(
    page: Any, sample_server: Server
) -> None:
    """The notice above the map appears and goes with the auto-aggregation, moving the
    canvas; Cytoscape must re-measure it, else a click lands on what was there before."""
    g = mapdata.shop()
    u, _, _ = mapdata.planted_edge(g)
    workload = g.nodes[u]["workload"]
    open_map(page, sample_server)
    before = page.locator("#map").bounding_box()
    page.evaluate(
        "() => { const n = document.getElementById('notice');"
        " n.textContent = 'a notice\\nof\\nthree lines'; n.style.whiteSpace = 'pre'; }"
    )
    page.wait_for_function(
        "(top) => document.getElementById('map').getBoundingClientRect().top > top + 30",
        arg=before["y"],
    )
    page.wait_for_timeout(100)  # Cytoscape re-measures its resized container
    click_node(page, workload)
    page.locator("#details").get_by_text(f"{workload}", exact=True).wait_for()
    assert f"id\t{workload}" in page.locator("#details").inner_text()


def test_typing_in_search_narrows_the_map(page: Any, sample_server: Server) -> None:
    source = from_graph(mapdata.shop())
    scene = sc.CACHE.get(source, sc.SceneKey("workload"))
    expected = query.select(scene, query.Filters(search="cartservice"))
    assert 1 < len(expected.nodes) < scene.graph.number_of_nodes()
    open_map(page, sample_server)
    page.locator("#search").fill("cartservice")
    shown = wait_for_nodes(page, expected.nodes)
    assert set(shown["edges"]) == expected.edges
    page.locator("#search").fill("")
    wait_for_nodes(page, set(scene.graph))


def test_switching_to_namespace_and_back(page: Any, sample_server: Server) -> None:
    g = mapdata.shop()
    first = open_map(page, sample_server)
    page.get_by_label("namespace", exact=True).check()
    namespace = views.project(g, "namespace")
    shown = wait_for_nodes(page, set(namespace))
    assert len(shown["edges"]) == namespace.number_of_edges()
    assert "namespace:shop" in shown["nodes"]
    page.get_by_label("workload", exact=True).check()
    back = wait_for_nodes(page, set(first["nodes"]))
    assert back["edges"].keys() == first["edges"].keys()


def test_clicking_a_finding_highlights_its_edge(page: Any, rich_server: Server) -> None:
    g = mapdata.shop()
    u, v, _ = mapdata.planted_edge(g)
    edge = sc.edge_id(g.nodes[u]["workload"], v, "tcp")
    shown = open_map(page, rich_server)
    assert "finding" in shown["edges"][edge]
    page.locator("button.finding").first.click()
    page.wait_for_function(
        f"(id) => {{ const s = {CY}.$(':selected'); return s.length === 1 && s[0].id() === id; }}",
        arg=edge,
    )
    assert "on the map" in page.locator("#details").inner_text()
    centre = page.evaluate(
        f"(id) => {{ const cy = {CY}; const p = cy.getElementById(id).renderedMidpoint();"
        " return [p.x / cy.width(), p.y / cy.height()]; }",
        edge,
    )
    page.wait_for_timeout(400)  # the centring animation takes 250 ms
    centre = page.evaluate(
        f"(id) => {{ const cy = {CY}; const p = cy.getElementById(id).renderedMidpoint();"
        " return [p.x / cy.width(), p.y / cy.height()]; }",
        edge,
    )
    assert abs(centre[0] - 0.5) < 0.05 and abs(centre[1] - 0.5) < 0.05


def test_diff_overlay_shows_the_planted_change(page: Any, rich_server: Server) -> None:
    g = mapdata.shop()
    u, v, _ = mapdata.planted_edge(g)
    ru, rv, _ = mapdata.removed_edge(g)
    added = sc.edge_id(g.nodes[u]["workload"], v, "tcp")
    removed = sc.edge_id(g.nodes[ru]["workload"], g.nodes[rv]["workload"], "tcp")
    shown = open_map(page, rich_server)
    assert "added" not in shown["edges"][added] and removed not in shown["edges"]
    page.locator("#overlay input").check()
    page.wait_for_function(f"(id) => {CY}.getElementById(id).length === 1", arg=removed)
    shown = drawn(page)
    assert "removed" in shown["edges"][removed]
    assert "added" in shown["edges"][added]
    assert [e for e, c in shown["edges"].items() if "added" in c] == [added]
    assert [e for e, c in shown["edges"].items() if "removed" in c] == [removed]


def test_diff_overlay_ignores_a_redeploy(
    page: Any, redeploy_server: Server, redeploy: dict[str, Path]
) -> None:
    """Recreated pods are no change on the map, as in topomap diff (tests/web/test_overlay.py
    checks the two agree at every view): one new edge and one gone edge at the pod view."""
    source = load_source(
        sorted(redeploy["current"].glob("*.json")), baseline_file=str(redeploy["baseline"])
    )
    scene = sc.CACHE.get(source, sc.SceneKey("pod"))
    (added,) = scene.added
    (gone,) = (sc.edge_id(*key) for key in scene.removed[1])
    open_map(page, redeploy_server)
    page.locator("#overlay input").check()
    page.wait_for_function(f"(id) => {CY}.getElementById(id).length === 1", arg=gone)
    shown = drawn(page)
    assert [e for e, c in shown["edges"].items() if "added" in c] == [added]
    assert [e for e, c in shown["edges"].items() if "removed" in c] == [gone]
    assert len(shown["edges"]) == scene.graph.number_of_edges() + 1
    assert "diff overlay = topomap diff --view pod: 1 edge(s) added, 1 removed" in (
        page.locator("#status").inner_text()
    )


def test_an_html_pod_name_is_text_and_runs_nothing(page: Any, rich_server: Server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pod = f"pod:shop/{mapdata.XSS}"
    shown = open_map(page, rich_server)
    assert pod in shown["nodes"]
    page.locator("#search").fill("onerror")
    wait_for_nodes(page, {pod})
    assert page.evaluate(f"(id) => {CY}.getElementById(id).data('label')", pod) == mapdata.XSS
    click_node(page, pod)
    page.locator("#details").get_by_text(mapdata.XSS, exact=True).first.wait_for()
    assert page.locator("#details img").count() == 0
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.wait_for_timeout(300)
    assert dialogs == []


@pytest.mark.parametrize("width", ["bytes"])
def test_edge_width_switches_without_resending_elements(
    page: Any, sample_server: Server, width: str
) -> None:
    open_map(page, sample_server)
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data or "") if "_dash-update-component" in r.url else None,
    )
    page.get_by_label(width, exact=True).check()
    page.wait_for_function(
        f"() => {CY}.style().json().some(r => r.selector === 'edge'"
        " && r.style.width === 'data(w_bytes)')"
    )
    assert sent and all('"elements"' not in body for body in sent)

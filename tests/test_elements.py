"""Graph -> Cytoscape elements."""

from __future__ import annotations

from tests.test_views import shop
from topomap import elements, views


def test_elements_cover_the_view_with_compound_parents() -> None:
    g = views.project(shop(), "process")
    els = elements.to_elements(g)
    nodes = [e["data"] for e in els if "source" not in e["data"]]
    edges = [e["data"] for e in els if "source" in e["data"]]
    assert len(nodes) == g.number_of_nodes() and len(edges) == g.number_of_edges()
    by_id = {n["id"]: n for n in nodes}
    assert by_id["process:node-b/10@1"]["parent"].startswith("container:")
    assert by_id["pod:shop/cart-1"]["parent"] == "host:node-b"
    assert all(e["source"] in by_id and e["target"] in by_id for e in edges)
    assert len({e["id"] for e in edges}) == len(edges)


def test_describe_nodes_and_edges() -> None:
    g = views.project(shop(), "pod")
    edge = next(e["data"] for e in elements.to_elements(g) if "source" in e["data"])
    described = elements.describe(g, edge["id"])
    assert described is not None
    assert (described["source"], described["target"]) == (edge["source"], edge["target"])
    assert described["connections"] == edge["connections"]
    node = elements.describe(g, "pod:shop/web-1")
    assert node is not None and node["labels"] == {"app": "web"}
    assert elements.describe(g, "pod:shop/ghost") is None

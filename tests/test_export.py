"""Graph JSON: determinism, the published schema, exact round trips, tamper detection."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import networkx as nx
import orjson
import pytest

from tests.test_views import shop
from topomap import export, views
from topomap.errors import InputError, SchemaVersionError

SCHEMA = orjson.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "graph.schema.json").read_bytes()
)


@pytest.mark.parametrize("view", views.VIEWS)
def test_valid_deterministic_and_round_trips(view: str, tmp_path: Path) -> None:
    g = views.project(shop(), view)
    data = export.dumps_graph_json(g)
    assert data == export.dumps_graph_json(views.project(shop(), view))
    document = orjson.loads(data)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA)
    path = tmp_path / "g.json"
    path.write_bytes(data)
    loaded = export.load_graph_json(path)
    assert nx.utils.graphs_equal(loaded, g)
    assert loaded.graph == g.graph
    assert export.dumps_graph_json(loaded) == data  # a loaded graph exports to the same bytes


def test_canonical_order_and_counts() -> None:
    document = orjson.loads(export.dumps_graph_json(views.project(shop(), "pod")))
    ids = [n["id"] for n in document["nodes"]]
    assert ids == sorted(ids)
    keys = [(e["source"], e["target"], e["key"]) for e in document["edges"]]
    assert keys == sorted(keys)
    counts = document["topomap"]["counts"]
    assert counts["nodes"] == len(ids) and counts["edges"] == len(keys)
    assert counts["connections"] == 5
    assert counts["nodes_by_kind"]["pod"] == 4


def test_edited_content_is_refused(tmp_path: Path) -> None:
    data = export.dumps_graph_json(views.project(shop(), "pod"))
    path = tmp_path / "g.json"
    path.write_bytes(data.replace(b'"connections": 2', b'"connections": 3', 1))
    with pytest.raises(InputError, match=r"g\.json: content digest mismatch"):
        export.load_graph_json(path)


def test_newer_graph_version_is_refused(tmp_path: Path) -> None:
    document = orjson.loads(export.dumps_graph_json(views.project(shop(), "pod")))
    document["topomap"]["schema_version"] = export.GRAPH_SCHEMA_VERSION + 1
    path = tmp_path / "g.json"
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(SchemaVersionError, match="upgrade topomap"):
        export.load_graph_json(path)


def test_dangling_edge_is_refused(tmp_path: Path) -> None:
    document = orjson.loads(export.dumps_graph_json(views.project(shop(), "pod")))
    document["edges"][0]["target"] = "pod:shop/ghost"
    path = tmp_path / "g.json"
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(InputError, match=r"/edges/0/target: not the id of a node"):
        export.load_graph_json(path)


def test_not_a_graph_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"[1, 2]")
    with pytest.raises(InputError, match="not a topomap graph JSON"):
        export.load_graph_json(path)


def test_digest_recipe_in_the_docs_matches() -> None:
    """docs/graph-json.md tells auditors how to recompute the digest with the stdlib."""
    import hashlib
    import json

    g = views.project(shop(), "process")
    g.nodes["pod:shop/web-1"]["labels"] = {"owner": "Zoë / ops", "note": 'quote " and \\'}
    document = json.loads(export.dumps_graph_json(g))
    recorded = document.pop("topomap")["content_sha256"]
    canonical = json.dumps(  # noqa: TID251 - the stdlib recipe is what is being tested
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == recorded

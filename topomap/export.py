"""Graph JSON: the deterministic file auditors receive, and its loader.

The file is networkx node-link data (``edges="edges"``) plus a ``topomap`` block with the schema
version, tool version, view, window, scope, the input files with their sha256, counts, and
``content_sha256``: the sha256 of the canonical content (the node-link part serialised compactly
with sorted keys). Nodes are sorted by id and edges by (source, target, key), every object's
keys are sorted and times are UTC ISO 8601, so the same inputs always give the same bytes and a
diff of two exports is meaningful. ``docs/graph-json.md`` documents every field.

:func:`load_graph_json` checks the version and the content digest before trusting the content,
so an edited file is refused with its name rather than silently believed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from topomap import __version__, snapshot_io
from topomap.errors import InputError, SchemaVersionError

#: Version of the graph JSON format written by this topomap.
GRAPH_SCHEMA_VERSION = 1

_CANONICAL = orjson.OPT_SORT_KEYS
_PRETTY = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE


def content_of(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """The node-link content of ``graph`` in canonical order."""
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"].sort(key=lambda node: node["id"])
    data["edges"].sort(key=lambda edge: (edge["source"], edge["target"], str(edge["key"])))
    return dict(data)


def content_digest(content: dict[str, Any]) -> str:
    """sha256 of the canonical serialisation of the node-link content."""
    return hashlib.sha256(orjson.dumps(content, option=_CANONICAL)).hexdigest()


def graph_document(
    graph: nx.MultiDiGraph, inputs: Sequence[snapshot_io.LoadedSnapshot] = ()
) -> dict[str, Any]:
    """The whole graph JSON document for ``graph`` built from ``inputs``."""
    content = content_of(graph)
    kinds = Counter(node["kind"] for node in content["nodes"])
    protocols = Counter(edge["protocol"] for edge in content["edges"])
    meta = graph.graph
    content["topomap"] = {
        "schema_version": GRAPH_SCHEMA_VERSION,
        "tool_version": __version__,
        "view": meta.get("view"),
        "window": meta.get("window"),
        "scope": meta.get("scope"),
        "inputs": sorted(
            (
                {
                    "path": Path(i.path).as_posix(),
                    "sha256": i.sha256,
                    "snapshot_id": i.snapshot.snapshot_id,
                    "observer": i.snapshot.observer,
                    "source": i.snapshot.source,
                }
                for i in inputs
            ),
            key=lambda item: (item["path"], item["sha256"]),
        ),
        "counts": {
            "nodes": len(content["nodes"]),
            "edges": len(content["edges"]),
            "connections": sum(edge["connections"] for edge in content["edges"]),
            "nodes_by_kind": dict(sorted(kinds.items())),
            "edges_by_protocol": dict(sorted(protocols.items())),
        },
        "content_sha256": content_digest({k: v for k, v in content.items() if k != "topomap"}),
    }
    return content


def dumps_graph_json(
    graph: nx.MultiDiGraph, inputs: Sequence[snapshot_io.LoadedSnapshot] = ()
) -> bytes:
    """Graph JSON bytes: pretty (2-space indent) so line diffs of two exports read well."""
    return orjson.dumps(graph_document(graph, inputs), option=_PRETTY)


def check_schema_version(block: dict[str, Any], supported: int, what: str, origin: str) -> None:
    """Refuse a ``topomap`` header block whose ``schema_version`` is missing or too new.

    Shared by every file topomap writes with such a block (graph JSON, approved baselines).
    """
    version = block.get("schema_version")
    if type(version) is not int:
        raise InputError(f"{origin}: /topomap/schema_version: expected integer, found {version!r}")
    if version > supported:
        raise SchemaVersionError(
            f"{origin}: {what} schema version {version} is newer than the supported "
            f"version {supported}; upgrade topomap to read it"
        )


def verified_content(document: Any, *, origin: str) -> dict[str, Any]:
    """Check a parsed graph JSON document (version, shape, content digest); its content.

    The node-link part (``nodes``, ``edges``, ``graph``...), without the ``topomap`` block,
    for callers that read it without building a networkx graph (``topomap diff``).

    Raises
    ------
    InputError
        Not a topomap graph JSON, malformed nodes/edges, or content digest mismatch.
    SchemaVersionError
        Written by a newer topomap.
    """
    if type(document) is not dict or type(document.get("topomap")) is not dict:
        raise InputError(f"{origin}: /topomap: missing; not a topomap graph JSON file")
    block = document["topomap"]
    check_schema_version(block, GRAPH_SCHEMA_VERSION, "graph JSON", origin)
    content = {k: v for k, v in document.items() if k != "topomap"}
    for name in ("nodes", "edges"):
        if type(content.get(name)) is not list:
            raise InputError(f"{origin}: /{name}: expected array")
    node_ids = set()
    for index, node in enumerate(content["nodes"]):
        if type(node) is not dict or type(node.get("id")) is not str:
            raise InputError(f"{origin}: /nodes/{index}/id: expected string")
        if type(node.get("kind")) is not str:
            raise InputError(f"{origin}: /nodes/{index}/kind: expected string")
        node_ids.add(node["id"])
    for index, edge in enumerate(content["edges"]):
        for end in ("source", "target"):
            if type(edge) is not dict or edge.get(end) not in node_ids:
                raise InputError(f"{origin}: /edges/{index}/{end}: not the id of a node")
    digest = content_digest(content)
    if digest != block.get("content_sha256"):
        raise InputError(
            f"{origin}: content digest mismatch (recorded {block.get('content_sha256')}, "
            f"computed {digest}): the file was changed after export"
        )
    return content


def graph_from_document(document: Any, *, origin: str) -> nx.MultiDiGraph:
    """Check a parsed graph JSON document and rebuild its graph.

    Raises
    ------
    InputError
        Not a topomap graph JSON, malformed nodes/edges, or content digest mismatch.
    SchemaVersionError
        Written by a newer topomap.
    """
    content = verified_content(document, origin=origin)
    graph: nx.MultiDiGraph = nx.node_link_graph(
        content, directed=True, multigraph=True, edges="edges"
    )
    return graph


def load_graph_json(path: str | Path) -> nx.MultiDiGraph:
    """Read a graph JSON file written by :func:`dumps_graph_json`, verifying its digest."""
    document, _ = snapshot_io.read_json(path)
    return graph_from_document(document, origin=str(path))

"""Downloads of what the map shows: graph JSON of the current view and the findings as CSV.

The graph JSON is the drawn part of the current scene (after filters and search) written by
:func:`topomap.export.dumps_graph_json`, so it carries its own content digest; the CSV has one
row per finding with its subject and evidence. Both are built from server-side state only:
no request names a file. (The PNG/SVG image of the map is made by the browser.) Pure.
"""

from __future__ import annotations

import csv
import io

import networkx as nx

from topomap import export
from topomap.findings import Finding
from topomap.web import query
from topomap.web import scene as sc

CSV_COLUMNS = (
    "severity",
    "rule",
    "title",
    "controls",
    "subject",
    "message",
    "evidence",
    "remediation",
    "fingerprint",
    "suppressed",
)


def view_graph(choice: query.Choice) -> nx.MultiDiGraph:
    """The drawn nodes and edges of a choice, as a graph with the scene's metadata."""
    scene, selection = choice.scene, choice.selection
    g = nx.MultiDiGraph()
    g.graph.update(scene.graph.graph)
    g.add_nodes_from((n, scene.graph.nodes[n]) for n in sorted(selection.nodes))
    for u, v, k, attrs in scene.graph.edges(keys=True, data=True):
        if sc.edge_id(u, v, k) in selection.edges:
            g.add_edge(u, v, k, **attrs)
    return g


def graph_json(choice: query.Choice) -> bytes:
    """Graph JSON (docs/graph-json.md) of what the map shows."""
    return export.dumps_graph_json(view_graph(choice))


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas (a cell starting with = + - @ runs in Excel)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def findings_csv(found: tuple[Finding, ...]) -> str:
    """The findings as CSV, most severe first (the report's order)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in found:
        row = [
            f.severity,
            f.rule,
            f.title,
            "; ".join(f.controls),
            "; ".join(f.subject),
            f.message,
            "; ".join(e.edge for e in f.evidence),
            f.remediation,
            f.fingerprint,
            "" if f.suppressed is None else f"{f.suppressed.reason} ({f.suppressed.approved_by})",
        ]
        writer.writerow([_cell(str(c)) for c in row])
    return out.getvalue()

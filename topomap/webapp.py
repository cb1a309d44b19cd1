"""The Dash map: layout and thin callbacks over the core. The only module that imports dash.

``create_app(graph)`` takes the finest graph (from :func:`topomap.graph.build_graph`); each view
is projected once and cached, so switching views back and forth does not rebuild anything.
Callbacks exchange element ids and small dicts, never the whole graph.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import dash
import dash_cytoscape as cyto
import networkx as nx
import orjson
from dash import Input, Output, dcc, html

from topomap import elements, summary, views

STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {"label": "data(label)", "font-size": 9, "background-color": "#6b8fb3"},
    },
    {"selector": ":parent", "style": {"background-opacity": 0.08, "text-valign": "top"}},
    {"selector": ".external", "style": {"background-color": "#d9822b", "shape": "diamond"}},
    {"selector": ".host", "style": {"background-color": "#777", "shape": "round-rectangle"}},
    {"selector": ".service", "style": {"shape": "hexagon", "background-color": "#58a55c"}},
    {
        "selector": "edge",
        "style": {
            "width": "data(width)",
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "line-color": "#aab",
            "target-arrow-color": "#aab",
            "label": "data(label)",
            "font-size": 7,
            "text-rotation": "autorotate",
        },
    },
    {
        "selector": ":selected",
        "style": {"border-width": 3, "border-color": "#c33", "line-color": "#c33"},
    },
]


def create_app(graph: nx.MultiDiGraph, *, view: str = "workload") -> dash.Dash:
    """The map of ``graph`` (finest view), opening at ``view``."""

    @lru_cache(maxsize=len(views.VIEWS))
    def projected(name: str) -> nx.MultiDiGraph:
        return views.project(graph, name)

    app = dash.Dash(__name__, title="topomap")
    app.layout = html.Div(
        [
            html.H3("topomap"),
            html.Div(id="summary"),
            dcc.Dropdown(
                id="view",
                options=list(views.VIEWS),
                value=view,
                clearable=False,
                style={"width": "14em"},
            ),
            cyto.Cytoscape(
                id="map",
                elements=elements.to_elements(projected(view)),
                layout={"name": "cose", "animate": False},
                stylesheet=STYLESHEET,
                style={"width": "100%", "height": "70vh"},
            ),
            html.Pre(id="details", style={"whiteSpace": "pre-wrap"}),
        ]
    )

    @app.callback(Output("map", "elements"), Output("summary", "children"), Input("view", "value"))
    def on_view(name: str) -> tuple[list[dict[str, Any]], str]:
        g = projected(name)
        return elements.to_elements(g), summary.render_text(summary.summarize(g)).splitlines()[0]

    @app.callback(
        Output("details", "children"),
        Input("map", "tapNodeData"),
        Input("map", "tapEdgeData"),
        Input("view", "value"),
    )
    def on_tap(node: dict[str, Any] | None, edge: dict[str, Any] | None, name: str) -> str:
        chosen = edge if "map.tapEdgeData" in dash.ctx.triggered_prop_ids else node
        if not chosen:
            return "Click a node or an edge for its details."
        found = elements.describe(projected(name), chosen["id"])
        if found is None:
            return f"{chosen['id']} is not on the {name} view."
        return orjson.dumps(found, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()

    return app

"""The page: header, control panel, the map, details and findings panels, and the stores.

Built per page load from the cached first scene, so the map arrives with the page (no extra
round trip before the first drawing). The stores hold only small state: the scene key shown,
the groups expanded or collapsed, the element to focus.
"""

from __future__ import annotations

from typing import Any

import dash_cytoscape as cyto
from dash import dcc, html

from topomap.web import overlay as ov
from topomap.web import panels, query, style
from topomap.web import scene as sc
from topomap.web.source import MapSource

CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #223; }
.topbar { display: flex; gap: 1em; align-items: baseline; padding: 6px 12px;
  background: #24324a; color: #fff; }
.topbar h1 { font-size: 18px; margin: 0; }
.main { display: flex; height: calc(100vh - 40px); }
.side { width: 290px; overflow-y: auto; padding: 8px 10px; border-right: 1px solid #dde;
  font-size: 13px; }
.side label.head { font-weight: 600; display: block; margin-top: 8px; }
.centre { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.right { width: 340px; overflow-y: auto; padding: 8px 10px; border-left: 1px solid #dde;
  font-size: 13px; }
#notice:not(:empty) { background: #fff4d6; border-bottom: 1px solid #e8c66b; padding: 4px 10px; }
#status { font-size: 12px; color: #556; padding: 3px 10px; }
.details-table th { text-align: left; vertical-align: top; padding-right: 8px; color: #556;
  font-weight: 500; white-space: nowrap; }
.details-table td { word-break: break-all; }
.finding { display: block; width: 100%; text-align: left; margin: 2px 0; padding: 4px;
  border: 1px solid #dde; background: #fafbfd; cursor: pointer; font-size: 12px; }
.sev { font-weight: 700; }
.sev-critical, .sev-high { color: #c0392b; } .sev-medium { color: #d9822b; }
.legend-row { display: flex; gap: 6px; align-items: center; font-size: 12px; }
.swatch { width: 12px; height: 12px; display: inline-block; border-radius: 3px; }
.swatch.box { border: 1px solid #9aa3b5; background: #eef2f8; }
.line { width: 22px; display: inline-block; }
.buttons button { margin: 2px 2px 2px 0; font-size: 12px; }
"""

INDEX = (
    "<!DOCTYPE html><html><head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}"
    f"<style>{CSS}</style></head><body>{{%app_entry%}}<footer>{{%config%}}{{%scripts%}}"
    "{%renderer%}</footer></body></html>"
)


def _options(values: list[str]) -> list[dict[str, str]]:
    return [{"label": v, "value": v} for v in values]


def _controls(source: MapSource, first: sc.SceneKey) -> list[Any]:
    graph = source.graph
    namespaces = sorted({n for _, a in graph.nodes(data=True) if (n := sc.namespace_of(graph, a))})
    zones = sorted(
        {str(a["zone"]) for _, a in graph.nodes(data=True) if a.get("kind") == "external"}
    )
    protocols = sorted({str(a["protocol"]) for _, _, a in graph.edges(data=True)})
    controls: list[Any] = [
        html.Label("View", className="head"),
        dcc.RadioItems(
            id="view", options=_options(list(source.views)), value=first.view, inline=True
        ),
        html.Label("Search", className="head", htmlFor="search"),
        dcc.Input(
            id="search",
            type="text",
            value="",
            debounce=0.4,
            placeholder="name, label, IP or port",
            style={"width": "95%"},
        ),
        html.Label("Namespace", className="head"),
        dcc.Dropdown(id="f-ns", options=_options(namespaces), multi=True, value=[]),
        html.Label("Zone of external peers", className="head"),
        dcc.Dropdown(id="f-zone", options=_options(zones), multi=True, value=[]),
        html.Label("Protocol", className="head"),
        dcc.Checklist(id="f-proto", options=_options(protocols), value=[], inline=True),
        html.Label("Port", className="head", htmlFor="f-port"),
        dcc.Input(id="f-port", type="number", min=0, max=65535, debounce=True, value=None),
        dcc.Checklist(
            id="f-flags",
            options=[
                {"label": "only external", "value": "external"},
                {"label": "only edges with findings", "value": "findings"},
            ],
            value=[],
        ),
        html.Label("Edge width", className="head"),
        dcc.RadioItems(
            id="width", options=_options(["connections", "bytes"]), value="connections", inline=True
        ),
        dcc.Checklist(
            id="overlay",
            options=[
                {
                    "label": f"diff overlay against {source.baseline_name}",
                    "value": "on",
                    "disabled": source.baseline is None,
                }
            ],
            value=[],
            style={"display": "block" if source.baseline is not None else "none"},
        ),
        html.Label("Group", className="head"),
        html.Div(
            [
                html.Button("Expand", id="expand", n_clicks=0, title="expand the selected node"),
                html.Button(
                    "Collapse",
                    id="collapse",
                    n_clicks=0,
                    title="collapse the selected node's group",
                ),
                html.Button("Reset", id="reset", n_clicks=0, title="undo every expand/collapse"),
            ],
            className="buttons",
        ),
        html.Label("Export", className="head"),
        html.Div(
            [
                html.Button("graph JSON", id="export-json", n_clicks=0),
                html.Button("PNG", id="export-png", n_clicks=0),
                html.Button("SVG", id="export-svg", n_clicks=0),
                html.Button(
                    "findings CSV", id="export-csv", n_clicks=0, disabled=not source.findings
                ),
            ],
            className="buttons",
        ),
        dcc.Download(id="download"),
        panels.legend(),
    ]
    return controls


def status_line(choice: query.Choice, *, overlay: bool = False) -> str:
    """One line under the map: view, what is drawn of how much, window; with the diff overlay
    on, what ``topomap diff`` at this view reports."""
    scene = choice.scene
    nodes, edges = scene.size
    window = scene.graph.graph.get("window") or {}
    line = (
        f"{scene.key.view} view: {len(choice.selection.nodes):,} of {nodes:,} nodes, "
        f"{len(choice.selection.edges):,} of {edges:,} edges drawn; window "
        f"{window.get('start')} .. {window.get('end')}"
    )
    if overlay and scene.source.baseline is not None:
        if scene.overlay is None:
            line += (
                f". No diff overlay at the {scene.key.view} view: topomap diff cannot compare "
                "the baseline there (a coarser graph is compared at its own view only)"
            )
        else:
            line += ". " + ov.summary(scene.overlay.comparison)
    return line


def build(source: MapSource, first: sc.SceneKey) -> html.Div:
    """The page for ``source``, opening on the scene ``first`` (auto-aggregated if too big)."""
    choice = query.choose(sc.CACHE, source, first, query.Filters())
    shown = choice.scene.key
    elements = query.elements(choice, overlay=False)
    return html.Div(
        [
            html.Div(
                [html.H1("topomap"), html.Span(source.description, id="description")],
                className="topbar",
            ),
            html.Div(
                [
                    html.Div(_controls(source, first), className="side"),
                    html.Div(
                        [
                            html.Div(choice.notice, id="notice"),
                            html.Div(status_line(choice), id="status"),
                            cyto.Cytoscape(
                                id="map",
                                elements=elements,
                                layout={"name": "preset", "fit": True, "padding": 20},
                                stylesheet=style.stylesheet(edges=len(choice.selection.edges)),
                                # min-height 0: the map shrinks when the notice shows
                                # (else it is pushed down, its bottom off screen, and
                                # Cytoscape, seeing no resize, keeps its old page offset:
                                # clicks land 1-3 lines above where they were aimed)
                                style={"width": "100%", "flex": "1", "minHeight": 0},
                                minZoom=0.02,
                                maxZoom=4,
                                boxSelectionEnabled=False,
                                autoungrabify=False,
                            ),
                        ],
                        className="centre",
                    ),
                    html.Div(
                        [
                            html.Div(
                                "Click a node or an edge for its details.",
                                id="details",
                            ),
                            html.Div(panels.findings_list(source.findings), id="findings"),
                        ],
                        className="right",
                    ),
                ],
                className="main",
            ),
            dcc.Store(id="shown", data={**shown.as_dict(), "edges": len(choice.selection.edges)}),
            dcc.Store(id="groups", data={"expanded": [], "collapsed": []}),
            dcc.Store(id="selected", data=None),
            dcc.Store(id="focus", data=None),
        ]
    )

"""The map's callbacks: thin wiring from page events to the pure modules.

Every callback sends ids and small dicts: the filters and the scene key go up, elements of the
chosen scene (from the server-side cache) or a details table come down. None takes the map's
elements as an input or state, so a click never ships the graph back and forth.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State

from topomap.web import details, exports, page, panels, query, style, svg
from topomap.web import scene as sc
from topomap.web.source import MapSource

FILTER_INPUTS = ("search", "f-ns", "f-zone", "f-proto", "f-port", "f-flags")

#: Selects and centres the focused elements (a finding's subject) on the Cytoscape canvas.
FOCUS_JS = """
function(focus) {
    if (!focus || !focus.ids) { return window.dash_clientside.no_update; }
    var tries = 0;
    function findCy() {
        var host = document.getElementById('map');
        if (!host) { return null; }
        var all = [host].concat(Array.prototype.slice.call(host.querySelectorAll('div')));
        for (var i = 0; i < all.length; i++) {
            if (all[i]._cyreg && all[i]._cyreg.cy) { return all[i]._cyreg.cy; }
        }
        return null;
    }
    function go() {
        var cy = findCy();
        var eles = cy ? cy.collection() : null;
        if (cy) {
            focus.ids.forEach(function (id) { eles = eles.union(cy.getElementById(id)); });
        }
        if (!cy || eles.empty()) {
            if (tries++ < 30) { setTimeout(go, 100); }
            return;
        }
        cy.elements().unselect();
        eles.select();
        cy.animate({center: {eles: eles}, zoom: Math.max(cy.zoom(), 1.2)}, {duration: 250});
    }
    go();
    return focus.ids.length;
}
"""


def filters_from(
    search: str | None,
    namespaces: list[str] | None,
    zones: list[str] | None,
    protocols: list[str] | None,
    port: int | float | str | None,
    flags: list[str] | None,
) -> query.Filters:
    """The panel's values as :class:`~topomap.web.query.Filters` (bad values are ignored)."""
    try:
        port_value = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        port_value = None
    flags = flags or []
    return query.Filters(
        search=str(search or ""),
        namespaces=frozenset(namespaces or ()),
        zones=frozenset(zones or ()),
        protocols=frozenset(protocols or ()),
        port=port_value,
        external_only="external" in flags,
        findings_only="findings" in flags,
    )


def _key(data: dict[str, Any] | None, fallback: str) -> sc.SceneKey:
    if not data:
        return sc.SceneKey(fallback)
    return sc.SceneKey.from_dict(data)


def register(app: dash.Dash, source: MapSource) -> None:
    """Attach every callback of the map for ``source`` to ``app``."""
    fallback = source.views[0]

    @app.callback(
        Output("map", "elements"),
        Output("notice", "children"),
        Output("status", "children"),
        Output("shown", "data"),
        Input("view", "value"),
        *(Input(name, "value") for name in FILTER_INPUTS),
        Input("overlay", "value"),
        Input("groups", "data"),
        prevent_initial_call=True,
    )
    def render(
        view: str,
        search: str | None,
        namespaces: list[str] | None,
        zones: list[str] | None,
        protocols: list[str] | None,
        port: Any,
        flags: list[str] | None,
        overlay: list[str] | None,
        groups: dict[str, Any] | None,
    ) -> tuple[list[dict[str, Any]], str, str, dict[str, Any]]:
        if view not in source.views:
            view = fallback
        groups = groups or {}
        wanted = sc.SceneKey(
            view,
            frozenset(groups.get("expanded", ())),
            frozenset(groups.get("collapsed", ())),
        )
        filters = filters_from(search, namespaces, zones, protocols, port, flags)
        choice = query.choose(sc.CACHE, source, wanted, filters)
        diff = "on" in (overlay or [])
        elements = query.elements(choice, overlay=diff)
        shown = {**choice.scene.key.as_dict(), "edges": len(choice.selection.edges)}
        return elements, choice.notice, page.status_line(choice, overlay=diff), shown

    @app.callback(
        Output("map", "stylesheet"),
        Input("width", "value"),
        Input("shown", "data"),
        prevent_initial_call=True,
    )
    def restyle(width: str, shown: dict[str, Any] | None) -> list[dict[str, Any]]:
        return style.stylesheet(width=width, edges=int((shown or {}).get("edges", 0)))

    @app.callback(
        Output("details", "children"),
        Output("selected", "data"),
        Input("map", "tapNodeData"),
        Input("map", "tapEdgeData"),
        State("shown", "data"),
        prevent_initial_call=True,
    )
    def on_tap(
        node: dict[str, Any] | None, edge: dict[str, Any] | None, shown: dict[str, Any] | None
    ) -> tuple[Any, str | None]:
        is_edge = "map.tapEdgeData" in dash.ctx.triggered_prop_ids
        chosen = edge if is_edge else node
        if not chosen or "id" not in chosen:
            return "Click a node or an edge for its details.", None
        scene = sc.CACHE.get(source, _key(shown, fallback))
        element = str(chosen["id"])
        rows = details.edge_rows(scene, element) if is_edge else details.node_rows(scene, element)
        if rows is None:
            return f"{element} is not on the {scene.key.view} view.", None
        title = "Edge" if is_edge else str(chosen.get("label") or element)
        return panels.details_table(title, rows), element

    @app.callback(
        Output("groups", "data"),
        Input("expand", "n_clicks"),
        Input("collapse", "n_clicks"),
        Input("reset", "n_clicks"),
        State("selected", "data"),
        State("groups", "data"),
        State("shown", "data"),
        prevent_initial_call=True,
    )
    def regroup(
        _e: int, _c: int, _r: int, selected: str | None, groups: dict[str, Any], shown: Any
    ) -> dict[str, Any]:
        trigger = dash.ctx.triggered_id
        if trigger == "reset":
            return {"expanded": [], "collapsed": []}
        if not selected or "->" in selected:
            return dash.no_update  # type: ignore[return-value]
        scene = sc.CACHE.get(source, _key(shown, fallback))
        expanded, collapsed = set(groups["expanded"]), set(groups["collapsed"])
        if trigger == "expand":
            sc.expand(scene, selected, expanded, collapsed)
        else:
            sc.collapse(scene, selected, expanded, collapsed)
        return {"expanded": sorted(expanded), "collapsed": sorted(collapsed)}

    @app.callback(
        Output("focus", "data"),
        Output("details", "children", allow_duplicate=True),
        Input({"type": "finding", "index": ALL}, "n_clicks"),
        State("shown", "data"),
        prevent_initial_call=True,
    )
    def on_finding(clicks: list[int], shown: dict[str, Any] | None) -> tuple[Any, Any]:
        trigger = dash.ctx.triggered_id
        if not trigger or not any(clicks):
            return dash.no_update, dash.no_update
        finding = source.findings[int(trigger["index"])]
        scene = sc.CACHE.get(source, _key(shown, fallback))
        nodes, edges = scene.finding_subject(finding)
        targets = sorted(edges) or sorted(nodes)
        rows = [
            ("rule", f"{finding.rule}: {finding.title}"),
            ("severity", finding.severity),
            ("controls", ", ".join(finding.controls)),
            ("message", finding.message),
            ("remediation", finding.remediation),
            ("on the map", ", ".join(targets) or f"not on the {scene.key.view} view"),
        ]
        rows += [(k, v) for k, v in sorted(finding.details.items())]
        return {"ids": targets, "n": sum(clicks)}, panels.details_table("Finding", rows)

    app.clientside_callback(  # type: ignore[no-untyped-call]
        FOCUS_JS,
        Output("focus", "modified_timestamp"),
        Input("focus", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("download", "data"),
        Input("export-json", "n_clicks"),
        Input("export-csv", "n_clicks"),
        Input("export-svg", "n_clicks"),
        State("shown", "data"),
        State("overlay", "value"),
        *(State(name, "value") for name in FILTER_INPUTS),
        prevent_initial_call=True,
    )
    def download(
        _j: int, _c: int, _s: int, shown: Any, overlay: Any, *values: Any
    ) -> dict[str, Any]:
        if dash.ctx.triggered_id == "export-csv":
            return {
                "content": exports.findings_csv(source.findings),
                "filename": "topomap-findings.csv",
                "type": "text/csv",
            }
        scene = sc.CACHE.get(source, _key(shown, fallback))
        choice = query.Choice(scene, query.select(scene, filters_from(*values)))
        if dash.ctx.triggered_id == "export-svg":
            drawn = query.elements(choice, overlay="on" in (overlay or []))
            return {
                "content": svg.render(drawn),
                "filename": f"topomap-{scene.key.view}.svg",
                "type": "image/svg+xml",
            }
        body = exports.graph_json(choice)
        return {
            "content": body.decode(),
            "filename": f"topomap-{scene.key.view}.json",
            "type": "application/json",
        }

    @app.callback(
        Output("map", "generateImage"),
        Input("export-png", "n_clicks"),
        State("shown", "data"),
        prevent_initial_call=True,
    )
    def image(_p: int, shown: Any) -> dict[str, Any]:
        view = (shown or {}).get("view", fallback)
        return {"type": "png", "action": "download", "filename": f"topomap-{view}"}

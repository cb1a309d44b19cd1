"""Dash components for the side panels: details table, findings list, legend.

Every name, label, DNS string and message goes in as a text child, which React escapes: a pod
named ``<img src=x onerror=alert(1)>`` shows those characters and runs nothing. No markdown,
no raw HTML anywhere.
"""

from __future__ import annotations

from typing import Any

from dash import html

from topomap.findings import Finding
from topomap.web import style
from topomap.web.details import Rows


def details_table(title: str, rows: Rows) -> html.Div:
    """A titled two-column table of (name, text) rows."""
    return html.Div(
        [
            html.H4(title, className="details-title"),
            html.Table(
                html.Tbody([html.Tr([html.Th(name), html.Td(value)]) for name, value in rows]),
                className="details-table",
            ),
        ]
    )


def findings_list(found: tuple[Finding, ...]) -> list[Any]:
    """One button per finding; a click selects and centres its subject on the map."""
    if not found:
        return []
    items = []
    for index, finding in enumerate(found):
        items.append(
            html.Button(
                [
                    html.Span(finding.severity.upper(), className=f"sev sev-{finding.severity}"),
                    html.Span(f" {finding.rule} ", className="rule"),
                    html.Span(finding.message, className="message"),
                ],
                id={"type": "finding", "index": index},
                className="finding",
                n_clicks=0,
                title=finding.title,
            )
        )
    return [html.H4(f"Findings ({len(found)})"), html.Div(items, className="findings-list")]


def legend() -> html.Div:
    """Node kinds and edge styles, drawn with the map's own colours."""
    kinds = [
        html.Div(
            [
                html.Span(className="swatch", style={"background": colour}),
                html.Span(f"{kind} ({shape})"),
            ],
            className="legend-row",
        )
        for kind, (colour, shape) in style.KINDS.items()
    ]
    edges = [
        html.Div(
            [
                html.Span(
                    className="line",
                    style={"borderTop": f"3px {line} {colour}"},
                ),
                html.Span(meaning),
            ],
            className="legend-row",
        )
        for colour, line, meaning in style.EDGE_LEGEND
    ]
    box = html.Div(
        [html.Span(className="swatch box"), html.Span("box: a namespace or a zone")],
        className="legend-row",
    )
    return html.Div([html.H4("Legend"), *kinds, box, *edges], id="legend", className="legend")

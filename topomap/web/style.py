"""The map's Cytoscape stylesheet and legend: colours and shapes by kind, edges by protocol,
width by connections or bytes, and the classes for search matches, findings and the diff
overlay. Data only (no dash), so tests and the legend read the same table.
"""

from __future__ import annotations

from typing import Any, Final

#: Node kind -> (colour, shape), also drawn in the legend.
KINDS: Final = {
    "host": ("#7a7a7a", "round-rectangle"),
    "namespace": ("#4f7cac", "round-rectangle"),
    "workload": ("#4f7cac", "ellipse"),
    "service": ("#58a55c", "hexagon"),
    "pod": ("#6b8fb3", "ellipse"),
    "container": ("#8fb0d0", "round-rectangle"),
    "process": ("#a9c1da", "ellipse"),
    "external": ("#d9822b", "diamond"),
    "zone": ("#d9822b", "octagon"),
}
#: Edge class -> (colour, line style, meaning), for the legend.
EDGE_LEGEND: Final = (
    ("#9aa3b5", "solid", "observed traffic (width: connections or bytes)"),
    ("#d9822b", "solid", "to or from outside the cluster"),
    ("#c0392b", "solid", "subject of a finding"),
    ("#2e9e44", "solid", "new since the baseline (diff overlay)"),
    ("#c0392b", "dashed", "gone since the baseline (diff overlay)"),
)


def stylesheet(*, width: str = "connections", edges: int = 0) -> list[dict[str, Any]]:
    """The stylesheet; ``width`` is ``connections`` or ``bytes``; many ``edges`` drop labels."""
    big = edges > 600
    rules: list[dict[str, Any]] = [
        {
            "selector": "node",
            "style": {
                "label": "data(label)",
                "font-size": 10,
                "text-valign": "bottom",
                "text-margin-y": 3,
                "text-max-width": 140,
                "text-wrap": "ellipsis",
                "width": 22,
                "height": 22,
                "min-zoomed-font-size": 6,
            },
        },
    ]
    for kind, (colour, shape) in KINDS.items():
        rules.append(
            {"selector": f"node.{kind}", "style": {"background-color": colour, "shape": shape}}
        )
    rules += [
        {
            "selector": ":parent",
            "style": {
                "background-opacity": 0.07,
                "border-width": 1,
                "border-color": "#9aa3b5",
                "text-valign": "top",
                "text-halign": "center",
                "font-weight": "bold",
                "padding": 12,
            },
        },
        {
            "selector": "node.box",
            "style": {"shape": "round-rectangle", "background-color": "#4f7cac"},
        },
        {"selector": "node.box-zone", "style": {"background-color": "#d9822b"}},
        {
            "selector": "edge",
            "style": {
                "width": f"data({'w_bytes' if width == 'bytes' else 'w_conn'})",
                "curve-style": "haystack" if big else "bezier",
                "target-arrow-shape": "none" if big else "triangle",
                "arrow-scale": 0.8,
                "line-color": "#9aa3b5",
                "target-arrow-color": "#9aa3b5",
                "opacity": 0.85,
                "label": "" if big else "data(label)",
                "font-size": 8,
                "text-rotation": "autorotate",
                "min-zoomed-font-size": 7,
                "color": "#445",
            },
        },
        {
            "selector": "edge.external",
            "style": {"line-color": "#d9822b", "target-arrow-color": "#d9822b"},
        },
        {
            "selector": "edge.finding",
            "style": {"line-color": "#c0392b", "target-arrow-color": "#c0392b"},
        },
        {
            "selector": "edge.added",
            "style": {"line-color": "#2e9e44", "target-arrow-color": "#2e9e44", "width": 4},
        },
        {
            "selector": ".removed",
            "style": {
                "line-color": "#c0392b",
                "target-arrow-color": "#c0392b",
                "line-style": "dashed",
                "border-style": "dashed",
                "border-color": "#c0392b",
                "border-width": 2,
                "opacity": 0.8,
            },
        },
        {"selector": "node.match", "style": {"border-width": 3, "border-color": "#f1c40f"}},
        {"selector": "node:selected", "style": {"border-width": 4, "border-color": "#c0392b"}},
        {
            "selector": "edge:selected",
            "style": {
                "line-color": "#c0392b",
                "target-arrow-color": "#c0392b",
                "width": 7,
                "z-index": 99,
            },
        },
    ]
    return rules

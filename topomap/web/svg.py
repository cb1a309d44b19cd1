"""SVG image of what the map shows, drawn on the server from the scene's own positions.

The browser's canvas gives the PNG; the SVG comes from here so the page need not load the
larger Cytoscape bundle with the SVG extension. Nodes are circles with their label under
them, compound boxes are rectangles around their members, edges are straight lines. Every
label is XML-escaped text. Pure.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from topomap.web import style

_R = 11.0
_PAD = 14.0


def render(elements: list[dict[str, Any]]) -> str:
    """An SVG document of Cytoscape elements that carry preset positions."""
    nodes = {e["data"]["id"]: e for e in elements if "source" not in e["data"]}
    where = {
        i: (e["position"]["x"], e["position"]["y"]) for i, e in nodes.items() if "position" in e
    }
    bounds: dict[str, list[float]] = {}
    for node, (x, y) in where.items():  # every ancestor box grows around its descendants
        parent = nodes[node]["data"].get("parent")
        while parent in nodes:
            box = bounds.setdefault(parent, [x, y, x, y])
            box[0], box[1] = min(box[0], x), min(box[1], y)
            box[2], box[3] = max(box[2], x), max(box[3], y)
            parent = nodes[parent]["data"].get("parent")
    xs = [p[0] for p in where.values()] or [0.0]
    ys = [p[1] for p in where.values()] or [0.0]
    left, top = min(xs) - 120, min(ys) - 60
    width, height = max(xs) - left + 120, max(ys) - top + 60
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="10" '
        f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}">'
    ]
    depth = {b: _depth(b, nodes) for b in bounds}
    for box_id in sorted(bounds, key=lambda b: depth[b]):
        x0, y0, x1, y1 = bounds[box_id]
        pad = _PAD + 4 * (max(depth.values()) - depth[box_id])
        label = escape(str(nodes[box_id]["data"].get("label", box_id)))
        out.append(
            f'<rect x="{x0 - pad - 60:.1f}" y="{y0 - pad - 14:.1f}" '
            f'width="{x1 - x0 + 2 * pad + 120:.1f}" height="{y1 - y0 + 2 * pad + 34:.1f}" '
            'rx="6" fill="#eef2f8" stroke="#9aa3b5"/>'
            f'<text x="{(x0 + x1) / 2:.1f}" y="{y0 - pad - 2:.1f}" text-anchor="middle" '
            f'font-weight="bold">{label}</text>'
        )
    for e in elements:
        data = e["data"]
        if "source" not in data or data["source"] not in where or data["target"] not in where:
            continue
        (x0, y0), (x1, y1) = where[data["source"]], where[data["target"]]
        classes = str(e.get("classes", "")).split()
        colour = (
            "#c0392b"
            if "removed" in classes or "finding" in classes
            else (
                "#2e9e44"
                if "added" in classes
                else "#d9822b"
                if "external" in classes
                else "#9aa3b5"
            )
        )
        dash = ' stroke-dasharray="6 4"' if "removed" in classes else ""
        out.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{colour}" '
            f'stroke-width="{min(float(data.get("w_conn", 1)), 6):.1f}"{dash} opacity="0.8"/>'
        )
    for node, (x, y) in where.items():
        if node in bounds:
            continue
        kind = str(nodes[node]["data"].get("kind"))
        colour = style.KINDS.get(kind, ("#6b8fb3", ""))[0]
        label = escape(str(nodes[node]["data"].get("label", node)))
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_R}" fill="{colour}"/>'
            f'<text x="{x:.1f}" y="{y + _R + 11:.1f}" text-anchor="middle">{label}</text>'
        )
    out.append("</svg>\n")
    return "\n".join(out)


def _depth(node: str, nodes: dict[str, dict[str, Any]]) -> int:
    depth, parent = 0, nodes[node]["data"].get("parent")
    while parent in nodes:
        depth, parent = depth + 1, nodes[parent]["data"].get("parent")
    return depth

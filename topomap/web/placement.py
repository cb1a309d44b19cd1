"""Where each node sits: a grouped grid computed once per scene, so the browser runs no layout.

Nodes are nested as the map nests them (processes in containers in pods in namespace boxes,
external peers in zone boxes); each group's children are packed in rows (shelf packing) to a
roughly square block, and the top-level blocks likewise. The result is deterministic, linear
in the number of nodes (10,000 nodes take milliseconds, where a force layout in the browser
takes minutes) and reads like a network diagram: one box per namespace or zone. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Size of one leaf node's cell (the node and its label), in model units.
LEAF_W, LEAF_H = 150.0, 70.0
#: Padding inside a group box, and the room its label takes at the top.
PAD, TITLE = 16.0, 18.0
#: Gap between blocks.
GAP = 24.0

Position = tuple[float, float]


def _shelf(sizes: Sequence[tuple[float, float]], width: float) -> list[tuple[float, float]]:
    """Top-left offsets of blocks packed left to right in rows no wider than ``width``."""
    offsets: list[tuple[float, float]] = []
    x = y = row_h = 0.0
    for w, h in sizes:
        if x > 0 and x + w > width:
            x, y, row_h = 0.0, y + row_h + GAP, 0.0
        offsets.append((x, y))
        x += w + GAP
        row_h = max(row_h, h)
    return offsets


def place(
    roots: Sequence[str],
    children: Mapping[str, Sequence[str]],
    *,
    order: Callable[[str], Any] = str,
) -> dict[str, Position]:
    """Centre positions of every leaf under ``roots`` (compound nodes get none: Cytoscape
    draws a parent around its children).

    ``children`` maps a group to its members; ``order`` sorts siblings.

    >>> place(["a", "g"], {"g": ["b", "c"]})
    {'a': (75.0, 35.0), 'b': (91.0, 163.0), 'c': (265.0, 163.0)}
    """
    sizes: dict[str, tuple[float, float]] = {}
    layout: dict[str, list[tuple[str, float, float]]] = {}

    def measure(item: str) -> tuple[float, float]:
        kids = sorted(children.get(item, ()), key=order)
        if not kids:
            sizes[item] = (LEAF_W, LEAF_H)
            return sizes[item]
        kid_sizes = [measure(k) for k in kids]
        area = sum(w * h for w, h in kid_sizes)
        width = max(max(w for w, _ in kid_sizes), math.sqrt(area) * 2.4)
        offsets = _shelf(kid_sizes, width)
        layout[item] = [(k, ox, oy) for k, (ox, oy) in zip(kids, offsets, strict=True)]
        inner_w = max(ox + w for (ox, _), (w, _) in zip(offsets, kid_sizes, strict=True))
        inner_h = max(oy + h for (_, oy), (_, h) in zip(offsets, kid_sizes, strict=True))
        sizes[item] = (inner_w + 2 * PAD, inner_h + 2 * PAD + TITLE)
        return sizes[item]

    top = sorted(roots, key=order)
    top_sizes = [measure(r) for r in top]
    total = sum(w * h for w, h in top_sizes)
    widest = max((w for w, _ in top_sizes), default=LEAF_W)
    offsets = _shelf(top_sizes, max(widest, math.sqrt(total) * 2.0))
    positions: dict[str, Position] = {}
    stack = [(r, ox, oy) for r, (ox, oy) in zip(top, offsets, strict=True)]
    while stack:
        item, x, y = stack.pop()
        if item not in layout:
            w, h = sizes[item]
            positions[item] = (round(x + w / 2, 1), round(y + h / 2, 1))
            continue
        for kid, ox, oy in layout[item]:
            stack.append((kid, x + PAD + ox, y + PAD + TITLE + oy))
    return dict(sorted(positions.items()))

"""Connlist output in netpol-analyzer's formats: txt, json, csv, md and dot.

Each renderer takes the sorted :class:`~topomap.policy.connlist.Line` list and returns the text
netpol-analyzer's ``list`` prints for the same input, so the outputs can be compared byte for
byte (tests/policy/test_netpol_corpus.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from topomap.policy import objects as o
from topomap.policy.connlist import Line, render_txt
from topomap.policy.engine import Peer


def render_json(lines: list[Line], conn_column: bool = True) -> str:
    """A JSON array of ``{"src", "dst", "conn"}`` with Go's 2-space MarshalIndent layout."""
    if not lines:
        return "[]"
    items = []
    for line in lines:
        fields = [("src", line.src.display), ("dst", line.dst.display)]
        if conn_column:
            fields.append(("conn", line.conns.txt()))
        body = ",\n".join(f'    "{key}": {_go_json(value)}' for key, value in fields)
        items.append("  {\n" + body + "\n  }")
    return "[\n" + ",\n".join(items) + "\n]"


def _go_json(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML characters escaped)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "<>&" or ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_csv(lines: list[Line], conn_column: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"][: 3 if conn_column else 2])
    for line in lines:
        row = [line.src.display, line.dst.display, line.conns.txt()]
        writer.writerow(row[: 3 if conn_column else 2])
    return buffer.getvalue()


def render_md(lines: list[Line], conn_column: bool = True) -> str:
    if conn_column:
        rows = ["| src | dst | conn |", "|-----|-----|------|"]
        rows += [f"| {x.src.display} | {x.dst.display} | {x.conns.txt()} |" for x in lines]
    else:
        rows = ["| src | dst |", "|-----|-----|"]
        rows += [f"| {x.src.display} | {x.dst.display} |" for x in lines]
    return "\n".join(rows)


def render_dot(lines: list[Line], workloads: Sequence[o.Workload] = ()) -> str:
    """Graphviz: namespaces as clusters of blue workload nodes, red IP nodes, gold edges.

    Nodes are the peers on ``lines`` plus ``workloads`` (all of them for a whole-cluster list,
    none for a focused one, as netpol-analyzer draws them).
    """
    out = ["digraph {"]
    peers: dict[str, Peer] = {w.display: w for w in workloads}
    for line in lines:
        peers.setdefault(line.src.display, line.src)
        peers.setdefault(line.dst.display, line.dst)
    by_ns: dict[str, list[o.Workload]] = {}
    for peer in peers.values():
        if isinstance(peer, o.Workload):
            by_ns.setdefault(peer.namespace, []).append(peer)
    for ns in sorted(by_ns):
        cluster = ns.replace("-", "_")
        out += [
            f'\tsubgraph "cluster_{cluster}[namespace]" {{',
            '\t\tcolor="black"',
            '\t\tfontcolor="black"',
        ]
        for w in sorted(by_ns[ns], key=lambda w: w.display):
            label = f"{w.name}[{w.kind}]"
            out.append(f'\t\t"{w.display}" [label="{label}" color="blue" fontcolor="blue"]')
        out += [f'\t\tlabel="{ns}[namespace]"', "\t}"]
    for name in sorted(n for n, p in peers.items() if not isinstance(p, o.Workload)):
        color = "blue" if name == "{ingress-controller}" else "red2"
        out.append(f'\t"{name}" [label="{name}" color="{color}" fontcolor="{color}"]')
    for line in lines:
        src, dst = line.src.display, line.dst.display
        weight = "1" if src > dst else "0.5"
        out.append(
            f'\t"{src}" -> "{dst}" [label="{line.conns.txt()}" color="gold2" '
            f'fontcolor="darkgreen" weight={weight}]'
        )
    out.append("}")
    return "\n".join(out)


FORMATS = ("txt", "json", "csv", "md", "dot")


def render(
    fmt: str,
    lines: list[Line],
    *,
    conn_column: bool = True,
    workloads: Sequence[o.Workload] = (),
) -> str:
    """Render ``lines`` in ``fmt``; ``conn_column`` False for ``--focus-conn`` results."""
    if fmt == "txt":
        return render_txt(lines)
    if fmt == "json":
        return render_json(lines, conn_column)
    if fmt == "csv":
        return render_csv(lines, conn_column)
    if fmt == "md":
        return render_md(lines, conn_column)
    if fmt == "dot":
        return render_dot(lines, workloads)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")

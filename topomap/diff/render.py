"""Rendering a :class:`~topomap.diff.compare.Diff`: review text, JSON, and Markdown.

* ``text`` reads like a code review: a header (both sides, the baseline's approval), a summary
  line, then ``+``/``-``/``~`` lines grouped by namespace (nodes without one, such as hosts,
  under ``cluster-wide``), then findings. A new external peer is marked on the edge that
  reached it.
* ``markdown`` is the same for a pull-request comment: a summary table and one ``diff`` code
  block per namespace (GitHub colours ``+`` and ``-`` lines).
* ``json`` is the whole diff, deterministic (sorted keys), with a ``topomap`` block.

Pure: diff in, bytes or text out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import orjson

from topomap import __version__
from topomap.diff.compare import Diff, EdgeChange, FindingChange, NodeRef, Peer, SideInfo

#: Version of the diff JSON format written by this topomap.
DIFF_SCHEMA_VERSION = 1
FORMATS = ("text", "json", "markdown")
NO_NAMESPACE = "cluster-wide"


def summary(diff: Diff) -> dict[str, int]:
    """Counts of every kind of change."""
    return {
        "nodes_added": len(diff.nodes_added),
        "nodes_removed": len(diff.nodes_removed),
        "edges_added": len(diff.edges_added),
        "edges_removed": len(diff.edges_removed),
        "edges_changed": len(diff.edges_changed),
        "peers_added": len(diff.peers_added),
        "peers_removed": len(diff.peers_removed),
        "peers_readdressed": len(diff.peers_readdressed),
        "findings_new": diff.count("new"),
        "findings_resolved": diff.count("resolved"),
        "findings_open": diff.count("open"),
    }


def _default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def render_json(diff: Diff, baseline: SideInfo, current: SideInfo) -> bytes:
    """The diff as deterministic JSON (``docs/diff.md`` documents the fields)."""
    document = {
        "topomap": {
            "kind": "diff",
            "schema_version": DIFF_SCHEMA_VERSION,
            "tool_version": __version__,
            "view": diff.view,
            "baseline": asdict(baseline),
            "current": asdict(current),
            "summary": summary(diff),
            "unchanged": diff.unchanged,
        },
        **{k: v for k, v in asdict(diff).items() if k != "view"},
    }
    return orjson.dumps(
        document,
        default=_default,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )


# --- lines shared by text and markdown -------------------------------------------------------


def _name(node: NodeRef, peers: dict[str, Peer]) -> str:
    peer = peers.get(node.id)
    if peer is not None and peer.name:
        return f"{peer.name} ({', '.join(peer.addresses)})"
    return node.label


def _group(change: EdgeChange) -> str:
    return change.source.namespace or change.target.namespace or NO_NAMESPACE


def _peer_note(change: EdgeChange, peers: dict[str, Peer], what: str) -> str:
    for end in (change.target, change.source):
        peer = peers.get(end.id)
        if peer is not None:
            return f"   [{what}, {peer.zone or 'unknown zone'}]"
    return ""


def grouped_lines(diff: Diff) -> dict[str, list[str]]:
    """``+``/``-``/``~`` lines by namespace, namespaces sorted, cluster-wide last."""
    added = {p.id: p for p in diff.peers_added}
    removed = {p.id: p for p in diff.peers_removed}
    groups: dict[str, list[tuple[tuple[str, ...], str]]] = {}

    def put(group: str, key: tuple[str, ...], line: str) -> None:
        groups.setdefault(group, []).append((key, line))

    for node in diff.nodes_added:
        put(node.namespace or NO_NAMESPACE, ("0", node.id), f"+ node {node.id}")
    for node in diff.nodes_removed:
        put(node.namespace or NO_NAMESPACE, ("0", node.id), f"- node {node.id}")
    for sign, changes, peers, what in (
        ("+", diff.edges_added, added, "new external peer"),
        ("-", diff.edges_removed, removed, "external peer gone"),
    ):
        for change in changes:
            line = (
                f"{sign} {_name(change.source, peers)} -> {_name(change.target, peers)} "
                f"{', '.join(change.services)}{_peer_note(change, peers, what)}"
            )
            put(_group(change), ("1", change.source.id, change.target.id), line)
    for change in diff.edges_changed:
        parts = [*(f"+{s}" for s in change.added), *(f"-{s}" for s in change.removed)]
        line = f"~ {change.source.label} -> {change.target.label} {' '.join(parts)}"
        put(_group(change), ("1", change.source.id, change.target.id), line)
    for peer in diff.peers_readdressed:
        line = f"~ peer {peer.name or peer.id}: new address {', '.join(peer.new_addresses)}"
        put(NO_NAMESPACE, ("2", peer.id), line)
    order = sorted(groups, key=lambda g: (g == NO_NAMESPACE, g))
    return {g: [line for _, line in sorted(groups[g])] for g in order}


def _finding_line(change: FindingChange) -> str:
    sign = {"new": "+", "resolved": "-", "open": "="}[change.status]
    f = change.finding
    state = "" if f.active else " (suppressed)"
    return f"{sign} [{f.severity}] {f.rule} {f.message} ({f.fingerprint[:12]}){state}"


def _side_lines(name: str, info: SideInfo) -> list[str]:
    window = info.window or {}
    span = f", {window.get('start')} .. {window.get('end')}" if window.get("start") else ""
    lines = [f"{name}: {info.source} ({info.kind}{span})"]
    if info.approval is not None:
        a = info.approval
        lines.append(
            f"  approved by {a.approved_by} at {a.approved_at}: {a.note!r} "
            f"(graph sha256 {a.graph_sha256[:16]})"
        )
    if info.findings:
        lines.append(f"  findings from {info.findings}")
    return lines


def summary_line(diff: Diff) -> str:
    s = summary(diff)
    text = (
        f"{s['edges_added']} edge(s) added, {s['edges_removed']} removed, "
        f"{s['edges_changed']} changed; {s['peers_added']} new external peer(s), "
        f"{s['peers_removed']} gone; {s['nodes_added']} node(s) added, {s['nodes_removed']} removed"
    )
    if diff.findings_compared:
        text += (
            f"; findings: {s['findings_new']} new, {s['findings_resolved']} resolved, "
            f"{s['findings_open']} still open"
        )
    else:
        text += "; findings not compared (a side has no findings report)"
    return text


def render_text(diff: Diff, baseline: SideInfo, current: SideInfo) -> str:
    """The diff as review text."""
    lines = [f"topomap diff at the {diff.view} view"]
    lines += _side_lines("baseline", baseline) + _side_lines("current ", current)
    lines.append("no change" if diff.unchanged else f"summary: {summary_line(diff)}")
    for group, entries in grouped_lines(diff).items():
        lines += ["", f"namespace {group}" if group != NO_NAMESPACE else group]
        lines += [f"  {entry}" for entry in entries]
    if diff.findings_compared and diff.findings:
        lines += ["", "findings"]
        lines += [f"  {_finding_line(c)}" for c in diff.findings if c.status != "open"]
        still = diff.count("open")
        if still:
            lines.append(f"  = {still} still open")
    return "\n".join(lines) + "\n"


def render_markdown(diff: Diff, baseline: SideInfo, current: SideInfo) -> str:
    """The diff as a Markdown pull-request comment."""
    s = summary(diff)
    lines = [f"### topomap diff ({diff.view} view)", ""]
    for name, info in (("Baseline", baseline), ("Current", current)):
        text = f"**{name}:** `{info.source}` ({info.kind})"
        if info.approval is not None:
            a = info.approval
            text += (
                f", approved by **{a.approved_by}** at {a.approved_at}: {a.note} "
                f"(graph sha256 `{a.graph_sha256[:16]}`)"
            )
        lines += [text, ""]
    if diff.unchanged:
        lines.append("No change.")
        return "\n".join(lines) + "\n"
    lines += [
        "| | added | removed | changed |",
        "|---|---:|---:|---:|",
        f"| edges | {s['edges_added']} | {s['edges_removed']} | {s['edges_changed']} |",
        f"| external peers | {s['peers_added']} | {s['peers_removed']} | "
        f"{s['peers_readdressed']} |",
        f"| nodes | {s['nodes_added']} | {s['nodes_removed']} | |",
    ]
    if diff.findings_compared:
        lines.append(
            f"| findings | {s['findings_new']} new | {s['findings_resolved']} resolved | "
            f"{s['findings_open']} open |"
        )
    for group, entries in grouped_lines(diff).items():
        title = f"namespace `{group}`" if group != NO_NAMESPACE else group
        lines += ["", f"#### {title}", "", "```diff", *entries, "```"]
    changed = [c for c in diff.findings if c.status != "open"]
    if changed:
        lines += ["", "#### findings", "", "```diff", *map(_finding_line, changed), "```"]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Diff, SideInfo, SideInfo], str | bytes]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}

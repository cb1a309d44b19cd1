"""The facts the details panel shows for a node or an edge of a scene, as (name, text) rows.

Node: kind, labels, IPs, listening ports (ports it served, as observed), the processes it
stands for, the policies selecting it and its findings. Edge: ports, protocol, connections,
bytes, first/last seen, who observed it, the Services dialled, the policy verdict with the
deciding policy, and its findings. Policy facts come from the findings report (``--findings``,
written by ``topomap analyze``): a finding's ``details`` name the deciding policy and verdict.
Without a report the rows say the policies were not analysed. Every value is plain text; the
panel renders it as text, never as markup. Pure.
"""

from __future__ import annotations

from typing import Any, Final

from topomap import ids
from topomap.diff.compare import EdgeChange
from topomap.findings import Finding
from topomap.web import scene as sc
from topomap.web.overlay import Gone

Rows = list[tuple[str, str]]

#: At most this many processes are listed for a group.
MAX_PROCESSES: Final = 25
_NOT_ANALYSED: Final = "not analysed (serve with --findings from topomap analyze)"
#: Keys of a finding's details that name the policy deciding an edge, or selecting a node.
_DECIDING_KEYS: Final = ("deciding_policy", "deciding policy", "policy")
_SELECTING_KEYS: Final = ("policies", "selected_by", "policies_selecting")
_VERDICT_KEYS: Final = ("verdict", "policy_verdict")


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else "-"


def _change_line(sign: str, change: EdgeChange) -> str:
    """A change as ``topomap diff --format text`` writes it (its labels and services)."""
    head = f"{sign} {change.source.label} -> {change.target.label}"
    if sign == "~":
        moved = [f"+{s}" for s in change.added] + [f"-{s}" for s in change.removed]
        return f"{head} {' '.join(moved)}"
    return f"{head} {', '.join(change.services)}"


def _diff_rows(scene: sc.Scene, drawn: tuple[str, str, str], gone: Gone | None) -> Rows:
    """What the diff overlay says of an edge, with the ``topomap diff`` lines behind it."""
    overlay = scene.overlay
    if overlay is None:
        return []
    if gone is not None:
        lines = [_change_line("-", c) for c in gone.changes]
        return [("diff", "gone since the baseline"), ("topomap diff", "; ".join(lines))]
    if drawn in overlay.added:
        lines = [_change_line("+", c) for c in overlay.added[drawn]]
        return [("diff", "new since the baseline"), ("topomap diff", "; ".join(lines))]
    if drawn in overlay.changed:
        lines = [_change_line("~", c) for c in overlay.changed[drawn]]
        what = "protocols or ports changed since the baseline"
        return [("diff", what), ("topomap diff", "; ".join(lines))]
    return []


def _findings_for(scene: sc.Scene, element: str, *, edge: bool) -> list[Finding]:
    found = []
    for finding in scene.source.findings:
        nodes, edges = scene.finding_subject(finding)
        if element in (edges if edge else nodes):
            found.append(finding)
    return found


def _policy_rows(found: list[Finding], *, edge: bool) -> Rows:
    keys = _DECIDING_KEYS if edge else _SELECTING_KEYS
    policies = sorted({f.details[k] for f in found for k in keys if k in f.details})
    rows: Rows = []
    if edge:
        verdicts = sorted({f.details[k] for f in found for k in _VERDICT_KEYS if k in f.details})
        rows.append(("policy verdict", _join(verdicts) if verdicts else _NOT_ANALYSED))
        rows.append(("deciding policy", _join(policies) if policies else _NOT_ANALYSED))
    else:
        rows.append(("policies selecting it", _join(policies) if policies else _NOT_ANALYSED))
    return rows


def _finding_rows(found: list[Finding]) -> Rows:
    return [("finding", f"{f.severity.upper()} {f.rule}: {f.message}") for f in found]


def node_rows(scene: sc.Scene, node: str) -> Rows | None:
    """Rows for a map node (or a box); ``None`` when it is not on this scene."""
    if node.startswith("box:"):
        group = node[4:]
        inside = [n for n, el in scene.nodes.items() if el["data"].get("parent") == node]
        return [
            ("group", group),
            ("members on the map", str(len(inside))),
            ("collapse", "use Collapse to fold it into one node"),
        ]
    if node not in scene.graph:
        return _gone_node_rows(scene, node)
    attrs = scene.graph.nodes[node]
    members = scene.members.get(node, [])
    fine = scene.source.graph
    ips = set(attrs.get("ips") or ()) | set(attrs.get("cluster_ips") or ())
    if attrs.get("ip"):
        ips.add(attrs["ip"])
    for member in members:
        ips.update(fine.nodes[member].get("ips") or ())
    served = sorted(
        {
            (a["protocol"], p)
            for _, _, a in scene.graph.in_edges(node, data=True)
            for p in a["ports"]
        }
    )
    processes = [
        str(fine.nodes[m].get("label", m))
        for m in members
        if fine.nodes[m].get("kind") == "process"
    ]
    shown = processes[:MAX_PROCESSES]
    if len(processes) > MAX_PROCESSES:
        shown.append(f"... and {len(processes) - MAX_PROCESSES} more")
    labels = attrs.get("labels") or {}
    rows: Rows = [
        ("id", node),
        ("kind", str(attrs.get("kind"))),
        ("name", str(attrs.get("label", node))),
    ]
    ns = scene.namespaces.get(node)
    if ns:
        rows.append(("namespace", ns))
    if attrs.get("kind") == "external":
        rows.append(("zone", str(attrs.get("zone"))))
        rows.append(("DNS names", _join(attrs.get("dns_names"))))
    if attrs.get("kind") == "zone":
        rows.append(("external peers", str(attrs.get("peers"))))
    rows += [
        ("labels", _join(f"{k}={v}" for k, v in sorted(labels.items()))),
        ("IPs", _join(sorted(ips))),
        ("listening ports (observed)", _join(f"{p}/{proto}" for proto, p in served)),
        (f"processes ({len(processes)})", _join(shown)),
    ]
    if len(members) > 1:
        rows.append(("stands for", f"{len(members)} nodes of the {fine.graph.get('view')} view"))
    found = _findings_for(scene, node, edge=False)
    return rows + _policy_rows(found, edge=False) + _finding_rows(found)


def _gone_node_rows(scene: sc.Scene, node: str) -> Rows | None:
    """Rows for a baseline node drawn dashed as gone; ``None`` when it is not one."""
    overlay = scene.overlay
    if overlay is None or node not in overlay.gone_nodes:
        return None
    attrs = scene.node_attrs(node)
    ips = set(attrs.get("ips") or ()) | ({attrs["ip"]} if attrs.get("ip") else set())
    lines = [
        _change_line("-", change)
        for gone in overlay.gone.values()
        if node in (gone.source, gone.target)
        for change in gone.changes
    ]
    rows: Rows = [
        ("diff", "in the baseline only: gone since, with the edges drawn dashed"),
        ("topomap diff", "; ".join(sorted(set(lines)))),
        ("id", node),
        ("kind", str(attrs.get("kind"))),
        ("name", str(attrs.get("label", node))),
    ]
    if attrs.get("namespace"):
        rows.append(("namespace", str(attrs["namespace"])))
    if attrs.get("kind") == "external":
        rows.append(("zone", str(attrs.get("zone"))))
        rows.append(("DNS names", _join(attrs.get("dns_names"))))
    rows.append(("IPs (in the baseline)", _join(sorted(ips))))
    return rows


def edge_rows(scene: sc.Scene, element: str) -> Rows | None:
    """Rows for a map edge given its element id; ``None`` when it is not on this scene."""
    head, _, key = element.rpartition("#")
    source, _, target = head.partition("->")
    gone = scene.gone(element)
    if scene.graph.has_edge(source, target, key):
        attrs = scene.graph.edges[source, target, key]
    elif gone is not None:
        attrs = gone.attrs
    else:
        return None

    def label(node: str) -> str:
        return str(scene.node_attrs(node).get("label", node))

    rows: Rows = [
        ("from", f"{label(source)} ({ids.kind_of(source)})"),
        ("to", f"{label(target)} ({ids.kind_of(target)})"),
        ("protocol", str(attrs.get("protocol"))),
        ("ports", _join(attrs.get("ports"))),
        ("connections", f"{int(attrs.get('connections') or 0):,}"),
        ("bytes", f"{int(attrs.get('bytes') or 0):,}"),
        ("packets", f"{int(attrs.get('packets') or 0):,}"),
        ("first seen", str(attrs.get("first_seen"))),
        ("last seen", str(attrs.get("last_seen"))),
        ("observed by", _join(attrs.get("observed_by"))),
        ("services dialled", _join(attrs.get("services"))),
    ]
    rows[:0] = _diff_rows(scene, (source, target, key), gone)
    found = _findings_for(scene, element, edge=True)
    return rows + _policy_rows(found, edge=True) + _finding_rows(found)

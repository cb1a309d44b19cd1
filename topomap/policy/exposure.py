"""Exposure analysis: what netpol-analyzer's ``list --exposure`` reports beyond the connlist.

This module owns the exposure side of ``list``: which workloads the policies leave open to peers
that are *not* in the manifests, and how that is printed. For every workload and direction it
finds

* whether any policy selects it there (if not: ``entire-cluster : All Connections`` and a
  ``... is not protected on Ingress|Egress`` line),
* its exposure to ``entire-cluster`` (rules whose peers are ``namespaceSelector: {}`` with no or
  an empty ``podSelector``, or rules with no peers at all),
* its exposure to *representative peers*: one per distinct (namespace selector, pod selector)
  written in a policy rule, matched by a rule only when the rule's selector is empty or has
  exactly the same requirements (netpol-analyzer's "full match"). A representative whose
  matchLabels-only selectors a real pod satisfies is dropped; a connection contained in the
  entire-cluster one is not reported.

Connections to and from IP blocks of the connlist are repeated in the exposure sections for the
workloads that have exposure data. Named ports that cannot be resolved (egress to a peer whose
pods are unknown) stay names, as netpol-analyzer prints them (``TCP http``).

Rendering of the combined output (connlist lines, then the exposure sections) in txt, json, csv,
md and dot lives here too, so :mod:`topomap.policy.render` stays about plain connlists.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from topomap.policy import objects as o
from topomap.policy.connlist import Line, connlist
from topomap.policy.connset import ALL, EMPTY, ConnSet
from topomap.policy.engine import Direction, IngressController, IPRange, Peer, PolicyEngine
from topomap.policy.render import _go_json

NS_NAME_LABEL = "kubernetes.io/metadata.name"
ENTIRE_CLUSTER = "entire-cluster"
Names = frozenset[tuple[str, str]]  # (protocol, port name); protocol "" from an ANP


# --- selectors ----------------------------------------------------------------------------


def _values(req: o.Requirement) -> tuple[str, ...]:
    """A requirement's values as the manifest wrote them (netpol-analyzer prints that order)."""
    return req.written or tuple(sorted(req.values))


def _requirements(sel: o.LabelSelector | None) -> tuple[tuple[str, str], ...]:
    """A selector's requirements in a canonical spelling (k8s ``labels.Requirement`` strings),
    sorted by key, with ``k in (v)`` written ``k=v`` as netpol-analyzer compares them."""
    if sel is None:
        return ()
    reqs = [(k, f"{k}={v}") for k, v in sel.match_labels]
    for r in sel.match_expressions:
        values = sorted(r.values)
        if r.operator == "In" and len(values) == 1:
            text = f"{r.key}={values[0]}"
        elif r.operator == "In":
            text = f"{r.key} in ({','.join(values)})"
        elif r.operator == "NotIn":
            text = f"{r.key} notin ({','.join(values)})"
        elif r.operator == "Exists":
            text = r.key
        else:
            text = f"!{r.key}"
        reqs.append((r.key, text))
    return tuple(sorted(set(reqs)))


def _full_match(rule: o.LabelSelector, rep: o.LabelSelector | None) -> bool:
    """netpol-analyzer's ``SelectorsFullMatch``: empty rule selector, or equal requirements."""
    return rule.is_empty or _requirements(rule) == _requirements(rep)


def _selector_text(sel: o.LabelSelector) -> str:
    parts = []
    if sel.match_labels:
        parts.append(",".join(f"{k}={v}" for k, v in sorted(dict(sel.match_labels).items())))
    if sel.match_expressions:
        reqs = sorted(
            f"{{Key:{r.key},Operator:{r.operator},Values:[{' '.join(_values(r))}],}}"
            for r in sel.match_expressions
        )
        parts.append(",".join(reqs))
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Representative:
    """A potential peer inferred from a rule: pods matching a pod selector in namespaces
    matching a namespace selector. ``namespace`` is set only for a NetworkPolicy rule without
    a namespaceSelector (the policy's own namespace)."""

    namespace: str
    ns_selector: o.LabelSelector
    pod_selector: o.LabelSelector | None

    @property
    def key(self) -> tuple[object, ...]:
        return (_requirements(self.ns_selector), _requirements(self.pod_selector))

    @property
    def namespace_text(self) -> str:
        sel = self.ns_selector
        if len(sel.match_labels) == 1 and not sel.match_expressions:
            (key, value), *_ = sel.match_labels
            if key == NS_NAME_LABEL:
                return value
        if sel.is_empty:
            return "[all namespaces]"
        return f"[namespace with {{{_selector_text(sel)}}}]"

    @property
    def pod_text(self) -> str:
        if self.pod_selector is None or self.pod_selector.is_empty:
            return "[all pods]"
        return f"[pod with {{{_selector_text(self.pod_selector)}}}]"

    @property
    def display(self) -> str:
        return f"{self.namespace_text}/{self.pod_text}"


def _entire_cluster(ns: o.LabelSelector | None, pods: o.LabelSelector | None) -> bool:
    return ns is not None and ns.is_empty and (pods is None or pods.is_empty)


def representatives(cluster: o.Cluster) -> list[Representative]:
    """The distinct representative peers of the cluster's policy rules, in first-seen order,
    without those a real pod (with its namespace) fully stands for."""
    found: dict[tuple[object, ...], Representative] = {}

    def add(rep: Representative) -> None:
        found.setdefault(rep.key, rep)

    for policy in cluster.policies:
        rule_sets = []
        if policy.affects_ingress:
            rule_sets.append(policy.ingress)
        if policy.affects_egress:
            rule_sets.append(policy.egress)
        for rules in rule_sets:
            for rule in rules:
                picked: list[Representative] = []
                for peer in rule.peers:
                    if peer.ip_block is not None:
                        continue
                    if _entire_cluster(peer.namespace_selector, peer.pod_selector):
                        picked = []  # the whole rule counts as cluster-wide
                        break
                    if peer.namespace_selector is None:
                        own = o.LabelSelector(((NS_NAME_LABEL, policy.namespace),))
                        picked.append(Representative(policy.namespace, own, peer.pod_selector))
                    else:
                        picked.append(
                            Representative("", peer.namespace_selector, peer.pod_selector)
                        )
                for rep in picked:
                    add(rep)
    admins = [*sorted(cluster.admin_policies, key=lambda p: p.priority)]
    if cluster.baseline is not None:
        admins.append(cluster.baseline)
    for admin in admins:
        for admin_rule in (*admin.ingress, *admin.egress):
            for admin_peer in admin_rule.peers:
                if admin_peer.kind == "namespaces":
                    if not admin_peer.namespace_selector.is_empty:
                        add(Representative("", admin_peer.namespace_selector, None))
                elif admin_peer.kind == "pods":
                    if not _entire_cluster(admin_peer.namespace_selector, admin_peer.pod_selector):
                        add(
                            Representative(
                                "", admin_peer.namespace_selector, admin_peer.pod_selector
                            )
                        )
    return [rep for rep in found.values() if not _redundant(rep, cluster)]


def _ns_labels(cluster: o.Cluster, namespace: str) -> dict[str, str]:
    ns = cluster.namespaces.get(namespace)
    labels = dict(ns.labels) if ns is not None else {}
    labels.setdefault(NS_NAME_LABEL, namespace)
    return labels


def _redundant(rep: Representative, cluster: o.Cluster) -> bool:
    """A matchLabels-only representative with both selectors non-empty that some real pod (and
    its namespace) satisfies is not reported (netpol-analyzer removes it)."""
    pods = rep.pod_selector
    if pods is None or pods.match_expressions or rep.ns_selector.match_expressions:
        return False
    if pods.is_empty or rep.ns_selector.is_empty:
        return False
    return any(
        pods.matches(w.labels) and rep.ns_selector.matches(_ns_labels(cluster, w.namespace))
        for w in cluster.workloads
    )


# --- the engine, seeing representative peers ------------------------------------------------

AnyPeer = Peer | Representative


class ExposureEngine(PolicyEngine):
    """:class:`PolicyEngine` whose rule matchers also accept :class:`Representative` peers."""

    def _np_peer_matches(self, policy: o.NetworkPolicy, peer: o.NPPeer, other: AnyPeer) -> bool:
        if not isinstance(other, Representative):
            return super()._np_peer_matches(policy, peer, other)
        if peer.ip_block is not None:
            return False
        if peer.namespace_selector is None:
            if other.namespace != policy.namespace:
                return False
        elif not _full_match(peer.namespace_selector, other.ns_selector):
            return False
        return peer.pod_selector is None or _full_match(peer.pod_selector, other.pod_selector)

    def _admin_peer_matches(self, peer: o.AdminPeer, other: AnyPeer) -> bool:
        if not isinstance(other, Representative):
            return super()._admin_peer_matches(peer, other)
        if peer.kind not in ("namespaces", "pods"):
            return False
        if not _full_match(peer.namespace_selector, other.ns_selector):
            return False
        return peer.kind == "namespaces" or _full_match(peer.pod_selector, other.pod_selector)

    def allowed_to(self, direction: Direction, pod: o.Workload, peer: AnyPeer) -> Exposure:
        """What ``pod`` lets through with ``peer`` in ``direction`` (the peer side is open)."""
        result = self.direction(direction, pod, cast(Peer, peer))
        names: Names = frozenset()
        if direction == "egress":
            names = self._egress_names(pod, peer)
        return Exposure(result.allowed, names)

    def _egress_names(self, pod: o.Workload, peer: AnyPeer) -> Names:
        """Named ports of the egress rules letting ``pod`` reach ``peer``: they cannot be
        resolved on a peer whose pods are unknown, so they stay names (an ANP's have no
        protocol)."""
        subject = self._subject("egress", pod)
        out: set[tuple[str, str]] = set()
        for anp in subject.anps:
            for admin_rule in anp.egress:
                if admin_rule.action != "Allow" or admin_rule.ports is None:
                    continue
                if any(self._admin_peer_matches(p, cast(Peer, peer)) for p in admin_rule.peers):
                    out.update(("", port.name) for port in admin_rule.ports if port.name)
        for policy in subject.policies:
            for rule in policy.egress:
                if rule.peers and not any(
                    self._np_peer_matches(policy, p, cast(Peer, peer)) for p in rule.peers
                ):
                    continue
                for spec in rule.ports:
                    if isinstance(spec.port, str):
                        out.add((spec.protocol, spec.port))
        return frozenset(out)


# --- connections with named ports -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exposure:
    """Exposed connections: numbered ports plus named ports not resolved."""

    conns: ConnSet = EMPTY
    names: Names = frozenset()

    def __bool__(self) -> bool:
        return bool(self.conns) or bool(self.names)

    def txt(self) -> str:
        if not self.names:
            return self.conns.txt()
        parts = []
        for proto in ("", *o.PROTOCOLS):
            ranges = self.conns.ranges(cast(o.Proto, proto)) if proto else ()
            ports = [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in ranges]
            ports += sorted(name for p, name in self.names if p == proto)
            if ports:
                parts.append(f"{proto} " + ",".join(ports))
        return ",".join(parts)


ALL_EXPOSED = Exposure(ALL)


# --- the analysis ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExposureLine:
    """One exposure line: ``workload`` => ``peer`` (egress) or ``workload`` <= ``peer``."""

    workload: str
    peer: str
    conns: str
    rep: Representative | None = None


@dataclass
class ExposureReport:
    """The connlist lines and the exposure sections of ``list --exposure``."""

    lines: list[Line]
    workloads: Sequence[o.Workload] = ()  # drawn in dot even without lines
    egress: list[ExposureLine] = field(default_factory=list)
    ingress: list[ExposureLine] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    width: int = 0
    focus_conn: tuple[str, int] | None = None  # ``--focus-conn``: (PROTOCOL, port)


def _direction_exposure(
    engine: ExposureEngine,
    pod: o.Workload,
    direction: Direction,
    reps: Sequence[Representative],
    only: ConnSet | None = None,
) -> tuple[bool, list[tuple[str | Representative, Exposure]]]:
    """(protected, [(peer, conns)]) for one workload and direction; ``only`` restricts the
    connections first (``--focus-conn``), and then lines without them are left out (but an
    unprotected workload's line stays ``All Connections``)."""

    def restrict(found: Exposure) -> Exposure:
        return found if only is None else Exposure(found.conns & only)

    if not engine.selected(pod, direction):
        return False, [(ENTIRE_CLUSTER, ALL_EXPOSED)]  # never restricted, as upstream
    out: list[tuple[str | Representative, Exposure]] = []
    wide = restrict(engine.allowed_to(direction, pod, IngressController()))
    if wide:
        out.append((ENTIRE_CLUSTER, wide))
    for rep in reps:
        conns = restrict(engine.allowed_to(direction, pod, rep))
        if not conns and not wide:
            continue
        if wide and conns == wide:
            continue  # nothing beyond the entire-cluster exposure
        out.append((rep, conns))
    if only is not None:
        out = [(peer, conns) for peer, conns in out if conns]
    return True, out


def analyze(
    engine: ExposureEngine,
    lines: list[Line] | None = None,
    *,
    focus: Iterable[str] | None = None,
    direction: str | None = None,
    focus_conn: tuple[str, int] | None = None,
) -> ExposureReport:
    """The exposure report for the whole cluster, or for the ``focus`` workloads in one
    ``direction``; with ``focus_conn`` (protocol, port) only the exposure lines carrying that
    connection (``lines`` are then expected filtered with :func:`connlist.focus_conn`)."""
    cluster = engine.cluster
    if lines is None:
        lines = connlist(engine)
    focus_names = list(focus) if focus is not None else None
    reps = representatives(cluster)
    report = ExposureReport(lines, workloads=[] if focus is not None else cluster.workloads)
    only = None
    if focus_conn is not None:
        only = ConnSet.of(cast(o.Proto, focus_conn[0].upper()), focus_conn[1])
    exposed: set[str] = set()
    for pod in cluster.workloads:
        if focus_names is not None and not _is_focus(pod, focus_names):
            continue
        ways: tuple[Direction, ...] = ("egress", "ingress")
        for way in ways:
            if direction is not None and direction != way:
                continue
            protected, found = _direction_exposure(engine, pod, way, reps, only)
            if not protected:
                report.unprotected.append(f"{pod.display} is not protected on {way.capitalize()}")
            if found:
                exposed.add(pod.display)
            target = report.egress if way == "egress" else report.ingress
            for peer, conns in found:
                if isinstance(peer, Representative):
                    target.append(ExposureLine(pod.display, peer.display, conns.txt(), peer))
                else:
                    target.append(ExposureLine(pod.display, peer, conns.txt()))
    for line in lines:
        if isinstance(line.src, IPRange) and line.dst.display in exposed:
            report.ingress.append(
                ExposureLine(line.dst.display, line.src.display, line.conns.txt())
            )
        if isinstance(line.dst, IPRange) and line.src.display in exposed:
            report.egress.append(ExposureLine(line.src.display, line.dst.display, line.conns.txt()))
    report.egress.sort(key=lambda x: (x.workload.encode(), x.peer.encode()))
    report.ingress.sort(key=lambda x: (x.workload.encode(), x.peer.encode()))
    report.unprotected.sort(key=str.encode)
    report.width = max((len(name) for name in exposed), default=0)
    if focus_conn is not None:
        report.focus_conn = (focus_conn[0].upper(), focus_conn[1])
    return report


def _is_focus(pod: o.Workload, names: list[str]) -> bool:
    return pod.name in names or f"{pod.namespace}/{pod.name}" in names


# --- rendering ------------------------------------------------------------------------------

Row = tuple[str, ...]


def _title(report: ExposureReport) -> str:
    if report.focus_conn is None:
        return "Exposure Analysis Result:"
    protocol, port = report.focus_conn
    return f"Exposure Analysis Result On {protocol} {port}:"


def render_txt(report: ExposureReport) -> str:
    with_conns = report.focus_conn is None
    if with_conns:
        out = "".join(line.txt() + "\n" for line in report.lines)
    else:
        protocol, port = cast(tuple[str, int], report.focus_conn)
        out = f"Permitted connections on {protocol} {port}:\n"
        out += "".join(f"{x.src.display} => {x.dst.display}\n" for x in report.lines)
    if out:
        out += "\n"
    out += _title(report) + "\n"
    w = report.width

    def txt(x: ExposureLine, arrow: str) -> str:
        tail = f" : {x.conns}" if with_conns else ""
        return f"{x.workload:<{w}} \t{arrow} \t{x.peer}{tail}"

    egress = [txt(x, "=>") for x in report.egress]
    ingress = [txt(x, "<=") for x in report.ingress]
    if egress:
        out += "Egress Exposure:\n" + "\n".join(egress) + "\n"
    if ingress:
        out += ("\n" if egress else "") + "Ingress Exposure:\n" + "\n".join(ingress) + "\n"
    if report.unprotected and with_conns:
        out += "\nWorkloads not protected by network policies:\n"
        out += "\n".join(report.unprotected) + "\n"
    return out


def _rows(report: ExposureReport) -> tuple[list[Row], list[Row], list[Row]]:
    """(connlist, egress, ingress) rows as (src, dst[, conn])."""
    n = 3 if report.focus_conn is None else 2
    conns = [(x.src.display, x.dst.display, x.conns.txt())[:n] for x in report.lines]
    egress = [(x.workload, x.peer, x.conns)[:n] for x in report.egress]
    ingress = [(x.peer, x.workload, x.conns)[:n] for x in report.ingress]
    return conns, egress, ingress


def _json_items(rows: list[Row], indent: str, empty: str = "[]") -> str:
    """A JSON array as Go's MarshalIndent writes it; ``empty`` for no rows (a nil slice is
    ``null``)."""
    if not rows:
        return empty
    items = []
    for row in rows:
        body = ",\n".join(
            f'{indent}    "{key}": {_go_json(value)}'
            for key, value in zip(("src", "dst", "conn"), row, strict=False)
        )
        items.append(f"{indent}  {{\n{body}\n{indent}  }}")
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


def render_json(report: ExposureReport) -> str:
    conns, egress, ingress = _rows(report)
    focused = "_conn_focus" if report.focus_conn is not None else ""
    none = "[]" if focused else "null"  # Go's nil slice, unless filtered into a new one
    return (
        "{\n"
        f'  "connlist{focused}_results": {_json_items(conns, "  ")},\n'
        f'  "exposure{focused}_results": {{\n'
        f'    "egress_exposure": {_json_items(egress, "    ", none)},\n'
        f'    "ingress_exposure": {_json_items(ingress, "    ", none)}\n'
        "  }\n"
        "}"
    )


def render_csv(report: ExposureReport) -> str:
    conns, egress, ingress = _rows(report)
    header = ["src", "dst", "conn"][: 3 if report.focus_conn is None else 2]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(conns)
    writer.writerow([_title(report), "", ""])
    if egress:
        writer.writerow(["Egress Exposure:", "", ""])
        writer.writerow(header)
        writer.writerows(egress)
    if ingress:
        writer.writerow(["Ingress Exposure:", "", ""])
        writer.writerow(["dst", "src", "conn"][: len(header)])
        writer.writerows((row[1], row[0], *row[2:]) for row in ingress)
    return buffer.getvalue()


def _md_table(header: Sequence[str], rows: Iterable[Row]) -> list[str]:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("-" * (len(h) + 2) for h in header) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render_md(report: ExposureReport) -> str:
    conns, egress, ingress = _rows(report)
    header = ["src", "dst", "conn"][: 3 if report.focus_conn is None else 2]
    out = _md_table(header, conns)
    out += [f"## {_title(report)}"]
    if egress:
        out += ["### Egress Exposure:", *_md_table(header, egress)]
    if ingress:
        swapped = ["dst", "src", "conn"][: len(header)]
        out += ["", "### Ingress Exposure:"]
        out += _md_table(swapped, ((row[1], row[0], *row[2:]) for row in ingress))
    return "\n".join(out)


def render_dot(report: ExposureReport) -> str:
    """Graphviz: the connlist graph, plus representative peers as red namespace clusters, a
    diamond ``entire-cluster`` node and dashed orange exposure edges."""
    out = ["digraph {"]
    workloads: dict[str, o.Workload] = {w.display: w for w in report.workloads}
    others: set[str] = set()
    for line in report.lines:
        for end in (line.src, line.dst):
            if isinstance(end, o.Workload):
                workloads.setdefault(end.display, end)
            else:
                others.add(end.display)
    reps: dict[str, dict[str, str]] = {}  # namespace text -> node name -> label
    edges: list[tuple[str, str, str]] = []
    for x in report.lines:
        weight = "1" if x.src.display > x.dst.display else "0.5"
        attrs = f'color="gold2" fontcolor="darkgreen" weight={weight}'
        edges.append((x.src.display, x.dst.display, f'[label="{x.conns.txt()}" {attrs}]'))
    for ingress, found in ((False, report.egress), (True, report.ingress)):
        for e in found:
            if e.rep is not None:
                ns_text = e.rep.namespace_text.removeprefix("[").removesuffix("]")
                pod_text = e.rep.pod_text.removeprefix("[").removesuffix("]")
                peer = f"{pod_text}_in_{ns_text}"
                reps.setdefault(ns_text, {})[peer] = pod_text
            elif e.peer == ENTIRE_CLUSTER:
                peer = ENTIRE_CLUSTER
                others.add(peer)
            else:
                continue  # an IP line: already an edge of the connlist
            color, weight = ("darkorange2", "1") if ingress else ("darkorange4", "0.5")
            attrs = f'color="{color}" fontcolor="darkgreen" weight={weight} style=dashed'
            src, dst = (peer, e.workload) if ingress else (e.workload, peer)
            edges.append((src, dst, f'[label="{e.conns}" {attrs}]'))
    by_ns: dict[str, list[o.Workload]] = {}
    for w in workloads.values():
        by_ns.setdefault(w.namespace, []).append(w)
    for ns in sorted(by_ns):
        out += [f'\tsubgraph "cluster_{ns.replace("-", "_")}[namespace]" {{']
        out += ['\t\tcolor="black"', '\t\tfontcolor="black"']
        for w in sorted(by_ns[ns], key=lambda w: w.display):
            label = f"{w.name}[{w.kind}]"
            out.append(f'\t\t"{w.display}" [label="{label}" color="blue" fontcolor="blue"]')
        out += [f'\t\tlabel="{ns}[namespace]"', "\t}"]
    for ns_text in sorted(reps):
        out += [f'\tsubgraph "cluster_{ns_text.replace("-", "_")}[namespace]" {{']
        out += ['\t\tcolor="red2"', '\t\tfontcolor="red2"']
        for node, label in sorted(reps[ns_text].items()):
            out.append(f'\t\t"{node}" [label="{label}" color="red2" fontcolor="red2"]')
        out += [f'\t\tlabel="{ns_text}[namespace]"', "\t}"]
    for name in sorted(others):
        color = "blue" if name == "{ingress-controller}" else "red2"
        shape = " shape=diamond" if name == ENTIRE_CLUSTER else ""
        out.append(f'\t"{name}" [label="{name}" color="{color}" fontcolor="{color}"{shape}]')
    for src, dst, attrs in sorted(edges):
        out.append(f'\t"{src}" -> "{dst}" {attrs}')
    out.append("}")
    return "\n".join(out)


FORMATS = ("txt", "json", "csv", "md", "dot")


def render(fmt: str, report: ExposureReport) -> str:
    if fmt == "txt":
        return render_txt(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "md":
        return render_md(report)
    if fmt == "dot":
        return render_dot(report)
    raise ValueError(f"unknown exposure format {fmt!r}; choose one of {', '.join(FORMATS)}")

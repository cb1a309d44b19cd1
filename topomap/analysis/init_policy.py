"""``topomap init-policy``: a starting ``topomap.yaml`` written from what was observed.

Nothing is allowed silently: every external peer the snapshots saw (by DNS name where the
snapshots have the answers, else by address) is listed as a commented-out ``allowed_egress``
entry with the workloads that used it, and every exposure (NodePort/LoadBalancer/externalIPs
services and inbound traffic from outside) as a commented-out entry point. The cluster ranges
that are derived automatically are listed as comments, so the reviewer sees the whole boundary.
Uncommenting an entry and filling in ``owner`` and ``reason`` makes it part of the policy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import yaml

from topomap import graph, model, views
from topomap.analysis.context import EXTERNAL_ZONES

_HEADER = """\
# topomap policy file (docs/policy-file.md). Written by `topomap init-policy` from {n} snapshot(s).
# Review it: nothing below is allowed until you uncomment an entry and fill owner and reason.
version: 1
boundary:
  # Derived automatically from the Kubernetes data (listed for review, not needed here):
{derived}  # Add the other networks inside your boundary (VPC, peered networks, office):
  internal: []
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _commented(items: list[dict[str, Any]]) -> str:
    if not items:
        return "  # (none observed)\n"
    text = yaml.safe_dump(items, sort_keys=False, default_flow_style=None, width=96)
    return "".join(f"  # {line}\n" if line else "\n" for line in text.splitlines())


def initial_policy(snapshots: Sequence[model.Snapshot]) -> str:
    """The text of a starting policy file for ``snapshots``."""
    g = graph.build_graph(snapshots)
    derived = []
    for snap in snapshots:
        if snap.cluster:
            derived += [f"pod {c}" for c in snap.cluster.pod_cidrs]
            derived += [f"service {c}" for c in snap.cluster.service_cidrs]
            derived += [f"node {c}" for c in snap.cluster.node_cidrs]
    derived_text = "".join(f"  #   {d}\n" for d in sorted(set(derived))) or "  #   (none)\n"

    egress: dict[tuple[str, str, int | None], set[str]] = defaultdict(set)
    ingress: dict[tuple[str, str, int | None], set[str]] = defaultdict(set)  # target -> sources
    for src, dst, data in g.edges(data=True):
        s, d = g.nodes[src], g.nodes[dst]
        proto, port = data["protocol"], data.get("port")
        if d["kind"] == "external" and d.get("zone") in EXTERNAL_ZONES and s["kind"] != "external":
            peer = (d.get("dns_names") or [d["ip"]])[0]
            egress[(peer, proto, port)].add(views.group_of(src, s, "workload"))
        elif s["kind"] == "external" and s.get("zone") in EXTERNAL_ZONES:
            target = str(views.group_of(dst, d, "workload"))
            for service in data.get("services") or ():
                ingress[(service, proto, port)].add(s["ip"])
            if not data.get("services"):
                ingress[(target, proto, port)].add(s["ip"])
    egress_items = []
    for (peer, proto, port), sources in sorted(egress.items(), key=lambda kv: str(kv[0])):
        workloads = sorted(x.partition(":")[2] for x in sources if x.startswith("workload:"))
        item: dict[str, Any] = {
            "id": _slug(f"{peer}-{proto}-{port}"),
            "to": [peer],
            "protocol": proto,
            "ports": [port] if port is not None else [],
        }
        if workloads and len(workloads) == len(sources):
            item["source"] = {"workloads": workloads}
        item["owner"] = "TODO"
        item["reason"] = f"TODO (seen from {', '.join(sorted(sources))})"
        egress_items.append(item)
    entry_items = []
    for (target, _proto, port), sources in sorted(ingress.items(), key=lambda kv: str(kv[0])):
        kind, _, ref = target.partition(":")
        if kind not in ("service", "workload"):
            continue
        entry_items.append(
            {
                "id": _slug(f"{ref}-{port}"),
                kind: ref,
                "ports": [port] if port is not None else [],
                "sources": ["0.0.0.0/0"],
                "owner": "TODO",
                "reason": f"TODO (seen from {len(sources)} outside address(es))",
            }
        )
    seen_services = {e.get("service") for e in entry_items}
    for node, attrs in sorted(g.nodes(data=True)):
        if attrs["kind"] != "service":
            continue
        ref = node.partition(":")[2]
        exposed = attrs.get("service_type") in ("NodePort", "LoadBalancer") or attrs.get(
            "external_ips"
        )
        if exposed and ref not in seen_services:
            entry_items.append(
                {
                    "id": _slug(ref),
                    "service": ref,
                    "ports": [],
                    "sources": ["0.0.0.0/0"],
                    "owner": "TODO",
                    "reason": f"TODO ({attrs.get('service_type')} service)",
                }
            )
    return (
        _HEADER.format(n=len(snapshots), derived=derived_text)
        + "# External peers observed (uncomment to allow):\n"
        + "allowed_egress:\n"
        + _commented(egress_items)
        + "# Ways in observed or configured (uncomment to declare):\n"
        + "entry_points:\n"
        + _commented(entry_items)
        + "# Workloads that may call the Kubernetes API (namespace/Kind/name):\n"
        + "apiserver_clients: []\n"
        + "# Accepted risks: rule, subject, reason, approved_by, expires (YYYY-MM-DD).\n"
        + "suppressions: []\n"
    )

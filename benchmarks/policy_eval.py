"""Benchmark: the policy engine on a generated cluster, connlist and observed-connection queries.

What is measured
----------------
Three steps on the same manifests, each in its own fresh ``spawn`` child process:

1. **load**: ``topomap.policy.loader.load_cluster([dir])`` on the manifest directory.
2. **connlist**: ``connlist.connlist(PolicyEngine(cluster))``, the full workload connectivity
   list (every workload pair, plus workloads against the IP atoms of the policies' CIDRs),
   timed from a freshly built engine with an empty memo.
3. **evaluate**: 1,000,000 calls of ``engine.evaluate(eng, src, dst, protocol, port)`` for
   observed connections, on a freshly built engine (so the memo starts cold and the time
   includes filling it), then the same 1,000,000 again on the now warm engine (an extra).

Targets (from the issue): connlist under 20 s and 1,000,000 ``evaluate`` queries under 10 s,
with peak memory reported, at 5,000 pods in 500 workloads over 50 namespaces with 1,000
NetworkPolicies. There is no external reference to compare with: netpol-analyzer (Go) is not
installed here, so unlike ``graph_build.py`` there is no baseline column.

Pod pairs must not be enumerated one by one where pods are indistinguishable to every policy.
The script reports what the engine actually evaluated: the pod pairs that exist, the workload
pairs connlist walks, the direction results the engine's memo holds afterwards, and how many
distinct (direction, class of the pod, class of the peer) there are, where a *class* is what
the engine documents a direction result depends on: namespace, labels and named ports.

The data
--------
Real YAML manifests written to a temporary directory from a seeded RNG (no files committed),
one directory per namespace (``namespace.yaml``, ``workloads.yaml``, ``netpols.yaml``). By
default:

* **50 namespaces**: ``kube-system``, ``ingress-nginx``, ``monitoring`` and 47 team
  namespaces ``<team>-<env>-<n>``, labelled ``team``, ``env`` and (some) ``monitoring:
  enabled`` and ``pci: "true"``.
* **500 workloads, 5,000 pods** (2 to 18 replicas each, 10 on average, adjusted to sum
  exactly): roughly 80% Deployments, 10% StatefulSets (mostly databases and caches), 7%
  ReplicaSets written as their individual bare Pods (each with a controlling
  ``ownerReferences`` entry, so the loader groups pods that share an owner; one in ten of those
  pods carries a stray label to exercise the "labels differ" warning path), and 1% single Pods
  with no owner. ``kube-system`` holds ``coredns``,
  ``ingress-nginx`` the controller and ``monitoring`` ``prometheus``. Pod labels are ``app``,
  ``tier`` (frontend, backend, db, cache, worker), ``team``, ``version`` and sometimes
  ``track: canary``. Containers declare named ports by tier (``http`` on 8080, 8000 or 3000 so
  named ports resolve differently per workload, ``grpc`` 50051, ``metrics`` 9090,
  ``postgres`` 5432, ``redis`` 6379, ``dns`` UDP 53 ...); a third of the pods have an Envoy
  sidecar whose ports come second.
* **1,000 NetworkPolicies** in the proportions of a real multi-tenant cluster: per namespace a
  default-deny ingress (80% of namespaces), a default-deny egress plus an allow-DNS egress to
  ``kube-system`` (30%), allow-from-ingress-controller (``namespaceSelector`` on
  ``kubernetes.io/metadata.name``, port named ``http``) and allow-from-``prometheus`` on the
  named ``metrics`` port; the rest are per-workload ingress policies (peers by ``podSelector``
  ``matchLabels`` or ``matchExpressions`` In/NotIn/Exists/DoesNotExist, ``namespaceSelector``
  on ``team``/``env``/``pci`` with or without a pod selector, ``ipBlock`` with ``except``;
  ports named, numeric, ``endPort`` ranges, UDP and the odd SCTP; a few rules with no peers
  or no ports), per-workload egress policies (to databases by tier, to other teams'
  namespaces, to external ``ipBlock`` CIDRs with ``except``, port 443 and ranges) and
  tier-wide policies selecting with ``matchExpressions``. The CIDRs come from a pool of about
  30, so the partition of the address space into IP atoms stays realistic.

The queries
-----------
Built in the evaluate child from the loaded cluster before the timer starts, like observed
traffic: first 5,000 distinct connections, then 1,000,000 queries drawn from them with Zipf
weights (rank^-1.1), so the top 100 connections make up about two thirds of the traffic. About
80% of the distinct connections are workload -> workload (60% within the namespace; 90% to one
of the destination's declared container ports, the rest to a random common port), 15% workload
-> external address and 5% external address -> workload; an external address is passed as the
engine's IP atom that contains it, found by bisection over ``ip_atoms``. Protocols follow the
port (UDP for DNS). Most queries come out denied (the traffic is random, most namespaces are
default-deny); the verdict does not change the cost, as ``evaluate`` always computes both
directions. The evaluate child checks that the warm pass gives the same verdicts.

Memory
------
As in ``graph_build.py``: in each child, after the untimed preparation and ``gc.collect()``,
the kernel's peak-RSS mark is reset (``/proc/self/clear_refs`` = 5) and the resident size read;
after the measured call ``getrusage(RUSAGE_SELF).ru_maxrss`` is the *peak RSS* (the loaded
cluster included) and *increment* is the peak minus the resident size before the call. The
load child has nothing before its call but the interpreter and imports. Where the mark cannot
be reset the peak includes the preparation and the increment is an upper bound (flagged).

Usage::

    python benchmarks/policy_eval.py               # full size (about 75 s on 2 cores)
    python benchmarks/policy_eval.py --quick       # 500 pods / 50 workloads / 100 policies
    python benchmarks/policy_eval.py --workloads 200 --policies 400 --queries 200000
"""

from __future__ import annotations

import argparse
import bisect
import ipaddress
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from measure import in_child, mb, measure, yes

import topomap
from topomap.policy import connlist, engine, loader
from topomap.policy import objects as o

FULL = {"namespaces": 50, "workloads": 500, "pods": 5_000, "policies": 1_000}
QUICK = {"namespaces": 10, "workloads": 50, "pods": 500, "policies": 100}
QUERIES = 1_000_000
DISTINCT_QUERIES = 5_000
ZIPF_S = 1.1
TARGET_CONNLIST_SECONDS = 20.0
TARGET_EVALUATE_SECONDS = 10.0

TEAMS = ("payments", "search", "identity", "catalog", "checkout", "data", "growth", "platform")
ENVS = ("prod", "staging", "dev")
TIERS = ("frontend", "backend", "db", "cache", "worker")
TIER_WEIGHTS = (0.2, 0.35, 0.12, 0.08, 0.25)
SYSTEM_NAMESPACES = ("kube-system", "ingress-nginx", "monitoring")
NS_NAME_LABEL = loader.NS_NAME_LABEL
HTTP_PORTS = (8080, 8080, 8080, 8000, 3000)  # "http" resolves to different numbers
COMMON_PORTS = (22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9000, 27017)

# CIDR pools: ingress sources (offices, partners, load balancers) and egress destinations.
INGRESS_CIDRS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("10.0.0.0/8", ("10.244.0.0/14", "10.96.0.0/12")),
    ("172.16.0.0/12", ("172.17.0.0/16",)),
    ("192.168.10.0/24", ()),
    ("192.168.20.0/24", ("192.168.20.128/25",)),
    ("203.0.113.0/24", ()),
    ("198.51.100.0/24", ("198.51.100.0/28",)),
    ("100.64.0.0/10", ()),
    ("10.10.0.0/16", ("10.10.5.0/24",)),
    ("10.11.0.0/16", ()),
    ("0.0.0.0/0", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("35.191.0.0/16", ()),
    ("130.211.0.0/22", ()),
    ("52.95.0.0/16", ("52.95.128.0/17",)),
    ("192.0.2.0/24", ()),
)
EGRESS_CIDRS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("0.0.0.0/0", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("10.20.0.0/16", ("10.20.99.0/24",)),
    ("10.21.0.0/16", ()),
    ("52.0.0.0/8", ("52.94.0.0/16",)),
    ("54.230.0.0/16", ()),
    ("34.64.0.0/10", ("34.96.0.0/14",)),
    ("140.82.112.0/20", ()),
    ("151.101.0.0/16", ()),
    ("8.8.8.8/32", ()),
    ("1.1.1.1/32", ()),
    ("169.254.169.254/32", ()),
    ("185.199.108.0/22", ()),
    ("104.16.0.0/13", ("104.18.0.0/16",)),
    ("13.32.0.0/15", ()),
    ("199.232.0.0/16", ()),
)


@dataclass(frozen=True)
class Sizes:
    """What to generate and query."""

    namespaces: int
    workloads: int
    pods: int
    policies: int
    queries: int
    distinct: int
    seed: int


@dataclass
class _Ns:
    name: str
    labels: dict[str, str]
    team: str
    env: str


@dataclass
class _Wl:
    ns: _Ns
    name: str
    kind: str  # Deployment, StatefulSet, ReplicaSet (bare pods with an owner), Pod
    tier: str
    labels: dict[str, str]
    ports: list[tuple[str, str, int]]  # (name, protocol, containerPort)
    replicas: int
    sidecar: bool


@dataclass
class Generated:
    """Counts of what was written."""

    counts: dict[str, int] = field(default_factory=dict)


# --- generation ----------------------------------------------------------------------------------


def _namespaces(rng: random.Random, count: int) -> list[_Ns]:
    out = [
        _Ns("kube-system", {"team": "platform", "env": "prod"}, "platform", "prod"),
        _Ns("ingress-nginx", {"team": "platform", "env": "prod"}, "platform", "prod"),
        _Ns("monitoring", {"team": "platform", "env": "prod"}, "platform", "prod"),
    ][:count]
    seen: Counter[str] = Counter()
    while len(out) < count:
        team, env = rng.choice(TEAMS), rng.choices(ENVS, weights=(0.5, 0.3, 0.2))[0]
        seen[f"{team}-{env}"] += 1
        name = f"{team}-{env}-{seen[f'{team}-{env}']}"
        labels = {"team": team, "env": env}
        if rng.random() < 0.6:
            labels["monitoring"] = "enabled"
        if team in ("payments", "checkout") and env == "prod":
            labels["pci"] = "true"
        out.append(_Ns(name, labels, team, env))
    return out


def _ports(rng: random.Random, tier: str, app: str) -> list[tuple[str, str, int]]:
    if app == "coredns":
        return [("dns", "UDP", 53), ("dns-tcp", "TCP", 53), ("metrics", "TCP", 9153)]
    if app == "ingress-nginx-controller":
        return [("http", "TCP", 80), ("https", "TCP", 443), ("metrics", "TCP", 10254)]
    if app == "prometheus":
        return [("web", "TCP", 9090)]
    if tier == "frontend":
        return [("http", "TCP", rng.choice(HTTP_PORTS)), ("metrics", "TCP", 9090)]
    if tier == "backend":
        ports = [("http", "TCP", rng.choice(HTTP_PORTS)), ("metrics", "TCP", 9090)]
        if rng.random() < 0.5:
            ports.insert(1, ("grpc", "TCP", 50051))
        return ports
    if tier == "db":
        if rng.random() < 0.7:
            return [("postgres", "TCP", 5432), ("metrics", "TCP", 9187)]
        return [("mysql", "TCP", 3306), ("metrics", "TCP", 9104)]
    if tier == "cache":
        return [("redis", "TCP", 6379), ("metrics", "TCP", 9121)]
    return [("metrics", "TCP", 9090)] + ([("jmx", "TCP", 5555)] if rng.random() < 0.3 else [])


def _replicas(rng: random.Random, workloads: int, pods: int) -> list[int]:
    """``workloads`` replica counts, 2..18 for 10 on average, adjusted to sum to ``pods``."""
    high = max(1, round(2 * pods / workloads) - 2)
    counts = [rng.randint(min(2, high), high) for _ in range(workloads)]
    diff = pods - sum(counts)
    while diff:
        i = rng.randrange(workloads)
        step = 1 if diff > 0 else -1
        if 1 <= counts[i] + step <= high + 2:
            counts[i] += step
            diff -= step
    return counts


def _workloads(rng: random.Random, nss: list[_Ns], count: int, pods: int) -> list[_Wl]:
    per_ns: list[list[_Wl]] = [[] for _ in nss]
    system = {
        "kube-system": ("coredns", "backend"),
        "ingress-nginx": ("ingress-nginx-controller", "frontend"),
        "monitoring": ("prometheus", "backend"),
    }
    plan: list[tuple[int, str, str]] = []  # (namespace index, app, tier)
    for i, ns in enumerate(nss):
        if ns.name in system:
            plan.append((i, *system[ns.name]))
    team_ns = [i for i, ns in enumerate(nss) if ns.name not in system] or list(range(len(nss)))
    counter: Counter[tuple[int, str]] = Counter()
    while len(plan) < count:
        i = rng.choice(team_ns)
        tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
        counter[i, tier] += 1
        plan.append((i, f"{tier}-{counter[i, tier]}", tier))
    replicas = _replicas(rng, count, pods)
    out: list[_Wl] = []
    for (i, app, tier), n in zip(plan, replicas, strict=True):
        ns = nss[i]
        roll = rng.random()
        if app in ("coredns", "ingress-nginx-controller", "prometheus"):
            kind = "Deployment"
        elif roll < 0.01:
            kind = "Pod"
        elif roll < 0.10:
            kind = "ReplicaSet"
        elif roll < 0.16 or tier in ("db", "cache") and roll < 0.5:
            kind = "StatefulSet"
        else:
            kind = "Deployment"
        labels = {"app": app, "tier": tier, "team": ns.team, "version": rng.choice(("v1", "v2"))}
        if rng.random() < 0.05:
            labels["track"] = "canary"
        wl = _Wl(ns, app, kind, tier, labels, _ports(rng, tier, app), n, rng.random() < 0.33)
        per_ns[i].append(wl)
        out.append(wl)
    # A single Pod is one pod: hand its surplus to other workloads so the total holds.
    owned = [wl for wl in out if wl.kind != "Pod"]
    for wl in out:
        while wl.kind == "Pod" and wl.replicas > 1 and owned:
            rng.choice(owned).replicas += 1
            wl.replicas -= 1
    return out


def _containers(wl: _Wl) -> list[dict[str, Any]]:
    main = {
        "name": wl.name,
        "image": f"registry.example.com/{wl.ns.team}/{wl.name}:{wl.labels['version']}",
        "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, proto, p in wl.ports],
    }
    containers: list[dict[str, Any]] = [main]
    if wl.sidecar:
        containers.append(
            {
                "name": "envoy",
                "image": "envoyproxy/envoy:v1.30",
                "ports": [
                    {"name": "envoy-admin", "containerPort": 15000, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 15090, "protocol": "TCP"},  # shadowed
                ],
            }
        )
    return containers


def _workload_docs(rng: random.Random, wl: _Wl) -> list[dict[str, Any]]:
    meta = {"name": wl.name, "namespace": wl.ns.name, "labels": dict(wl.labels)}
    pod_spec = {"containers": _containers(wl)}
    if wl.kind in ("Deployment", "StatefulSet"):
        spec: dict[str, Any] = {
            "replicas": wl.replicas,
            "selector": {"matchLabels": {"app": wl.labels["app"]}},
            "template": {"metadata": {"labels": dict(wl.labels)}, "spec": pod_spec},
        }
        if wl.kind == "StatefulSet":
            spec["serviceName"] = wl.name
        return [{"apiVersion": "apps/v1", "kind": wl.kind, "metadata": meta, "spec": spec}]
    if wl.kind == "Pod":
        return [{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}]
    # A ReplicaSet seen only through its pods: each pod names it as controlling owner.
    template_hash = f"{rng.getrandbits(40):010x}"[:10]
    rs_name = f"{wl.name}-{template_hash}"
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": rs_name,
        "uid": str(uuid.UUID(int=rng.getrandbits(128))),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    wl.name = rs_name  # the loader names the workload after its owner
    docs = []
    for k in range(wl.replicas):
        labels = {**wl.labels, "pod-template-hash": template_hash}
        if k and rng.random() < 0.1:
            labels["restarted"] = "yes"  # differs from the first pod: a warning, first wins
        suffix = "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{rs_name}-{suffix}",
                    "namespace": wl.ns.name,
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {**pod_spec, "nodeName": f"node-{rng.randrange(40):02d}"},
            }
        )
    return docs


def _np(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _ip_block(rng: random.Random, pool: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    cidr, excepts = rng.choice(pool)
    block: dict[str, Any] = {"cidr": cidr}
    if excepts:
        block["except"] = list(excepts)
    return {"ipBlock": block}


def _expressions(rng: random.Random, wl_pool: list[_Wl]) -> list[dict[str, Any]]:
    """One or two matchExpressions over tier/app/track/version."""
    exprs: list[dict[str, Any]] = []
    roll = rng.random()
    if roll < 0.4:
        exprs.append({"key": "tier", "operator": "In", "values": rng.sample(TIERS, 2)})
    elif roll < 0.7 and wl_pool:
        apps = sorted({w.labels["app"] for w in rng.sample(wl_pool, min(3, len(wl_pool)))})
        exprs.append({"key": "app", "operator": "In", "values": apps})
    else:
        exprs.append({"key": "tier", "operator": "NotIn", "values": ["db", "cache"]})
    extra = rng.random()
    if extra < 0.2:
        exprs.append({"key": "track", "operator": "DoesNotExist"})
    elif extra < 0.3:
        exprs.append({"key": "version", "operator": "Exists"})
    elif extra < 0.4:
        exprs.append({"key": "version", "operator": "NotIn", "values": ["v0"]})
    return exprs


def _pod_selector(rng: random.Random, wl_pool: list[_Wl]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.45 and wl_pool:
        return {"matchLabels": {"app": rng.choice(wl_pool).labels["app"]}}
    if roll < 0.75:
        return {"matchLabels": {"tier": rng.choice(TIERS)}}
    return {"matchExpressions": _expressions(rng, wl_pool)}


def _ns_selector(rng: random.Random, nss: list[_Ns]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.35:
        return {"matchLabels": {"team": rng.choice(TEAMS)}}
    if roll < 0.55:
        return {"matchLabels": {"team": rng.choice(TEAMS), "env": rng.choice(ENVS)}}
    if roll < 0.65:
        return {"matchLabels": {"pci": "true"}}
    if roll < 0.8:
        return {"matchLabels": {NS_NAME_LABEL: rng.choice(nss).name}}
    if roll < 0.9:
        return {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}
    return {}  # every namespace


def _ingress_ports(rng: random.Random, wl: _Wl | None) -> list[dict[str, Any]]:
    roll = rng.random()
    if roll < 0.1:
        return []  # all ports
    if roll < 0.45 and wl is not None:
        name, proto, _ = rng.choice(wl.ports)
        return [{"port": name} if proto == "TCP" else {"port": name, "protocol": proto}]
    if roll < 0.7 and wl is not None:
        return [{"port": p, "protocol": proto} for _, proto, p in wl.ports]
    if roll < 0.85:
        start = rng.choice((8000, 9000, 30000))
        return [{"port": start, "endPort": start + rng.choice((9, 99, 2767))}]
    if roll < 0.95:
        return [{"port": rng.choice(COMMON_PORTS)}, {"port": 53, "protocol": "UDP"}]
    return [{"port": 3868, "protocol": "SCTP"}, {"port": "http"}]


def _policies(
    rng: random.Random, nss: list[_Ns], wls: list[_Wl], total: int
) -> list[dict[str, Any]]:
    by_ns: dict[str, list[_Wl]] = {}
    for wl in wls:
        by_ns.setdefault(wl.ns.name, []).append(wl)
    out: list[dict[str, Any]] = []
    dns_peer = {
        "namespaceSelector": {"matchLabels": {NS_NAME_LABEL: "kube-system"}},
        "podSelector": {"matchLabels": {"app": "coredns"}},
    }
    for ns in nss:
        if len(out) >= total:
            break
        if rng.random() < 0.8:
            out.append(
                _np(
                    ns.name, "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}
                )
            )
        if rng.random() < 0.3 and len(out) + 2 <= total:
            out.append(
                _np(ns.name, "default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
            )
            dns_ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
            out.append(
                _np(
                    ns.name,
                    "allow-dns",
                    {
                        "podSelector": {},
                        "policyTypes": ["Egress"],
                        "egress": [{"to": [dns_peer], "ports": dns_ports}],
                    },
                )
            )
        if ns.name not in SYSTEM_NAMESPACES and rng.random() < 0.7:
            ingress_ns = {"matchLabels": {NS_NAME_LABEL: "ingress-nginx"}}
            out.append(
                _np(
                    ns.name,
                    "allow-from-ingress-controller",
                    {
                        "podSelector": {"matchLabels": {"tier": "frontend"}},
                        "ingress": [
                            {
                                "from": [{"namespaceSelector": ingress_ns}],
                                "ports": [{"port": "http"}],
                            }
                        ],
                    },
                )
            )
        if rng.random() < 0.6:
            prom = {
                "namespaceSelector": {"matchLabels": {NS_NAME_LABEL: "monitoring"}},
                "podSelector": {"matchLabels": {"app": "prometheus"}},
            }
            out.append(
                _np(
                    ns.name,
                    "allow-prometheus",
                    {
                        "podSelector": {},
                        "ingress": [{"from": [prom], "ports": [{"port": "metrics"}]}],
                    },
                )
            )
    serial: Counter[str] = Counter()
    while len(out) < total:
        wl = rng.choice(wls)
        ns = wl.ns
        local = by_ns[ns.name]
        roll = rng.random()
        serial[ns.name] += 1
        if roll < 0.6:  # per-workload ingress
            rules: list[dict[str, Any]] = []
            for _ in range(rng.choice((1, 1, 2, 3))):
                kind = rng.random()
                peers: list[dict[str, Any]]
                if kind < 0.4:
                    peers = [{"podSelector": _pod_selector(rng, local)}]
                elif kind < 0.7:
                    peer: dict[str, Any] = {"namespaceSelector": _ns_selector(rng, nss)}
                    if rng.random() < 0.6:
                        peer["podSelector"] = _pod_selector(rng, wls)
                    peers = [peer]
                elif kind < 0.9:
                    peers = [_ip_block(rng, INGRESS_CIDRS) for _ in range(rng.choice((1, 2)))]
                elif kind < 0.95:
                    peers = [
                        {"podSelector": _pod_selector(rng, local)},
                        {"namespaceSelector": _ns_selector(rng, nss)},
                    ]
                else:
                    peers = []  # from anywhere
                rule: dict[str, Any] = {"from": peers} if peers else {}
                ports = _ingress_ports(rng, wl)
                if ports:
                    rule["ports"] = ports
                rules.append(rule)
            spec = {"podSelector": {"matchLabels": {"app": wl.labels["app"]}}, "ingress": rules}
            out.append(_np(ns.name, f"{wl.labels['app']}-ingress-{serial[ns.name]}", spec))
        elif roll < 0.85:  # per-workload egress
            egress: list[dict[str, Any]] = []
            dbs = [w for w in local if w.tier in ("db", "cache")]
            if dbs:
                db = rng.choice(dbs)
                egress.append(
                    {
                        "to": [{"podSelector": {"matchLabels": {"app": db.labels["app"]}}}],
                        "ports": [{"port": db.ports[0][0]}],  # named port on the destination
                    }
                )
            if rng.random() < 0.5:
                egress.append(
                    {
                        "to": [
                            {
                                "namespaceSelector": _ns_selector(rng, nss),
                                "podSelector": {"matchLabels": {"tier": "backend"}},
                            }
                        ],
                        "ports": [{"port": "http"}, {"port": "grpc"}],
                    }
                )
            if rng.random() < 0.7:
                egress.append(
                    {
                        "to": [_ip_block(rng, EGRESS_CIDRS) for _ in range(rng.choice((1, 2)))],
                        "ports": rng.choice(
                            (
                                [{"port": 443}],
                                [{"port": 443}, {"port": 80}],
                                [{"port": 30000, "endPort": 32767}],
                                [],
                            )
                        ),
                    }
                )
                if not egress[-1]["ports"]:
                    del egress[-1]["ports"]
            if rng.random() < 0.5:
                egress.append({"to": [dns_peer], "ports": [{"port": 53, "protocol": "UDP"}]})
            if not egress:
                egress.append({"to": [{"podSelector": {}}]})
            types = ["Egress"] if rng.random() < 0.7 else ["Ingress", "Egress"]
            spec = {
                "podSelector": {"matchLabels": {"app": wl.labels["app"]}},
                "policyTypes": types,
                "egress": egress,
            }
            if "Ingress" in types:
                spec["ingress"] = [{"from": [{"podSelector": {}}]}]
            out.append(_np(ns.name, f"{wl.labels['app']}-egress-{serial[ns.name]}", spec))
        else:  # tier-wide, selected by expressions
            tier_rule: dict[str, Any] = {
                "from": [
                    {"podSelector": _pod_selector(rng, local)},
                    {"namespaceSelector": _ns_selector(rng, nss)},
                ]
            }
            ports = _ingress_ports(rng, None)
            if ports:
                tier_rule["ports"] = ports
            spec = {
                "podSelector": {"matchExpressions": _expressions(rng, local)},
                "ingress": [tier_rule],
            }
            out.append(_np(ns.name, f"tier-policy-{serial[ns.name]}", spec))
    return out


def generate(sizes: Sizes, root: Path) -> dict[str, int]:
    """Write the manifests under ``root``; counts of what was written."""
    rng = random.Random(sizes.seed)
    nss = _namespaces(rng, sizes.namespaces)
    wls = _workloads(rng, nss, sizes.workloads, sizes.pods)
    docs_by_ns: dict[str, list[dict[str, Any]]] = {ns.name: [] for ns in nss}
    kinds: Counter[str] = Counter()
    pod_docs = 0
    for wl in wls:
        docs = _workload_docs(rng, wl)
        kinds[wl.kind] += 1
        pod_docs += sum(1 for d in docs if d["kind"] == "Pod")
        docs_by_ns[wl.ns.name].extend(docs)
    policies = _policies(rng, nss, wls, sizes.policies)
    pols_by_ns: dict[str, list[dict[str, Any]]] = {ns.name: [] for ns in nss}
    for pol in policies:
        pols_by_ns[pol["metadata"]["namespace"]].append(pol)
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    total_bytes = 0
    for index, ns in enumerate(nss):
        folder = root / ns.name
        folder.mkdir(parents=True)
        ns_doc = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns.name, "labels": ns.labels},
        }
        files: list[tuple[str, list[dict[str, Any]]]] = [
            ("namespace.yaml", [ns_doc]),
            ("workloads.yaml", docs_by_ns[ns.name]),
        ]
        if index == 1 and pols_by_ns[ns.name]:  # one namespace's policies as a List kind
            files.append(
                (
                    "netpols.yaml",
                    [
                        {
                            "apiVersion": "networking.k8s.io/v1",
                            "kind": "NetworkPolicyList",
                            "items": pols_by_ns[ns.name],
                        }
                    ],
                )
            )
        else:
            files.append(("netpols.yaml", pols_by_ns[ns.name]))
        for filename, docs in files:
            text = yaml.dump_all(docs, Dumper=dumper, sort_keys=False, default_flow_style=False)
            (folder / filename).write_text(text)
            total_bytes += len(text)
    return {
        "namespaces": len(nss),
        "workloads": len(wls),
        "pods": sum(wl.replicas for wl in wls),
        "pod_documents": pod_docs,
        "deployments": kinds["Deployment"],
        "statefulsets": kinds["StatefulSet"],
        "replicasets": kinds["ReplicaSet"],
        "bare_pods": kinds["Pod"],
        "policies": len(policies),
        "bytes": total_bytes,
    }


# --- queries -------------------------------------------------------------------------------------

Query = tuple[engine.Peer, engine.Peer, str, int]


def _random_address(rng: random.Random, pool: tuple[tuple[str, tuple[str, ...]], ...]) -> int:
    """An IPv4 address as an int: inside a pool CIDR (80%) or anywhere public (20%)."""
    if rng.random() < 0.8:
        net = ipaddress.ip_network(rng.choice(pool)[0])
        return int(net.network_address) + rng.randrange(net.num_addresses)
    return rng.randrange(1 << 24, 224 << 24)


def _atom_finder(atoms: list[engine.IPRange]) -> Callable[[int], engine.IPRange]:
    starts = [atom.start for atom in atoms]

    def find(address: int) -> engine.IPRange:
        return atoms[bisect.bisect_right(starts, address) - 1]

    return find


def make_queries(cluster: loader.LoadedCluster, sizes: Sizes) -> tuple[list[Query], dict[str, int]]:
    """``sizes.queries`` observed connections drawn with Zipf weights from ``sizes.distinct``."""
    rng = random.Random(sizes.seed + 1)
    workloads = cluster.workloads
    by_ns: dict[str, list[o.Workload]] = {}
    for wl in workloads:
        by_ns.setdefault(wl.namespace, []).append(wl)
    scratch = engine.PolicyEngine(cluster)  # only for the IP atoms; the timed runs build their own
    to_ingress_atom = _atom_finder(scratch.ip_atoms("ingress"))
    to_egress_atom = _atom_finder(scratch.ip_atoms("egress"))
    external_ports = (("TCP", 443), ("TCP", 443), ("TCP", 443), ("TCP", 80), ("UDP", 53))

    def dst_port(dst: o.Workload) -> tuple[str, int]:
        declared = cluster.container_ports.get(dst.display, ())
        if declared and rng.random() < 0.9:
            return rng.choice(declared)
        return "TCP", rng.choice(COMMON_PORTS)

    combos: list[Query] = []
    seen: set[tuple[object, object, str, int]] = set()
    kinds: Counter[str] = Counter()
    limit = min(sizes.distinct, sizes.queries)
    while len(combos) < limit:
        roll = rng.random()
        src: engine.Peer = rng.choice(workloads)
        dst: engine.Peer
        if roll < 0.8:
            assert isinstance(src, o.Workload)
            dst = rng.choice(by_ns[src.namespace]) if rng.random() < 0.6 else rng.choice(workloads)
            if dst is src:
                continue
            proto, port = dst_port(dst)
            kind = "workload -> workload"
        elif roll < 0.95:
            dst = to_egress_atom(_random_address(rng, EGRESS_CIDRS))
            proto, port = rng.choice(external_ports)
            kind = "workload -> external"
        else:
            wl = rng.choice(workloads)
            src, dst = to_ingress_atom(_random_address(rng, INGRESS_CIDRS)), wl
            proto, port = dst_port(wl)
            kind = "external -> workload"
        key = (src, dst, proto, port)
        if key in seen:
            continue
        seen.add(key)
        combos.append((src, dst, proto, port))
        kinds[kind] += 1
    weights = [1.0 / (rank + 1) ** ZIPF_S for rank in range(len(combos))]
    queries = rng.choices(combos, weights=weights, k=sizes.queries)
    used_ids = {id(q) for q in queries}
    used = [q for q in combos if id(q) in used_ids]
    hits = Counter(id(q) for q in queries)
    top = sorted(hits.values(), reverse=True)
    info = {
        "queries": len(queries),
        "distinct": len(combos),
        "distinct_used": len(used),
        "distinct_pairs_used": len({(id(q[0]), id(q[1])) for q in used}),
        "top_100_share_permille": sum(top[:100]) * 1000 // max(1, len(queries)),
        **{k.replace(" -> ", "_to_"): v for k, v in kinds.items()},
    }
    return queries, info


# --- measurement (runs in spawned children) -------------------------------------------------------


def _memo_info(eng: engine.PolicyEngine) -> dict[str, int]:
    """How many distinct direction results the engine computed (its memo's size)."""
    return {"memo_entries": eng.memo_size}


def _class_of(wl: o.Workload) -> object:
    """What the engine documents a direction result depends on: namespace, labels, named ports."""
    return wl.namespace, frozenset(wl.labels.items()), frozenset(wl.named_ports.items())


def _class_analysis(eng: engine.PolicyEngine) -> dict[str, int]:
    """How many direction evaluations connlist asks for, and how many distinct classes they span.

    Mirrors ``connlist.connlist``'s loops (untimed): egress of every workload source, ingress of
    every workload destination, with the peer as the other end.
    """
    workloads = eng.cluster.workloads
    atoms_in, atoms_eg = eng.ip_atoms("ingress"), eng.ip_atoms("egress")
    ids: dict[object, int] = {}
    cls = [ids.setdefault(_class_of(wl), len(ids)) for wl in workloads]
    n_w, n_c = len(workloads), len(ids)
    wl_pairs = n_w * (n_w - 1)  # workloads have distinct display names
    # Distinct (pod class, peer class) over the workload pairs: the same set for both
    # directions (egress: (src, dst), ingress: (dst, src)), so count it once.
    class_pairs = {(cls[i] << 32) | cls[j] for i in range(n_w) for j in range(n_w) if i != j}
    return {
        "workloads": n_w,
        "classes": n_c,
        "ip_atoms_ingress": len(atoms_in),
        "ip_atoms_egress": len(atoms_eg),
        "pairs": wl_pairs + n_w * (len(atoms_in) + len(atoms_eg)),
        "direction_requests": 2 * wl_pairs + n_w * (len(atoms_in) + len(atoms_eg)),
        "distinct_by_class": 2 * len(class_pairs) + n_c * (len(atoms_in) + len(atoms_eg)),
    }


def run_load(root: str) -> dict[str, Any]:
    """Child: time ``load_cluster`` on the manifests."""
    cluster, stats = measure(loader.load_cluster, [root])
    return {
        **stats,
        "namespaces": len(cluster.namespaces),
        "workloads": len(cluster.workloads),
        "policies": len(cluster.policies),
        "warnings": len(cluster.warnings),
    }


def _connlist_fresh(cluster: o.Cluster) -> tuple[engine.PolicyEngine, list[connlist.Line]]:
    eng = engine.PolicyEngine(cluster)
    return eng, connlist.connlist(eng)


def run_connlist(root: str) -> dict[str, Any]:
    """Child: load (untimed), then time the full connlist from a fresh engine."""
    cluster = loader.load_cluster([root])
    (eng, lines), stats = measure(_connlist_fresh, cluster)
    kinds: Counter[str] = Counter()
    for line in lines:
        src = "workload" if isinstance(line.src, o.Workload) else "ip"
        dst = "workload" if isinstance(line.dst, o.Workload) else "ip"
        kinds[f"{src}_to_{dst}"] += 1
    return {
        **stats,
        **_memo_info(eng),
        **_class_analysis(eng),
        "lines": len(lines),
        "all_connections_lines": sum(1 for line in lines if line.conns.is_all),
        **kinds,
    }


def _evaluate_fresh(
    cluster: o.Cluster, queries: list[Query]
) -> tuple[engine.PolicyEngine, bytearray]:
    eng = engine.PolicyEngine(cluster)
    return eng, _evaluate_all(eng, queries)


def _evaluate_all(eng: engine.PolicyEngine, queries: list[Query]) -> bytearray:
    """Bit 0: allowed; bit 1: covered (a policy, not the system default, decided both ways)."""
    evaluate = engine.evaluate
    out = bytearray(len(queries))
    for i, (src, dst, proto, port) in enumerate(queries):
        verdict = evaluate(eng, src, dst, proto, port)
        out[i] = verdict.allowed | verdict.covered << 1
    return out


def run_evaluate(root: str, sizes: Sizes) -> dict[str, Any]:
    """Child: load and build the queries (untimed), time them cold, then again warm."""
    cluster = loader.load_cluster([root])
    queries, info = make_queries(cluster, sizes)
    (eng, cold), stats = measure(_evaluate_fresh, cluster, queries)
    memo_cold = _memo_info(eng)
    start = time.perf_counter()
    warm = _evaluate_all(eng, queries)
    warm_seconds = time.perf_counter() - start
    return {
        **stats,
        **{f"{k}_cold": v for k, v in memo_cold.items()},
        "query_info": info,
        "allowed": sum(1 for v in cold if v & 1),
        "covered": sum(1 for v in cold if v & 2),
        "warm_seconds": warm_seconds,
        "warm_same": warm == cold,
    }


# --- report --------------------------------------------------------------------------------------


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run, with the highest peak and increment over all runs."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["peak_kib"] = max(r["peak_kib"] for r in runs)
    best["increment_kib"] = max(r["increment_kib"] for r in runs)
    best["peak_reset"] = all(r["peak_reset"] for r in runs)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the policy engine: load, full connlist, and 1,000,000 evaluate queries."
    )
    for name, what in (
        ("namespaces", "namespaces"),
        ("workloads", "workloads"),
        ("pods", "pods over all workloads"),
        ("policies", "NetworkPolicies"),
    ):
        parser.add_argument(f"--{name}", type=int, help=f"{what} (default {FULL[name]:,})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small run: {QUICK['pods']:,} pods, {QUICK['workloads']} workloads, "
        f"{QUICK['namespaces']} namespaces, {QUICK['policies']} policies, 100,000 queries",
    )
    parser.add_argument("--queries", type=int, help=f"evaluate calls (default {QUERIES:,})")
    parser.add_argument(
        "--distinct",
        type=int,
        default=DISTINCT_QUERIES,
        help="distinct observed connections the queries are drawn from",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each step, each in a fresh process"
    )
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument(
        "--manifests",
        type=Path,
        help="write the manifests to this (new) directory and keep them, instead of a temp dir",
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    sizes = Sizes(
        namespaces=args.namespaces or preset["namespaces"],
        workloads=args.workloads or preset["workloads"],
        pods=args.pods or preset["pods"],
        policies=args.policies or preset["policies"],
        queries=args.queries or (100_000 if args.quick else QUERIES),
        distinct=args.distinct,
        seed=args.seed,
    )
    if sizes.namespaces < 4 or sizes.workloads < sizes.namespaces or sizes.pods < sizes.workloads:
        parser.error("need at least 4 namespaces, a workload per namespace and a pod per workload")
    if sizes.policies < 1 or sizes.queries < 1 or sizes.distinct < 1:
        parser.error("need at least 1 policy, 1 query and 1 distinct connection")

    print(
        f"topomap {topomap.__version__}, PyYAML {yaml.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory(prefix="topomap-policy-bench-") as tmp:
        root = args.manifests or Path(tmp) / "manifests"
        start = time.perf_counter()
        counts = generate(sizes, root)
        gen_seconds = time.perf_counter() - start
        print(
            f"generated {counts['namespaces']} namespaces, {counts['workloads']:,} workloads "
            f"({counts['deployments']} Deployments, {counts['statefulsets']} StatefulSets, "
            f"{counts['replicasets']} ReplicaSets as {counts['pod_documents']:,} bare Pods, "
            f"{counts['bare_pods']} single Pods), {counts['pods']:,} pods, "
            f"{counts['policies']:,} NetworkPolicies; {counts['bytes'] / 1e6:.1f} MB of YAML "
            f"in {root} (seed {sizes.seed}, {gen_seconds:.1f} s, not timed)"
        )
        loads: list[dict[str, Any]] = []
        lists: list[dict[str, Any]] = []
        evals: list[dict[str, Any]] = []
        for run in range(max(1, args.repeat)):
            loads.append(in_child(run_load, str(root)))
            print(f"  run {run + 1}: load_cluster      {loads[-1]['seconds']:7.2f} s", flush=True)
            lists.append(in_child(run_connlist, str(root)))
            print(f"  run {run + 1}: connlist          {lists[-1]['seconds']:7.2f} s", flush=True)
            evals.append(in_child(run_evaluate, str(root), sizes))
            print(
                f"  run {run + 1}: {sizes.queries:,} evaluate {evals[-1]['seconds']:7.2f} s",
                flush=True,
            )
    load, cl, ev = _best(loads), _best(lists), _best(evals)
    q = ev["query_info"]

    print()
    print(
        f"loaded: {load['namespaces']} namespaces, {load['workloads']:,} workloads, "
        f"{load['policies']:,} NetworkPolicies, {load['warnings']} warnings"
    )
    print()
    header = f"{'':36} {'seconds':>9} {'peak RSS':>10} {'increment':>10}"
    print(header)
    print("-" * len(header))
    for label, r in (
        ("load_cluster", load),
        ("connlist (fresh engine)", cl),
        (f"{sizes.queries:,} x evaluate (fresh engine)", ev),
    ):
        print(
            f"{label:36} {r['seconds']:>9.2f} {mb(r['peak_kib']):>10} {mb(r['increment_kib']):>10}"
        )
    print(f"{f'{sizes.queries:,} x evaluate again (warm)':36} {ev['warm_seconds']:>9.2f}")
    if not (load["peak_reset"] and cl["peak_reset"] and ev["peak_reset"]):
        print(
            "(peak RSS mark could not be reset: peaks include preparation, increments are bounds)"
        )
    print()
    print(
        f"connlist: {cl['lines']:,} lines ({cl.get('workload_to_workload', 0):,} workload -> "
        f"workload, {cl.get('ip_to_workload', 0):,} IP -> workload, "
        f"{cl.get('workload_to_ip', 0):,} workload -> IP; {cl['all_connections_lines']:,} "
        f"'All Connections'); IP atoms: {cl['ip_atoms_ingress']} ingress, "
        f"{cl['ip_atoms_egress']} egress"
    )
    pod_pairs = counts["pods"] * (counts["pods"] - 1)
    print(
        f"enumeration: {counts['pods']:,} pods ({pod_pairs:,} pod pairs, never enumerated) -> "
        f"{cl['workloads']:,} workloads in {cl['classes']:,} classes (namespace, labels, named "
        f"ports); connlist walks {cl['pairs']:,} pairs = {cl['direction_requests']:,} "
        f"direction requests, {cl['distinct_by_class']:,} distinct by class"
    )
    if "memo_entries" in cl:
        print(
            f"engine memo after connlist: {cl['memo_entries']:,} direction results computed "
            f"for {cl['direction_requests']:,} direction requests"
        )
    print(
        f"evaluate: {q['queries']:,} queries over {q['distinct_used']:,} distinct connections "
        f"({q['distinct_pairs_used']:,} distinct (src, dst); top 100 connections "
        f"{q['top_100_share_permille'] / 10:.1f}% of queries; of the distinct: "
        f"{q.get('workload_to_workload', 0):,} workload -> workload, "
        f"{q.get('workload_to_external', 0):,} -> external, "
        f"{q.get('external_to_workload', 0):,} external ->)"
    )
    if "memo_entries_cold" in ev:
        print(f"engine memo after the queries: {ev['memo_entries_cold']:,} direction results")
    print(
        f"verdicts: {ev['allowed']:,} allowed, {q['queries'] - ev['allowed']:,} denied, "
        f"{ev['covered']:,} covered by a policy both ways; warm pass same verdicts: "
        f"{yes(ev['warm_same'])}"
    )
    print()
    full_size = counts["pods"] >= FULL["pods"] and counts["policies"] >= FULL["policies"]
    full_size = full_size and sizes.queries >= QUERIES and counts["workloads"] >= FULL["workloads"]
    cl_ok = cl["seconds"] < TARGET_CONNLIST_SECONDS
    ev_ok = ev["seconds"] < TARGET_EVALUATE_SECONDS
    print(
        f"target: connlist under {TARGET_CONNLIST_SECONDS:g} s: {yes(cl_ok)} "
        f"({cl['seconds']:.2f} s); {sizes.queries:,} evaluate under "
        f"{TARGET_EVALUATE_SECONDS:g} s: {yes(ev_ok)} ({ev['seconds']:.2f} s); peak RSS "
        f"{mb(max(cl['peak_kib'], ev['peak_kib']))}"
        + ("" if full_size else " (the targets are for the full size)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The policy engine's cluster built from snapshots: pods are workloads, policies verbatim."""

from __future__ import annotations

import dataclasses

from tests import factories as f
from tests.kubeapi import cluster as c
from topomap import kube, model
from topomap.policy import engine
from topomap.policy.snapshot import cluster_from_snapshots

FE = f"shop/frontend-{c.HASH}-x7k2p"


def cluster_snapshot(**extra: object) -> model.Snapshot:
    parts = kube.convert(kube.Doc("c.json", 1, o) for o in c.objects())
    return f.snapshot(
        "lab",
        source="cluster",
        cluster=parts.cluster,
        namespaces=parts.namespaces,
        pods=parts.pods,
        services=parts.services,
        policy_objects=parts.policy_objects,
        **extra,
    )


def test_snapshot_connections_are_judged_by_the_snapshots_policies() -> None:
    got = cluster_from_snapshots([cluster_snapshot()])
    assert got.complete
    assert [p.name for p in got.cluster.policies] == ["db-from-frontend"]
    assert [p.name for p in got.cluster.admin_policies] == ["deny-metadata"]
    assert got.cluster.baseline is not None
    assert len(got.workload_of_pod) == 8
    db = got.workload_of_pod["shop/db-0"]
    assert (db.display, db.labels, db.named_ports) == (
        "shop/db-0[Pod]",
        {"app": "db"},
        {"pg": ("TCP", 5432)},
    )
    e = engine.PolicyEngine(got.cluster)
    front, debug = got.workload_of_pod[FE], got.workload_of_pod["shop/debug"]
    assert engine.evaluate(e, front, db, "TCP", 5432).allowed
    denied = engine.evaluate(e, debug, db, "TCP", 5432)
    assert not denied.allowed and denied.ingress.verdict == "deny"
    assert not engine.evaluate(e, front, db, "TCP", 5433).allowed


def test_an_unreadable_policy_resource_makes_the_picture_incomplete() -> None:
    forbidden = model.UnreadableResource(
        resource="networkpolicies", group="networking.k8s.io", status=403, reason="forbidden"
    )
    snap = cluster_snapshot()
    assert snap.cluster is not None
    snap = dataclasses.replace(
        snap,
        policy_objects=tuple(o for o in snap.policy_objects if o["kind"] != "NetworkPolicy"),
        cluster=dataclasses.replace(snap.cluster, unreadable=(forbidden,)),
    )
    got = cluster_from_snapshots([snap])
    assert not got.complete
    assert got.unreadable == (forbidden,)
    assert got.cluster.policies == []


def test_the_latest_snapshot_of_an_object_wins() -> None:
    old = cluster_snapshot()
    newer_policy = dict(old.policy_objects[3])
    newer_policy["spec"] = {**newer_policy["spec"], "ingress": []}  # now: deny all to db
    new = dataclasses.replace(
        old,
        snapshot_id="later",
        window=model.Window(start=f.at(100), end=f.at(101)),
        policy_objects=(newer_policy,),
    )
    got = cluster_from_snapshots([new, old])
    (policy,) = got.cluster.policies
    assert policy.ingress == ()

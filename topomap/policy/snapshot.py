"""The policy engine's cluster as snapshots recorded it: what CC6.6 analysis evaluates against.

Snapshots from the cluster API (live, or ``--k8s`` files) carry the namespaces, pods, services
and, verbatim, the NetworkPolicies, AdminNetworkPolicies, BaselineAdminNetworkPolicy and
Ingresses. :func:`cluster_from_snapshots` turns them into the
:class:`~topomap.policy.loader.LoadedCluster` the engine reads, through the same validating
builder manifests go through, and says which pod is which engine workload:

* each pod is its own workload (kind ``Pod``, its own labels and named container ports), so a
  connection between two pods of the graph is evaluated between exactly those pods, whatever
  labels their siblings carry;
* the same object in several snapshots is taken from the latest one (by window end);
* :attr:`SnapshotPolicies.complete` is false when a snapshot recorded that a policy resource
  could not be read: then "no policy allows this" must not be read as "no policy exists".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from topomap import model
from topomap.manifests import Doc
from topomap.policy.loader import LoadedCluster, cluster_from_documents
from topomap.policy.objects import Workload

__all__ = ["POLICY_RESOURCES", "SnapshotPolicies", "cluster_from_snapshots"]

#: Resources whose absence from a snapshot makes its policy picture incomplete.
POLICY_RESOURCES = frozenset(
    {
        ("networking.k8s.io", "networkpolicies"),
        ("policy.networking.k8s.io", "adminnetworkpolicies"),
        ("policy.networking.k8s.io", "baselineadminnetworkpolicies"),
        ("networking.k8s.io", "ingresses"),
    }
)


@dataclass
class SnapshotPolicies:
    """The engine's cluster, which workload stands for which pod, and what could not be read."""

    cluster: LoadedCluster
    workload_of_pod: dict[str, Workload]
    """``"<namespace>/<pod>"`` -> the engine workload of that pod."""
    unreadable: tuple[model.UnreadableResource, ...]
    """Policy resources some snapshot could not read (see :attr:`complete`)."""

    @property
    def complete(self) -> bool:
        """Whether every policy resource was read: only then does "not allowed" mean denied."""
        return not self.unreadable


def _protocol(value: str) -> str:
    return value.upper()


def _pod_doc(pod: model.Pod) -> dict[str, Any]:
    containers = [
        {
            "name": c.name,
            "ports": [
                {
                    "containerPort": p.port,
                    "protocol": _protocol(p.protocol),
                    **({"name": p.name} if p.name else {}),
                }
                for p in c.ports
                if p.protocol in ("tcp", "udp", "sctp")
            ],
        }
        for c in pod.containers
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": dict(pod.labels)},
        "spec": {"containers": containers},
    }


def _service_doc(service: model.Service) -> dict[str, Any]:
    ports = []
    for p in service.ports:
        if p.protocol not in ("tcp", "udp", "sctp"):
            continue
        port: dict[str, Any] = {"port": p.port, "protocol": _protocol(p.protocol)}
        if p.name:
            port["name"] = p.name
        if p.target_port is not None:
            port["targetPort"] = p.target_port
        ports.append(port)
    spec: dict[str, Any] = {"ports": ports}
    if service.selector:
        spec["selector"] = dict(service.selector)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "namespace": service.namespace},
        "spec": spec,
    }


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name")))


def cluster_from_snapshots(snapshots: Iterable[model.Snapshot]) -> SnapshotPolicies:
    """Build the policy engine's cluster from what the snapshots recorded.

    Raises
    ------
    InputError
        A recorded policy object is invalid (named by its snapshot and field path).
    """
    ordered = sorted(snapshots, key=lambda s: (s.window.end, s.snapshot_id))
    latest: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
    unreadable: dict[tuple[str, str], model.UnreadableResource] = {}
    for snap in ordered:
        origin = f"snapshot {snap.snapshot_id} ({snap.observer})"
        for ns in snap.namespaces:
            doc = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns.name, "labels": dict(ns.labels)},
            }
            latest[_key(doc)] = (origin, doc)
        for pod in snap.pods:
            doc = _pod_doc(pod)
            latest[_key(doc)] = (origin, doc)
        for service in snap.services:
            doc = _service_doc(service)
            latest[_key(doc)] = (origin, doc)
        for obj in snap.policy_objects:
            latest[_key(obj)] = (origin, obj)
        if snap.cluster is not None:
            for entry in snap.cluster.unreadable:
                if (entry.group, entry.resource) in POLICY_RESOURCES:
                    unreadable[(entry.group, entry.resource)] = entry
    docs = [Doc(origin, 0, obj) for _, (origin, obj) in sorted(latest.items())]
    cluster = cluster_from_documents(docs)
    by_display = {w.display: w for w in cluster.workloads}
    workload_of_pod = {
        f"{ns}/{name}": by_display[f"{ns}/{name}[Pod]"]
        for kind, ns, name in latest
        if kind == "Pod" and f"{ns}/{name}[Pod]" in by_display
    }
    return SnapshotPolicies(
        cluster=cluster,
        workload_of_pod=workload_of_pod,
        unreadable=tuple(unreadable[k] for k in sorted(unreadable)),
    )

"""Node ids: one kind prefix per entity, stable across runs where the thing is the same.

``host:<name>``, ``namespace:<name>``, ``workload:<ns>/<Kind>/<name>``, ``service:<ns>/<name>``,
``pod:<ns>/<name>``, ``container:<id>``, ``process:<host>/<pid>@<start-ticks>``,
``external:<ip>``. The prefix before the first ``:`` is the node's ``kind``.
"""

from __future__ import annotations

from topomap.model import NodeId


def host(name: str) -> NodeId:
    return NodeId(f"host:{name}")


def namespace(name: str) -> NodeId:
    return NodeId(f"namespace:{name}")


def workload(ns: str, kind: str, name: str) -> NodeId:
    return NodeId(f"workload:{ns}/{kind}/{name}")


def service(ns: str, name: str) -> NodeId:
    return NodeId(f"service:{ns}/{name}")


def pod(ns: str, name: str) -> NodeId:
    return NodeId(f"pod:{ns}/{name}")


def container(container_id: str) -> NodeId:
    return NodeId(f"container:{container_id}")


def process(host_name: str, pid: int, start_ticks: int) -> NodeId:
    return NodeId(f"process:{host_name}/{pid}@{start_ticks}")


def external(canonical_ip: str) -> NodeId:
    return NodeId(f"external:{canonical_ip}")


def kind_of(node_id: str) -> str:
    """The kind prefix of a node id (``pod:shop/web`` -> ``pod``)."""
    return node_id.partition(":")[0]

"""Fold repeated observations of the same thing into one, so memory follows distinct things.

A collector running for ``--duration`` polls its source many times and sees the same process,
listener or connection again and again. :class:`Merger` keeps one record per identity:

* a connection by protocol, original and reply tuple, namespace, zone, owning process (and
  which end it holds) and observer: ``first_seen`` is the earliest and ``last_seen`` the
  latest sighting, counters keep their largest value (the kernel's counters only grow over
  one connection's life), and the state is the latest one seen;
* a process by ``(host, pid, start_ticks)``, a container by id, a listener by its address,
  port, namespace and process, a host by name (addresses are united), a DNS answer by name,
  addresses and time: the latest record wins.

Memory therefore grows with the number of distinct things seen, never with the number of polls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import Any

from topomap import model

Observation = (
    model.Host
    | model.Process
    | model.Container
    | model.Namespace
    | model.Pod
    | model.Workload
    | model.Service
    | model.Listener
    | model.Connection
    | model.DnsAnswer
    | model.ClusterInfo
    | dict[str, Any]  # a Kubernetes policy object, verbatim (model.Snapshot.policy_objects)
)


def _larger(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


def identity(item: Observation) -> Hashable:
    """What makes two observations the same thing (see the module docstring)."""
    if isinstance(item, model.Connection):
        return (
            "c",
            item.protocol,
            item.original,
            item.reply,
            item.netns,
            item.conntrack_zone,
            item.process,
            item.process_side,
            item.observed_by,
        )
    if isinstance(item, model.Process):
        return ("p", item.host, item.pid, item.start_ticks)
    if isinstance(item, model.Listener):
        return ("l", item.host, item.protocol, item.ip, item.port, item.netns, item.process)
    if isinstance(item, model.Container):
        return ("k", item.id)
    if isinstance(item, model.Host):
        return ("h", item.name)
    if isinstance(item, model.DnsAnswer):
        return ("d", item.name, item.addresses, item.time)
    if isinstance(item, model.Pod | model.Service | model.Workload):
        return (type(item).__name__, item.namespace, item.name)
    if isinstance(item, dict):  # a Kubernetes object: its kind, namespace and name
        metadata = item.get("metadata") or {}
        return ("o", item.get("kind"), metadata.get("namespace"), metadata.get("name"))
    if isinstance(item, model.ClusterInfo):
        return ("cluster",)
    return (type(item).__name__, item.name)


def combine(old: Observation, new: Observation) -> Observation:
    """The record that stands for both sightings of the same thing."""
    if isinstance(old, model.Connection) and isinstance(new, model.Connection):
        return dataclasses.replace(
            new,
            first_seen=min(old.first_seen, new.first_seen),
            last_seen=max(old.last_seen, new.last_seen),
            packets_orig=_larger(old.packets_orig, new.packets_orig),
            bytes_orig=_larger(old.bytes_orig, new.bytes_orig),
            packets_reply=_larger(old.packets_reply, new.packets_reply),
            bytes_reply=_larger(old.bytes_reply, new.bytes_reply),
            state=new.state or old.state,
            initiator=new.initiator if new.initiator != "unknown" else old.initiator,
        )
    if isinstance(old, model.Host) and isinstance(new, model.Host):
        return dataclasses.replace(new, ips=tuple(dict.fromkeys((*old.ips, *new.ips))))
    return new


class Merger:
    """One record per distinct thing, in first-seen order."""

    def __init__(self) -> None:
        self._items: dict[Hashable, Observation] = {}

    def add(self, item: Observation) -> None:
        key = identity(item)
        old = self._items.get(key)
        self._items[key] = item if old is None else combine(old, item)

    def extend(self, items: Iterable[Observation]) -> None:
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Observation]:
        return list(self._items.values())

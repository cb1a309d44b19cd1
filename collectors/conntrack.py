"""The conntrack collectors: the live table of a network namespace, and a saved dump.

``conntrack`` polls the kernel's connection-tracking table (netlink, else
``/proc/net/nf_conntrack``; see :mod:`collectors.conntrack_netlink`) of the collector's own
network namespace, a named one (``ip netns add``) or a pid's. With a duration it also
subscribes to NEW and DESTROY events between polls, so a connection that opened and closed
between two polls is still recorded (with its final counters when accounting is on). Repeated
sightings fold into one connection per tuple (:class:`collectors.merge.Merger`).

``conntrack-file`` imports saved ``conntrack -L`` or ``/proc/net/nf_conntrack`` text; malformed
lines are skipped, counted by reason and listed with their line numbers in the warnings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from collectors.base import CollectorContext
from collectors.conntrack_netlink import ConntrackEvents, netns_path, read_conntrack
from collectors.conntrack_text import ConntrackEntry, parse_conntrack_text, to_connection
from collectors.merge import Merger, Observation
from topomap.errors import CollectorUnavailable

VERSION = "1.0.0"


def _netns_id(path: str | None) -> str:
    """The namespace's inode number as text (the id procnet gives processes in it)."""
    return str(os.stat(path or "/proc/thread-self/ns/net").st_ino)


class ConntrackCollector:
    """The conntrack table of one network namespace, polled, plus events with a duration."""

    name: ClassVar[str] = "conntrack"
    version: ClassVar[str] = VERSION

    def __init__(self, netns: str | None = None, pid: int | None = None) -> None:
        self.netns, self.pid = netns, pid
        self.path = netns_path(netns, pid)

    def check(self) -> None:
        if self.path is not None and not os.path.exists(self.path):
            raise CollectorUnavailable(f"conntrack: no network namespace at {self.path}")

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        netns = _netns_id(self.path)
        merged = Merger()
        skipped: dict[str, int] = {}

        def add(entry: ConntrackEntry, first: datetime, last: datetime) -> None:
            merged.add(to_connection(entry, first_seen=first, last_seen=last, netns=netns))

        events: ConntrackEvents | None = None
        if ctx.duration > 0:
            try:
                events = ConntrackEvents(self.netns, self.pid)
                events.__enter__()  # closed in the finally below
            except CollectorUnavailable as exc:
                events = None
                ctx.warn(
                    f"no conntrack events ({exc}): connections that open and close "
                    "between two polls are missed"
                )

        def wait(seconds: float) -> None:
            if events is None:
                ctx.stop.wait(seconds)
                return
            end = time.monotonic() + seconds
            while not ctx.stop.is_set() and (left := end - time.monotonic()) > 0:
                events.drain(timeout=min(left, 0.25))

        def take_events() -> None:
            if events is not None:
                events.drain()
                for event in events.take():
                    add(event.entry, event.first_seen, event.last_seen)

        try:
            for when in ctx.polls(wait):
                read = read_conntrack(self.netns, self.pid)
                for entry in read.entries:
                    add(entry, when, when)
                for reason, count in read.skipped.items():  # the same lines each poll
                    skipped[reason] = max(skipped.get(reason, 0), count)
                for warning in read.warnings:
                    ctx.warn(warning)
                take_events()
            take_events()
        finally:
            if events is not None:
                for warning in events.warnings():
                    ctx.warn(warning)
                for reason, count in events.skipped.items():
                    ctx.skipped[f"event {reason}"] += count
                events.close()
        ctx.skipped.update(skipped)
        yield from merged.items()


class ConntrackFileCollector:
    """Connections from a saved ``conntrack -L`` or ``/proc/net/nf_conntrack`` dump."""

    name: ClassVar[str] = "conntrack-file"
    version: ClassVar[str] = VERSION

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def check(self) -> None:
        if not self.path.is_file():
            raise CollectorUnavailable(f"{self.path}: no such file")

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        text = self.path.read_text(errors="replace")
        table = parse_conntrack_text(text)
        when = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        for entry in table:
            yield to_connection(entry, first_seen=when, last_seen=when)
        ctx.skipped.update(table.skipped)
        for warning in table.warnings(str(self.path)):
            ctx.warn(warning)

"""The conntrack collectors: the live table of a network namespace, and a saved dump.

``conntrack`` polls the kernel's connection-tracking table (netlink, else
``/proc/net/nf_conntrack``; see :mod:`collectors.conntrack_netlink`) of the collector's own
network namespace, a named one (``ip netns add``) or a pid's. With a duration it also
subscribes to NEW and DESTROY events between polls, so a connection that opened and closed
between two polls is still recorded (with its final counters when accounting is on). Repeated
sightings fold into one connection per tuple (:class:`Sightings`, which folds them as
:class:`collectors.merge.Merger` would, without building a Connection per sighting).

``conntrack-file`` imports saved ``conntrack -L`` or ``/proc/net/nf_conntrack`` text; malformed
lines are skipped, counted by reason and listed with their line numbers in the warnings.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from collectors.base import CollectorContext
from collectors.conntrack_netlink import ConntrackEvents, netns_path, read_conntrack
from collectors.conntrack_text import ConntrackEntry, parse_conntrack_text, to_connection
from collectors.merge import Observation
from topomap import model
from topomap.errors import CollectorUnavailable

VERSION = "1.0.0"


class Sightings:
    """Conntrack sightings folded into one record per connection, built into Connections once.

    Gives exactly what :class:`collectors.merge.Merger` gives for the Connections of the same
    sightings (a test checks it: earliest ``first_seen``, latest ``last_seen``, the largest of
    each counter, the latest state that is not ``None``, the latest entry's other fields, in
    first-seen order), without building a ``Connection`` per sighting: a busy node's table is
    seen again in full at every poll, and building and merging frozen dataclasses costs about
    15 µs an entry, where this costs about 1 µs.
    """

    __slots__ = ("_rows", "_netns")

    def __init__(self, netns: str | None = None) -> None:
        self._netns = netns
        # (protocol, original, reply, zone) -> [entry, first, last, 4 counters, state]
        self._rows: dict[tuple[object, ...], list[Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, entry: ConntrackEntry, first: datetime, last: datetime) -> None:
        """One sighting of ``entry`` between ``first`` and ``last``."""
        key = (entry.protocol, entry.original, entry.reply, entry.zone or None)
        state = entry.state or ("UNREPLIED" if entry.unreplied else None)
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = [
                entry,
                first,
                last,
                entry.packets_orig,
                entry.bytes_orig,
                entry.packets_reply,
                entry.bytes_reply,
                state,
            ]
            return
        row[0] = entry
        if first < row[1]:
            row[1] = first
        if last > row[2]:
            row[2] = last
        for i, value in enumerate(entry[6:10], 3):  # packets/bytes, original then reply
            if value is not None and (row[i] is None or value > row[i]):
                row[i] = value
        if state is not None:
            row[7] = state

    def connections(self) -> Iterator[model.Connection]:
        """One Connection per connection seen, in first-seen order; the rows are consumed (each
        row's memory is freed as its Connection is made, so the two never both hold the whole
        table)."""
        rows: list[Any] = list(self._rows.values())
        self._rows.clear()
        for index, row in enumerate(rows):
            rows[index] = None
            entry, first, last, p_orig, b_orig, p_reply, b_reply, state = row
            connection = to_connection(entry, first_seen=first, last_seen=last, netns=self._netns)
            if (p_orig, b_orig, p_reply, b_reply, state) != (
                connection.packets_orig,
                connection.bytes_orig,
                connection.packets_reply,
                connection.bytes_reply,
                connection.state,
            ):  # an earlier sighting had larger counters, or the latest has no state
                connection = dataclasses.replace(
                    connection,
                    packets_orig=p_orig,
                    bytes_orig=b_orig,
                    packets_reply=p_reply,
                    bytes_reply=b_reply,
                    state=state,
                )
            yield connection


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
        seen = Sightings(_netns_id(self.path))
        add = seen.add
        skipped: dict[str, int] = {}

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
        yield from seen.connections()


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

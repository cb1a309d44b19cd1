"""run_collectors: every outcome recorded, nothing observed lost, one failure never fatal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

from collectors import base
from topomap import model
from topomap.errors import CollectorUnavailable

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class Hosts:
    name: ClassVar[str] = "hosts"
    version: ClassVar[str] = "0.1.0"

    def check(self) -> None:
        pass

    def collect(self, ctx: base.CollectorContext) -> Iterator[base.Observation]:
        yield model.Host(name=ctx.host, ips=("10.0.1.10",))
        ctx.skipped["process exited mid-scan"] += 2


class NeedsRoot:
    name: ClassVar[str] = "conntrack"
    version: ClassVar[str] = "0.1.0"

    def check(self) -> None:
        raise CollectorUnavailable("needs CAP_NET_ADMIN (run as root or grant the capability)")

    def collect(self, ctx: base.CollectorContext) -> Iterator[base.Observation]:
        raise AssertionError("never called")


class BreaksHalfway:
    name: ClassVar[str] = "procnet"
    version: ClassVar[str] = "0.1.0"

    def check(self) -> None:
        pass

    def collect(self, ctx: base.CollectorContext) -> Iterator[base.Observation]:
        yield model.Process(host=ctx.host, pid=1, start_ticks=1, comm="init")
        raise PermissionError("/proc/2/fd: permission denied")


def test_outcomes_are_recorded_and_nothing_observed_is_lost() -> None:
    got = base.run_collectors([Hosts(), NeedsRoot(), BreaksHalfway()], host="node-a", started=T0)
    runs = {r.name: r for r in got.runs}
    assert runs["hosts"].status == "partial"
    assert runs["hosts"].counts == {"hosts": 1}
    assert runs["hosts"].skipped == {"process exited mid-scan": 2}
    assert runs["conntrack"].status == "unavailable"
    assert "CAP_NET_ADMIN" in (runs["conntrack"].reason or "")
    assert runs["procnet"].status == "failed"
    assert runs["procnet"].reason == "PermissionError: /proc/2/fd: permission denied"
    assert runs["procnet"].counts == {"processes": 1}
    assert [p.pid for p in got.parts["processes"]] == [1]  # kept although the collector failed
    snap = got.snapshot(
        snapshot_id="s",
        source="host",
        observer="node-a",
        window=model.Window(start=T0, end=T0),
    )
    assert snap.hosts[0].name == "node-a" and len(snap.collectors) == 3

"""The one small interface every collector implements, and the loop that runs them safely.

A collector is an object with a ``name``, a ``version``, ``check()`` (raises
:class:`~topomap.errors.CollectorUnavailable` with the fix when it cannot run here: missing
privilege, module or kernel feature) and ``collect(ctx)`` (yields what it observed, as parts of
a Snapshot). :func:`run_collectors` runs any number of them and never lets one failure abort the
run: each collector's outcome becomes a :class:`topomap.model.CollectorRun` in the snapshot's
coverage, with the reason, so a partial result is always said to be partial.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from collectors.merge import Observation
from topomap import model
from topomap.errors import CollectorUnavailable

#: The parts of a snapshot a collector may contribute, by field name of :class:`model.Snapshot`.
PARTS = (
    "hosts",
    "processes",
    "containers",
    "namespaces",
    "pods",
    "workloads",
    "services",
    "listeners",
    "connections",
    "dns",
    "policy_objects",
)

_PART_OF: dict[type, str] = {
    model.Host: "hosts",
    model.Process: "processes",
    model.Container: "containers",
    model.Namespace: "namespaces",
    model.Pod: "pods",
    model.Workload: "workloads",
    model.Service: "services",
    model.Listener: "listeners",
    model.Connection: "connections",
    model.DnsAnswer: "dns",
    dict: "policy_objects",  # Kubernetes policy objects, verbatim (model.Snapshot.policy_objects)
}


@dataclass
class CollectorContext:
    """What a collector needs to know about the run, and where it reports its blind spots."""

    host: str
    """Name of the observing host (the snapshot's observer)."""
    started: datetime
    """Start of the collection window (UTC)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """What the collector saw but could not record, by reason (``ctx.skipped[why] += 1``)."""
    warnings: list[str] = field(default_factory=list)
    """Blind spots in words, e.g. ``netns 4026532999: permission denied``."""
    duration: float = 0.0
    """Seconds to keep observing; 0 is one shot."""
    interval: float = 5.0
    """Seconds between polls when ``duration`` is set."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to end a running collection early (Ctrl-C); polls stop at the next interval."""

    def polls(self, wait: Callable[[float], object] | None = None) -> Iterator[datetime]:
        """The times to poll at: once for a one-shot run; otherwise every ``interval`` until
        ``duration`` is over, the last poll at its end (so the window is covered).

        Between polls ``wait(seconds)`` runs (default: sleep, ending early on :attr:`stop`); a
        collector passes its own to do work meanwhile, e.g. read events. It may return early:
        the next poll still waits for its time.
        """
        yield datetime.now(UTC)
        if self.duration <= 0:
            return
        deadline = time.monotonic() + self.duration
        next_poll = time.monotonic() + self.interval
        pause = wait or self.stop.wait
        while not self.stop.is_set():
            due = min(next_poll, deadline)
            left = due - time.monotonic()
            if left > 0:
                pause(left)
                continue
            yield datetime.now(UTC)
            if due >= deadline:
                return
            next_poll += self.interval

    def warn(self, text: str, limit: int = 50) -> None:
        """Record a blind spot once; past ``limit`` warnings only a count is kept."""
        if text in self.warnings:
            return
        if len(self.warnings) < limit:
            self.warnings.append(text)
        else:
            self.skipped["warnings not shown"] += 1


class Collector(Protocol):
    """An observer of one source."""

    name: ClassVar[str]
    version: ClassVar[str]

    def check(self) -> None:
        """Raise :class:`CollectorUnavailable` (with how to fix it) when it cannot run here."""

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        """Yield what was observed; record skips and warnings in ``ctx``."""


@dataclass
class Collected:
    """Everything a set of collectors produced, ready to become a Snapshot."""

    parts: dict[str, list[Observation]] = field(default_factory=lambda: {p: [] for p in PARTS})
    runs: list[model.CollectorRun] = field(default_factory=list)
    cluster: model.ClusterInfo | None = None
    """The cluster's address ranges and unreadable resources (from the kubernetes collector)."""

    def add_cluster(self, info: model.ClusterInfo | None) -> None:
        """Merge ``info`` into :attr:`cluster` (ranges and unreadable resources are unioned)."""
        old = self.cluster
        if old is None or info is None:
            self.cluster = old or info
            return
        self.cluster = model.ClusterInfo(
            name=old.name or info.name,
            pod_cidrs=tuple(sorted({*old.pod_cidrs, *info.pod_cidrs})),
            service_cidrs=tuple(sorted({*old.service_cidrs, *info.service_cidrs})),
            node_cidrs=tuple(sorted({*old.node_cidrs, *info.node_cidrs})),
            unreadable=(*old.unreadable, *info.unreadable),
        )

    def snapshot(
        self, *, snapshot_id: str, source: model.SourceKind, observer: str, window: model.Window
    ) -> model.Snapshot:
        return model.Snapshot(
            snapshot_id=snapshot_id,
            source=source,
            observer=observer,
            window=window,
            collectors=tuple(self.runs),
            cluster=self.cluster,
            **{part: tuple(items) for part, items in self.parts.items()},  # type: ignore[arg-type]
        )


def _run_one(collector: Collector, ctx: CollectorContext, into: Collected) -> model.CollectorRun:
    counts: Counter[str] = Counter()
    try:
        collector.check()
        for item in collector.collect(ctx):
            if type(item) is model.ClusterInfo:
                into.add_cluster(item)
                continue
            part = _PART_OF[type(item)]
            into.parts[part].append(item)
            counts[part] += 1
    except CollectorUnavailable as exc:
        return model.CollectorRun(
            name=collector.name, version=collector.version, status="unavailable", reason=str(exc)
        )
    except Exception as exc:  # safecall: a broken collector is recorded as failed, never fatal
        return model.CollectorRun(
            name=collector.name,
            version=collector.version,
            status="failed",
            reason=f"{type(exc).__name__}: {exc}"[:256],
            counts=dict(counts),
            skipped=dict(ctx.skipped),
            warnings=tuple(ctx.warnings),
        )
    partial = bool(ctx.skipped or ctx.warnings)
    return model.CollectorRun(
        name=collector.name,
        version=collector.version,
        status="partial" if partial else "ok",
        counts=dict(sorted(counts.items())),
        skipped=dict(sorted(ctx.skipped.items())),
        warnings=tuple(ctx.warnings),
    )


def run_collectors(
    collectors: Sequence[Collector],
    *,
    host: str,
    started: datetime,
    duration: float = 0.0,
    interval: float = 5.0,
    stop: threading.Event | None = None,
) -> Collected:
    """Run the collectors, each in its own thread; one that cannot run or fails is recorded,
    never fatal.

    They run side by side so that, with a ``duration``, they all observe the same window. What a
    failing collector yielded before it failed is kept (and its run says ``failed``), so nothing
    already observed is lost and the gap is visible in the coverage. Runs and parts keep the
    order of ``collectors``.
    """
    stop = stop or threading.Event()
    contexts = [
        CollectorContext(
            host=host, started=started, duration=duration, interval=interval, stop=stop
        )
        for _ in collectors
    ]
    partial = [Collected() for _ in collectors]
    with ThreadPoolExecutor(max_workers=max(1, len(collectors))) as pool:
        runs = list(pool.map(_run_one, collectors, contexts, partial))
    collected = Collected()
    for run, part in zip(runs, partial, strict=True):
        collected.runs.append(run)
        collected.add_cluster(part.cluster)
        for name, items in part.parts.items():
            collected.parts[name].extend(items)
    return collected

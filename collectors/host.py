"""The host collectors: sockets and processes (``procnet``) and containers (``cgroup``).

Each is a :class:`collectors.base.Collector` over one :func:`collectors.proc_scan.scan_processes`
pass per poll:

* ``procnet`` yields the observing :class:`~topomap.model.Host` with its own addresses, every
  user-space process (with the container id its cgroup names), and the listening sockets and
  connections of every network namespace that has a process in it, each attributed to the
  process holding the socket.
* ``cgroup`` yields one :class:`~topomap.model.Container` per container id found in the
  processes' cgroup paths, with its runtime and pod uid.

With a duration both poll every interval and fold repeated sightings with
:class:`collectors.merge.Merger`, so a connection seen in ten polls is one connection with its
first and last sighting, and memory follows what was seen, not how often.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from collectors import host_identity, procnet
from collectors.base import CollectorContext
from collectors.merge import Merger, Observation
from collectors.proc_scan import (
    ProcScan,
    boot_time,
    read_socket_tables,
    scan_processes,
    socket_owners,
    start_time,
)
from topomap import model
from topomap.errors import CollectorUnavailable

VERSION = "1.0.0"


def _check_proc(proc: Path) -> None:
    if not (proc / "self" / "stat").exists():
        raise CollectorUnavailable(f"{proc} is not mounted or hidden; mount procfs to observe")


class _ScanNotes:
    """What the polls could not read: exits counted per poll, denials once per process.

    ``reads`` names the files a collector's output depends on (``("cgroup",)``); denials of
    other files are not its blind spots and are left out (procnet, which uses them all, keeps
    every one).
    """

    def __init__(self, reads: tuple[str, ...] | None = None) -> None:
        self.denied: set[tuple[int, str]] = set()
        self.reads = reads

    def note(self, ctx: CollectorContext, scan: ProcScan) -> None:
        ctx.skipped.update(scan.skipped)
        scan.skipped.clear()
        for _pid, what in scan.denied - self.denied:
            if self.reads is None or what.split(" ", 1)[0] in self.reads:
                ctx.skipped[what] += 1
        self.denied |= scan.denied


def netns_inode(name: str) -> str:
    """The inode (as text) of a network namespace given by ``ip netns`` name or path."""
    path = name if "/" in name else f"/run/netns/{name}"
    try:
        return str(os.stat(path).st_ino)
    except OSError as exc:
        raise CollectorUnavailable(
            f"no network namespace {name!r} ({path}: {exc.strerror})"
        ) from None


class ProcnetCollector:
    """Sockets of every network namespace, the processes that hold them, and the host."""

    name: ClassVar[str] = "procnet"
    version: ClassVar[str] = VERSION

    def __init__(self, proc: Path = Path("/proc"), netns: tuple[str, ...] = ()) -> None:
        self.proc = proc
        self.netns = netns
        """Only these network namespaces (``ip netns`` names or paths); empty means all."""

    def check(self) -> None:
        _check_proc(self.proc)
        for name in self.netns:
            netns_inode(name)

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        boot = boot_time(self.proc)
        merged, notes = Merger(), _ScanNotes()
        if os.geteuid() != 0:
            ctx.warn(
                "not root: other users' sockets are not attributed to processes "
                "(needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)"
            )
        for when in ctx.polls():
            merged.add(
                model.Host(
                    name=ctx.host,
                    ips=tuple(host_identity.local_addresses(self.proc)),
                    machine_id=host_identity.machine_id(),
                )
            )
            merged.extend(self._poll(ctx, notes, boot, when))
        yield from merged.items()

    def _poll(
        self, ctx: CollectorContext, notes: _ScanNotes, boot: datetime, when: datetime
    ) -> Iterator[Observation]:
        scan = scan_processes(self.proc)
        if self.netns:
            wanted = {netns_inode(name) for name in self.netns}
            scan.processes = [p for p in scan.processes if p.netns in wanted]
        owners = socket_owners(scan, self.proc)
        notes.note(ctx, scan)
        for info in scan.processes:
            yield model.Process(
                host=ctx.host,
                pid=info.pid,
                start_ticks=info.start_ticks,
                start_time=start_time(boot, info.start_ticks),
                ppid=info.ppid,
                comm=info.comm,
                exe=info.exe,
                cmdline=info.cmdline,
                uid=info.uid,
                container_id=info.cgroup.container_id if info.cgroup else None,
                netns=info.netns,
            )
        for tables in read_socket_tables(scan, self.proc):
            if isinstance(tables, tuple):
                ctx.warn(tables[1])
                ctx.skipped["netns unreadable"] += 1
                continue
            for reason, count in tables.skipped.items():
                ctx.skipped[f"socket line {reason}"] += count
            for line in tables.bad_lines:
                ctx.warn(line)
            listeners, connections = procnet.to_model(
                tables.rows, owners, host=ctx.host, netns=tables.netns, time=when
            )
            yield from listeners
            yield from connections


class CgroupCollector:
    """Containers (and their pods) named by the cgroup paths of the host's processes."""

    name: ClassVar[str] = "cgroup"
    version: ClassVar[str] = VERSION

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc

    def check(self) -> None:
        _check_proc(self.proc)

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        merged, notes = Merger(), _ScanNotes(reads=("cgroup",))
        for _ in ctx.polls():
            scan = scan_processes(self.proc)
            notes.note(ctx, scan)
            for info in scan.processes:
                ident = info.cgroup
                if ident is None or ident.container_id is None:
                    continue
                merged.add(
                    model.Container(
                        id=ident.container_id,
                        host=ctx.host,
                        runtime=ident.runtime or "unknown",
                        pod_uid=ident.pod_uid,
                    )
                )
        yield from merged.items()

"""One pass over ``/proc``: every process, its network namespace, cgroup and sockets.

This module owns the I/O the host collectors share: reading ``/proc/<pid>/{stat,status,exe,
cmdline,cgroup,ns/net,fd}`` for every process, and ``/proc/<pid>/net/*`` for one process per
network namespace. The parsing of the socket tables and cgroup paths lives in
:mod:`collectors.procnet` and :mod:`collectors.cgroup`; this module only reads and joins.

Decisions:

* A process is identified by ``(pid, start_ticks)``: field 22 of ``/proc/<pid>/stat``, the
  start time in clock ticks since boot, so a reused pid is a different process.
  ``start_time`` is boot time (``btime`` of ``/proc/stat``) plus those ticks.
* A process that exits while it is read (any ``ENOENT``/``ESRCH`` on its files) is skipped
  and counted as ``process exited mid-scan``; a file we may not read (``EACCES``, e.g. another
  user's ``exe`` without ``CAP_SYS_PTRACE``) leaves that detail empty and is counted under
  ``... permission denied``. Neither is ever an error.
* Kernel threads (children of ``kthreadd``, pid 2, and pid 2 itself) have no sockets, cgroup
  or command line worth recording and are left out, not counted.
* A socket inode held by several processes (a listener shared after ``fork``) belongs to the
  one with the lowest pid, usually the parent that opened it, so the choice is stable.
* Network namespaces are named by their inode number (``4026531840``), the same text for every
  process in the namespace; each is read once, through its lowest-pid member.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors import procnet
from collectors.cgroup import CgroupIdentity, parse_cgroup
from topomap import model

SKIP_EXITED = "process exited mid-scan"
_GONE = (errno.ENOENT, errno.ESRCH)
_TABLES: tuple[tuple[str, procnet.SocketProtocol, procnet.Family], ...] = (
    ("tcp", "tcp", 4),
    ("tcp6", "tcp", 6),
    ("udp", "udp", 4),
    ("udp6", "udp", 6),
)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class _Gone(Exception):
    """The process exited while it was being read."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcInfo:
    """What ``/proc/<pid>`` says about one process."""

    pid: int
    start_ticks: int
    ppid: int
    comm: str
    exe: str | None
    cmdline: tuple[str, ...]
    uid: int | None
    netns: str | None
    cgroup: CgroupIdentity | None

    @property
    def ref(self) -> model.ProcessRef:
        return model.ProcessRef(pid=self.pid, start_ticks=self.start_ticks)


@dataclass
class ProcScan:
    """The result of one pass; ``skipped`` counts what could not be read, by reason."""

    processes: list[ProcInfo] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    denied: set[tuple[int, str]] = field(default_factory=set)
    """``(pid, what)`` for each detail the scan was not permitted to read (so repeated polls
    count a process once)."""

    def namespaces(self) -> dict[str, int]:
        """netns -> the lowest pid in it (processes are scanned in pid order)."""
        first: dict[str, int] = {}
        for proc in self.processes:
            if proc.netns is not None:
                first.setdefault(proc.netns, proc.pid)
        return first


def boot_time(proc: Path = Path("/proc")) -> datetime:
    """When the machine booted (``btime`` in ``/proc/stat``), UTC."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return datetime.fromtimestamp(int(line.split()[1]), UTC)
    raise OSError(f"{proc / 'stat'}: no btime line")


def start_time(boot: datetime, start_ticks: int) -> datetime:
    """Wall-clock start of a process from its start ticks."""
    return boot + timedelta(seconds=start_ticks / _CLOCK_TICKS)


class _Reader:
    """Reads one process's files; what it may not read is noted in ``denied``."""

    def __init__(self, root: Path, pid: int, denied: set[tuple[int, str]]) -> None:
        self.root, self.pid, self.denied = root, pid, denied

    def _failed(self, exc: OSError, what: str) -> None:
        if exc.errno in _GONE:
            raise _Gone from None
        self.denied.add((self.pid, f"{what} {os.strerror(exc.errno or 0).lower()}"))

    def read(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except OSError as exc:
            self._failed(exc, name)
            return None

    def readlink(self, name: str) -> str | None:
        try:
            return os.readlink(self.root / name)
        except OSError as exc:
            self._failed(exc, name)
            return None


def _netns_name(link: str | None) -> str | None:
    """``net:[4026531840]`` -> ``4026531840``."""
    if link and link.startswith("net:[") and link.endswith("]"):
        return link[5:-1]
    return None


def read_process(root: Path, pid: int, denied: set[tuple[int, str]]) -> ProcInfo | None:
    """One process, or ``None`` for a kernel thread. Raises :class:`_Gone` if it exited."""
    reader = _Reader(root, pid, denied)
    stat = reader.read("stat")
    if stat is None:
        return None
    text = stat.decode(errors="replace")
    comm = text[text.index("(") + 1 : text.rindex(")")]
    rest = text[text.rindex(")") + 2 :].split()
    ppid, start_ticks = int(rest[1]), int(rest[19])
    if pid == 2 or ppid == 2:
        return None
    uid = None
    status = reader.read("status")
    for line in (status or b"").splitlines():
        if line.startswith(b"Uid:"):
            uid = int(line.split()[1])
            break
    cmdline_raw = reader.read("cmdline") or b""
    cmdline = tuple(part.decode(errors="replace") for part in cmdline_raw.split(b"\0")[:-1])
    cgroup_raw = reader.read("cgroup")
    return ProcInfo(
        pid=pid,
        start_ticks=start_ticks,
        ppid=ppid,
        comm=comm,
        exe=reader.readlink("exe"),
        cmdline=cmdline,
        uid=uid,
        netns=_netns_name(reader.readlink("ns/net")),
        cgroup=parse_cgroup(cgroup_raw.decode(errors="replace")) if cgroup_raw else None,
    )


def _pids(proc: Path) -> list[int]:
    return sorted(int(name) for name in os.listdir(proc) if name.isdigit())


def scan_processes(proc: Path = Path("/proc")) -> ProcScan:
    """Every user-space process, in pid order; those that exit mid-scan are counted."""
    scan = ProcScan()
    for pid in _pids(proc):
        try:
            info = read_process(proc / str(pid), pid, scan.denied)
        except (_Gone, ValueError, IndexError):
            # ValueError/IndexError: a stat line cut short because the process was exiting.
            scan.skipped[SKIP_EXITED] += 1
            continue
        if info is not None:
            scan.processes.append(info)
    return scan


def socket_owners(scan: ProcScan, proc: Path = Path("/proc")) -> dict[int, model.ProcessRef]:
    """Socket inode -> the lowest-pid process holding it, from ``/proc/<pid>/fd``."""
    owners: dict[int, model.ProcessRef] = {}
    parse = procnet.parse_socket_link
    for info in scan.processes:
        fd_dir = proc / str(info.pid) / "fd"
        try:
            names = os.listdir(fd_dir)
        except OSError as exc:
            if exc.errno in _GONE:
                scan.skipped[SKIP_EXITED] += 1
            else:
                scan.denied.add((info.pid, f"fd {os.strerror(exc.errno or 0).lower()}"))
            continue
        for name in names:
            try:
                inode = parse(os.readlink(fd_dir / name))
            except OSError:
                continue  # the fd was closed between listdir and readlink
            if inode is not None and inode not in owners:
                owners[inode] = info.ref
    return owners


@dataclass(frozen=True, kw_only=True, slots=True)
class NetnsTables:
    """The four socket tables of one network namespace, decoded."""

    netns: str
    rows: tuple[procnet.SocketRow, ...]
    skipped: dict[str, int]
    bad_lines: tuple[str, ...]


def read_socket_tables(
    scan: ProcScan, proc: Path = Path("/proc")
) -> Iterator[NetnsTables | tuple[str, str]]:
    """Socket rows of every namespace, or ``(netns, reason)`` when one could not be read."""
    for netns, pid in sorted(scan.namespaces().items()):
        rows: list[procnet.SocketRow] = []
        skipped: Counter[str] = Counter()
        bad: list[str] = []
        try:
            for file, protocol, family in _TABLES:
                path = proc / str(pid) / "net" / file
                try:
                    text = path.read_text()
                except FileNotFoundError:
                    if not (proc / str(pid)).exists():
                        raise
                    continue  # no IPv6 in this kernel or namespace
                table = procnet.parse_proc_net(text, protocol, family)
                rows.extend(table.rows)
                skipped.update(table.skipped)
                bad.extend(f"{path}:{line}: {why}" for line, why in table.bad_lines)
        except OSError as exc:
            yield netns, f"netns {netns}: cannot read sockets through pid {pid}: {exc.strerror}"
            continue
        yield NetnsTables(
            netns=netns, rows=tuple(rows), skipped=dict(skipped), bad_lines=tuple(bad)
        )

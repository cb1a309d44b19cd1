"""The conntrack table of any network namespace, read in-process over netlink, and its events.

This module owns the I/O of the conntrack collector: entering a network namespace on the calling
thread, the ``NETLINK_NETFILTER`` sockets (a dump of the table, a subscription to NEW and DESTROY
events), and the fallback to ``/proc/net/nf_conntrack``. What comes out is the same
:class:`~collectors.conntrack_text.ConntrackEntry` the text parsers give, so the collector does
not care which source answered. It does not build snapshot objects (``to_connection`` does).

* :func:`read_conntrack` is one poll: a netlink dump of the table, or, when netlink is refused
  and fallback is allowed, ``/proc/net/nf_conntrack`` through the text parser; the result says
  which source answered and why the other did not.
* :func:`dump_conntrack` is the netlink dump alone (both address families, one request). It is
  received on a second thread while the caller's thread decodes: the kernel produces each
  buffer inside ``recv`` without the GIL, so its part of a poll overlaps with decoding.
* :class:`ConntrackEvents` subscribes to NEW and DESTROY events, so a connection that opens and
  closes between two polls is still seen; it keeps one record per connection, bounded.
* :func:`netns_path` names a namespace: ``None`` (the caller's), ``/run/netns/NAME`` (made by
  ``ip netns add NAME``) or ``/proc/PID/ns/net``.

A netlink socket belongs to the namespace it was created in, so both the dump and the event
socket are created after ``setns(2)`` on the calling thread only (``/proc/thread-self/ns/net`` is
kept open and restored in a ``finally``, also when the socket cannot be made); other threads of
the process are not moved. ``setns`` is pyroute2's helper; the dump request and the constants
follow the kernel's ``nfnetlink_conntrack.h``; the messages are decoded by
:mod:`collectors.ctnetlink_decode` (why not by pyroute2: see there). Events use the same decoder:
pyroute2's parser at about 200 µs a message would cap the collector at about 5,000 events/s.

Privileges, as capabilities: the dump and the event subscription need ``CAP_NET_ADMIN`` in the
namespace's user namespace (nfnetlink refuses every conntrack message without it); entering
another namespace needs ``CAP_SYS_ADMIN``; the ``/proc`` fallback needs read access to
``nf_conntrack`` (mode 0440, root of the namespace), and for a pid's namespace reads
``/proc/PID/net/nf_conntrack`` without entering it. A missing privilege or kernel module becomes
:class:`topomap.errors.CollectorUnavailable` naming what is missing.
"""

from __future__ import annotations

import errno
import gc
import os
import queue
import select
import socket
import struct
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from collectors import ctnetlink_decode as decode
from collectors.conntrack_text import ConntrackEntry, ConntrackText, parse_conntrack_text
from topomap.errors import CollectorFailed, CollectorUnavailable

NETLINK_NETFILTER = 12
NFNLGRP_CONNTRACK_NEW = 1
NFNLGRP_CONNTRACK_DESTROY = 3
_SOL_NETLINK = 270
_NETLINK_ADD_MEMBERSHIP = 1
_RECV_SIZE = 1 << 16  # the kernel fills at most 32 KiB per dump read
_PROC_TABLE = "net/nf_conntrack"

_ERRNO = struct.Struct("=i")

Source = Literal["netlink", "proc"]


def netns_path(netns: str | None = None, pid: int | None = None) -> str | None:
    """Where a network namespace is: ``None`` for the caller's own.

    ``netns`` is a name made by ``ip netns add`` (``/run/netns/NAME``) or a path to a namespace
    file; ``pid`` is a process whose namespace is meant. Not both.

    >>> netns_path("lab1"), netns_path(pid=42), netns_path()
    ('/run/netns/lab1', '/proc/42/ns/net', None)
    """
    if netns is not None and pid is not None:
        raise ValueError("give a namespace name or a pid, not both")
    if pid is not None:
        return f"/proc/{pid}/ns/net"
    if netns is None:
        return None
    return netns if "/" in netns else f"/run/netns/{netns}"


def _setns(fd: int) -> None:
    from pyroute2 import netns as pyroute2_netns  # heavy import: only when a namespace is entered

    pyroute2_netns.setns(fd)


@contextmanager
def entered_netns(path: str | None) -> Iterator[None]:
    """Run the body with the calling thread in the network namespace at ``path``.

    The thread's own namespace is restored afterwards, also when the body raises; if even that
    fails the thread would be left elsewhere, so that is raised as a :class:`RuntimeError`.
    """
    if path is None:
        yield
        return
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CollectorUnavailable(f"conntrack: no network namespace at {path}") from None
    except PermissionError:
        raise CollectorUnavailable(f"conntrack: cannot open {path}: permission denied") from None
    try:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(target)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EACCES):
                    raise CollectorUnavailable(
                        f"conntrack: cannot enter the network namespace {path}: needs CAP_SYS_ADMIN"
                    ) from None
                if exc.errno == errno.EINVAL:
                    raise CollectorUnavailable(
                        f"conntrack: {path} is not a network namespace"
                    ) from None
                raise
            try:
                yield
            finally:
                try:
                    _setns(own)
                except OSError as exc:  # never leave the thread in the wrong namespace silently
                    raise RuntimeError(
                        f"cannot return to the original network namespace: {exc}"
                    ) from exc
        finally:
            os.close(own)
    finally:
        os.close(target)


def _where(path: str | None) -> str:
    return "this network namespace" if path is None else f"network namespace {path}"


def _netlink_socket(path: str | None, groups: int = 0) -> socket.socket:
    """A NETLINK_NETFILTER socket living in the namespace at ``path``, bound to ``groups``."""
    with entered_netns(path):
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        except OSError as exc:
            raise CollectorUnavailable(
                f"conntrack: no NETLINK_NETFILTER in {_where(path)} ({exc.strerror}): "
                "load the nfnetlink and nf_conntrack_netlink modules"
            ) from None
    try:
        sock.bind((0, groups))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EPERM:
            raise CollectorUnavailable(
                f"conntrack: cannot subscribe to conntrack events in {_where(path)}: "
                "needs CAP_NET_ADMIN"
            ) from None
        raise
    return sock


def _check_error(buf: Any, offset: int, path: str | None) -> None:
    """Raise for the error code in an NLMSG_ERROR (or NLMSG_DONE) message, if not 0."""
    code = -_ERRNO.unpack_from(buf, offset + 16)[0]
    if code <= 0:
        return
    if code == errno.EPERM:
        raise CollectorUnavailable(
            f"conntrack: the kernel refused the conntrack dump in {_where(path)}: "
            "needs CAP_NET_ADMIN in that network namespace"
        )
    if code in (errno.EINVAL, errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT):
        raise CollectorUnavailable(
            f"conntrack: connection tracking is not available in {_where(path)} "
            f"({os.strerror(code)}): load the nf_conntrack and nf_conntrack_netlink modules"
        )
    raise CollectorFailed(f"conntrack: netlink dump in {_where(path)} failed: {os.strerror(code)}")


@dataclass(frozen=True)
class ConntrackRead:
    """One read of a conntrack table, from whichever source answered."""

    source: Source
    """``netlink`` (a dump) or ``proc`` (``/proc/net/nf_conntrack``, the fallback)."""
    netns: str | None
    """The namespace read (see :func:`netns_path`); ``None`` for the caller's own."""
    entries: Collection[ConntrackEntry]
    """The entries: a list from netlink; from /proc a :class:`ConntrackText` (built as iterated)."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Entries seen but not kept, counted by reason (``unsupported protocol`` for GRE, ...)."""
    warnings: tuple[str, ...] = ()
    """Blind spots in words: why netlink was not used, which /proc lines were skipped."""


def dump_conntrack(netns: str | None = None, pid: int | None = None) -> ConntrackRead:
    """The whole conntrack table (IPv4 and IPv6) of a namespace, dumped over netlink.

    Raises :class:`CollectorUnavailable` when the namespace cannot be entered (``CAP_SYS_ADMIN``),
    the kernel refuses the dump (``CAP_NET_ADMIN``) or conntrack is not loaded.
    """
    path = netns_path(netns, pid)
    sock = _netlink_socket(path)
    try:
        with _paused_gc():
            entries, skipped = _dump(sock, path)
    finally:
        sock.close()
    return ConntrackRead(source="netlink", netns=path, entries=entries, skipped=skipped)


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a dump builds its (acyclic) entries.

    A 262,144-entry table is about 800,000 new tuples; with the collector on, its repeated
    passes over them took about a quarter of the decoding time (as in topomap.gcpause, which
    collectors may not import). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: How often a dump's receiving thread looks up from a ``recv`` that gets nothing (seconds):
#: only when the end of the dump was not where it is expected (see :func:`_receive`).
_RECEIVER_WAKEUP = 0.2


def _ends_dump(buf: bytearray, size: int, seq: int) -> bool:
    """Whether a buffer of dump ``seq`` is its last: ends with ``NLMSG_DONE``, or is an error.

    The kernel puts ``NLMSG_DONE`` (a 20-byte message) last in the final buffer of a dump, and
    answers a refused dump with a buffer holding one ``NLMSG_ERROR``. This only decides when the
    receiving thread stops reading; the decoder still finds the end itself.
    """
    if size >= 16 and decode.NLMSG_HDR.unpack_from(buf, 0)[1] == decode.NLMSG_ERROR:
        return True
    if size < 20:
        return False
    length, msg_type, _flags, msg_seq, _port = decode.NLMSG_HDR.unpack_from(buf, size - 20)
    return bool(length == 20 and msg_type == decode.NLMSG_DONE and msg_seq == seq)


_Received = tuple[bytearray, int] | BaseException | None


def _receive(
    sock: socket.socket, seq: int, out: queue.SimpleQueue[_Received], stop: threading.Event
) -> None:
    """The receiving half of a dump, run on its own thread while the caller decodes.

    The kernel fills the next buffer of a dump inside ``recv`` (``netlink_recvmsg`` calls
    ``netlink_dump``), which runs without the GIL; on its own thread that work (about a third
    of a poll) overlaps with decoding the buffer before. Puts ``(buffer, size)`` pairs on
    ``out``, then ``None`` after the buffer that ends the dump, or the exception that ended
    reading (so the caller never waits for a thread that is gone); an empty read (the socket
    shut down) ends it too. Stops early when ``stop`` is set (the caller has what it needs, or
    failed).
    """
    try:
        while not stop.is_set():
            buf = bytearray(_RECV_SIZE)
            try:
                size = sock.recv_into(buf)
            except TimeoutError:
                continue
            out.put((buf, size))
            if size == 0 or _ends_dump(buf, size, seq):
                break
    except BaseException as exc:  # whatever ends this thread must reach the waiting caller
        out.put(exc)
        return
    out.put(None)


def _dump(sock: socket.socket, path: str | None) -> tuple[list[ConntrackEntry], dict[str, int]]:
    """Request a dump on ``sock`` and decode it, receiving on a second thread (see _receive)."""
    seq = 1
    sock.send(decode.dump_request(seq))
    decoder = decode.Decoder()
    addresses: dict[bytes, str] = {}
    entries: list[ConntrackEntry] = []
    skipped: dict[str, int] = {}

    def done(buf: bytearray, size: int) -> bool:
        if size == 0:
            raise CollectorFailed(
                f"conntrack: netlink dump in {_where(path)} ended without NLMSG_DONE "
                f"after {len(entries)} entries"
            )
        try:
            offset = decoder.decode_all(buf, size, seq, addresses, entries, skipped)
        except decode.Malformed as exc:
            raise CollectorFailed(f"conntrack: netlink dump in {_where(path)}: {exc}") from None
        if offset < 0:
            return False
        length, msg_type = decode.NLMSG_HDR.unpack_from(buf, offset)[:2]
        if length >= 20:
            _check_error(buf, offset, path)  # an NLMSG_ERROR, or a DONE carrying an error
        if msg_type == decode.NLMSG_DONE:
            return True
        raise CollectorFailed(f"conntrack: netlink dump in {_where(path)}: unexpected ack")

    sock.settimeout(_RECEIVER_WAKEUP)
    received: queue.SimpleQueue[_Received] = queue.SimpleQueue()
    stop = threading.Event()
    receiver = threading.Thread(
        target=_receive, args=(sock, seq, received, stop), name="conntrack-dump", daemon=True
    )
    receiver.start()
    try:
        while (item := received.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            if done(*item):
                return entries, skipped
    finally:
        stop.set()
        receiver.join()
    # The receiver took a buffer for the last one that was not: read the rest here.
    sock.settimeout(None)
    buf = bytearray(_RECV_SIZE)
    while not done(buf, sock.recv_into(buf)):
        pass
    return entries, skipped


def read_proc_conntrack(netns: str | None = None, pid: int | None = None) -> ConntrackText:
    """``/proc/net/nf_conntrack`` of a namespace, parsed (see :func:`parse_conntrack_text`).

    For a pid the file is read through ``/proc/PID/net`` without entering the namespace.
    """
    path = netns_path(netns, pid)
    if pid is not None:
        name = f"/proc/{pid}/{_PROC_TABLE}"
        text = _read_text(name, path)
    else:
        name = f"/proc/thread-self/{_PROC_TABLE}"
        with entered_netns(path):
            text = _read_text(name, path)
    return parse_conntrack_text(text)


def _read_text(name: str, path: str | None) -> str:
    try:
        with open(name, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CollectorUnavailable(
            f"conntrack: no {name} in {_where(path)}: nf_conntrack is not loaded (or its "
            "/proc interface is not built in)"
        ) from None
    except PermissionError:
        raise CollectorUnavailable(f"conntrack: cannot read {name}: permission denied") from None


def read_conntrack(
    netns: str | None = None, pid: int | None = None, *, fallback: bool = True
) -> ConntrackRead:
    """One poll of a namespace's conntrack table: netlink, else ``/proc/net/nf_conntrack``.

    The fallback is tried when netlink is unavailable for any reason (no ``CAP_NET_ADMIN``, no
    ``nf_conntrack_netlink``); the result's warnings say why netlink was not used. When both
    fail, the :class:`CollectorUnavailable` names both reasons.
    """
    try:
        return dump_conntrack(netns, pid)
    except CollectorUnavailable as exc:
        if not fallback:
            raise
        netlink_error = exc
    try:
        table = read_proc_conntrack(netns, pid)
    except CollectorUnavailable as proc_error:
        raise CollectorUnavailable(f"{netlink_error}; fallback: {proc_error}") from None
    path = netns_path(netns, pid)
    source = f"/proc/{pid}/{_PROC_TABLE}" if pid is not None else f"/proc/{_PROC_TABLE}"
    warnings = (f"netlink not used ({netlink_error}); read {source} instead",)
    return ConntrackRead(
        source="proc",
        netns=path,
        entries=table,
        skipped=dict(table.skipped),
        warnings=warnings + tuple(table.warnings(source)),
    )


class ConntrackEvent(NamedTuple):
    """What the events said about one connection since the last :meth:`ConntrackEvents.take`."""

    entry: ConntrackEntry
    """The latest message: a DESTROY carries the final counters (when accounting is on)."""
    first_seen: datetime
    """When the first event for it was read (UTC)."""
    last_seen: datetime
    """When the latest event for it was read (UTC)."""
    opened: bool
    """A NEW event was seen (the connection started while subscribed)."""
    closed: bool
    """A DESTROY event was seen (the entry left the table)."""


def _key(entry: ConntrackEntry) -> tuple[Any, ...]:
    return (entry.family, entry.protocol, entry.original, entry.zone)


class ConntrackEvents:
    """NEW and DESTROY events of one namespace's conntrack table, kept one record per connection.

    Use as a context manager (the socket is made on entry, in the namespace)::

        with ConntrackEvents(netns="lab1") as events:
            ...
            events.drain(timeout=1.0)   # read what the kernel queued
            for record in events.take():
                ...

    Memory is bounded: at most ``max_records`` connections are held between two :meth:`take`
    calls; events for further connections are counted in :attr:`dropped`, never stored. When
    the process reads too slowly the kernel drops events itself (the socket buffer,
    ``rcvbuf`` bytes, overflows); each overflow is counted in :attr:`overflows`.
    """

    def __init__(
        self,
        netns: str | None = None,
        pid: int | None = None,
        *,
        max_records: int = 65536,
        rcvbuf: int = 8 << 20,
    ) -> None:
        self.path = netns_path(netns, pid)
        self.max_records = max_records
        self.rcvbuf = rcvbuf
        self.dropped = 0
        """Events not recorded because ``max_records`` connections were already held."""
        self.overflows = 0
        """Times the kernel reported lost events (``ENOBUFS``: the socket buffer was full)."""
        self.skipped: Counter[str] = Counter()
        """Event messages not decoded, by reason (``unsupported protocol``, ...)."""
        self._sock: socket.socket | None = None
        self._records: dict[tuple[Any, ...], ConntrackEvent] = {}
        self._decoder = decode.Decoder()
        self._buf = bytearray(_RECV_SIZE)

    def __enter__(self) -> ConntrackEvents:
        groups = (1 << (NFNLGRP_CONNTRACK_NEW - 1)) | (1 << (NFNLGRP_CONNTRACK_DESTROY - 1))
        sock = _netlink_socket(self.path, groups)
        try:
            sock.setsockopt(socket.SOL_SOCKET, 33, self.rcvbuf)  # SO_RCVBUFFORCE
        except OSError:  # without CAP_NET_ADMIN in the initial namespace: capped by rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.setblocking(False)
        self._sock = sock
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Unsubscribe (close the socket); records not yet taken stay available."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def fileno(self) -> int:
        """The socket's descriptor, for ``select``/``poll`` in a caller's loop."""
        if self._sock is None:
            raise ValueError("ConntrackEvents is not open")
        return self._sock.fileno()

    def __len__(self) -> int:
        return len(self._records)

    def drain(self, timeout: float = 0.0) -> int:
        """Read every queued event, waiting up to ``timeout`` s for the first; the number read."""
        sock = self._sock
        if sock is None:
            raise ValueError("ConntrackEvents is not open")
        if timeout > 0:
            select.select([sock], [], [], timeout)
        count = 0
        buf = self._buf
        addresses: dict[bytes, str] = {}
        while True:
            try:
                n = sock.recv_into(buf)
            except BlockingIOError:
                return count
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overflows += 1
                    continue
                raise
            now = datetime.now(UTC)
            count += self._handle(buf, n, now, addresses)

    def _handle(self, buf: bytearray, n: int, now: datetime, addresses: dict[bytes, str]) -> int:
        count = 0
        offset = 0
        records = self._records
        while offset + 16 <= n:
            length, msg_type, _flags, _seq, _port = decode.NLMSG_HDR.unpack_from(buf, offset)
            if length < 16 or offset + length > n:
                break
            kind = msg_type & 0xFF
            if msg_type >> 8 == decode.NFNL_SUBSYS_CTNETLINK and kind in (
                decode.IPCTNL_MSG_CT_NEW,
                decode.IPCTNL_MSG_CT_DELETE,
            ):
                count += 1
                entry = self._decoder.decode(buf, offset, length, addresses)
                if type(entry) is not ConntrackEntry:
                    self.skipped[entry] += 1
                else:
                    opened = kind == decode.IPCTNL_MSG_CT_NEW
                    key = _key(entry)
                    old = records.get(key)
                    if old is not None:
                        records[key] = ConntrackEvent(
                            entry, old.first_seen, now, old.opened or opened, not opened
                        )
                    elif len(records) < self.max_records:
                        records[key] = ConntrackEvent(entry, now, now, opened, not opened)
                    else:
                        self.dropped += 1
            offset += (length + 3) & ~3
        return count

    def take(self) -> list[ConntrackEvent]:
        """The records gathered since the last call, oldest first; the store is emptied."""
        records = list(self._records.values())
        self._records = {}
        return records

    def warnings(self) -> list[str]:
        """Blind spots of the event stream, in words (for the collector's coverage)."""
        out = []
        if self.overflows:
            out.append(
                f"conntrack events: the kernel dropped events {self.overflows} time(s) "
                "(socket buffer full): short-lived connections may be missing"
            )
        if self.dropped:
            out.append(
                f"conntrack events: {self.dropped} event(s) not recorded: more than "
                f"{self.max_records} connections between two polls"
            )
        return out

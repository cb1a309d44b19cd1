"""The kernel's socket tables, ``/proc/net/{tcp,tcp6,udp,udp6}``, parsed into typed rows.

This module owns the pure parsers for those tables (and for the same files under
``/proc/<pid>/net/``, which show another network namespace), the split of their rows into
listeners and connections, the decoding of ``/proc/<pid>/fd/N`` link targets, and the conversion
of rows into :class:`topomap.model.Listener` and :class:`topomap.model.Connection`. It does no
I/O: a host collector reads the files and the fd links and hands the text over.

What the parser understands:

* Addresses as the kernel prints them: IPv4 as one 32-bit word in host (little-endian) byte
  order (``0100007F`` is ``127.0.0.1``), IPv6 as four such words (``...0000000001000000`` is
  ``::1``). They are written back as canonical text (``socket.inet_ntop``); an IPv4-mapped IPv6
  address stays ``::ffff:a.b.c.d`` (:mod:`topomap.zones` folds it later).
* Ports as four hex digits in network order, as printed (``0016`` is 22).
* State codes, named as the kernel names them: TCP ``01`` ESTABLISHED ... ``0A`` LISTEN ...
  ``0C`` NEW_SYN_RECV. UDP only uses two: ``07`` is ``UNCONN`` (bound, not connected; the name
  ``ss`` prints) and ``01`` is ``ESTABLISHED`` (``connect()``-ed).
* The header line (``sl local_address ...``) and blank lines are skipped silently; trailing
  whitespace and the extra columns the kernel appends after the inode are ignored.

Decisions:

* A malformed line never raises: it is skipped and counted under a reason in
  :attr:`ProcNetTable.skipped` (``"too few fields"``, ``"bad address"``, ``"bad port"``,
  ``"unknown state"``, ...), ready for :attr:`topomap.model.CollectorRun.skipped`.
* A listener is a TCP socket in LISTEN, or a UDP socket with no peer (remote ``0.0.0.0:0`` /
  ``[::]:0``). Every other row with a peer is a connection. A row that is neither (a TCP socket
  with no peer that is not listening, e.g. bound but never connected) is dropped by
  :func:`classify`: it carries no traffic and no service.
* TIME_WAIT and NEW_SYN_RECV rows have inode 0 (the owning socket is gone, or not yet created):
  they are kept as connections without an owning process, since the connection did happen.
  Inode 0 is never looked up in the inode->process mapping.
* Direction: see :func:`to_model`. ``reply`` is always ``None``: a socket sees only its own side
  of any NAT, so it cannot tell what conntrack would write as the reply tuple.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from topomap.model import Connection, FlowTuple, Listener, ProcessRef

Family = Literal[4, 6]
SocketProtocol = Literal["tcp", "udp"]

#: Name of this collector, written as ``Connection.observed_by``.
OBSERVED_BY = "procnet"

TCP_STATES: dict[int, str] = {
    0x01: "ESTABLISHED",
    0x02: "SYN_SENT",
    0x03: "SYN_RECV",
    0x04: "FIN_WAIT1",
    0x05: "FIN_WAIT2",
    0x06: "TIME_WAIT",
    0x07: "CLOSE",
    0x08: "CLOSE_WAIT",
    0x09: "LAST_ACK",
    0x0A: "LISTEN",
    0x0B: "CLOSING",
    0x0C: "NEW_SYN_RECV",
}
UDP_STATES: dict[int, str] = {0x01: "ESTABLISHED", 0x07: "UNCONN"}
_STATES: dict[SocketProtocol, dict[int, str]] = {"tcp": TCP_STATES, "udp": UDP_STATES}
_HEX = frozenset("0123456789abcdefABCDEF")
_ADDRESS_DIGITS: dict[Family, int] = {4: 8, 6: 32}
_UNSPECIFIED = frozenset({"0.0.0.0", "::"})
_SOCKET_LINK = re.compile(r"socket:\[([0-9]+)\]")
#: Columns up to and including the inode: sl, local, remote, st, tx:rx, tr:tm, retrnsmt, uid,
#: timeout, inode.
_MIN_FIELDS = 10
#: How many skipped lines are reported with their line numbers (the rest are only counted).
MAX_BAD_LINES = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class SocketRow:
    """One line of a ``/proc/net`` socket table, decoded."""

    protocol: SocketProtocol
    """``tcp`` or ``udp``."""
    family: Family
    """4 for ``tcp``/``udp``, 6 for ``tcp6``/``udp6`` (which also hold IPv4-mapped sockets)."""
    local_ip: str
    """Local address in canonical text; ``0.0.0.0`` or ``::`` for a wildcard bind."""
    local_port: int
    """Local port."""
    remote_ip: str
    """Peer address in canonical text; unspecified when there is no peer."""
    remote_port: int
    """Peer port; 0 when there is no peer."""
    state: str
    """State name (``LISTEN``, ``ESTABLISHED``, ``TIME_WAIT``, ``UNCONN``, ...)."""
    uid: int
    """Owning user id."""
    inode: int
    """Socket inode; 0 for TIME_WAIT and NEW_SYN_RECV rows, which no fd points at."""

    @property
    def has_peer(self) -> bool:
        """Whether the socket has a remote end (anything but ``0.0.0.0:0`` / ``[::]:0``)."""
        return not (self.remote_port == 0 and self.remote_ip in _UNSPECIFIED)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcNetTable:
    """The decoded rows of one table, and what could not be decoded."""

    rows: tuple[SocketRow, ...] = ()
    """Rows in file order."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Malformed lines skipped, counted by reason."""
    bad_lines: tuple[tuple[int, str], ...] = ()
    """``(line number, reason)`` of the first :data:`MAX_BAD_LINES` skipped lines (1-based)."""


class _Malformed(Exception):
    """A line that cannot be decoded; the message is the reason it is counted under."""


def decode_address(text: str, family: Family) -> str:
    """An address as ``/proc/net`` prints it (host-order 32-bit words), as canonical text.

    >>> decode_address("0100007F", 4), decode_address("00000000000000000000000001000000", 6)
    ('127.0.0.1', '::1')

    Raises :class:`ValueError` on anything but the right number of hex digits for the family.
    """
    if len(text) != _ADDRESS_DIGITS[family] or not _HEX.issuperset(text):
        raise ValueError(f"not an IPv{family} address as /proc/net prints it: {text!r}")
    raw = bytes.fromhex(text)
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if family == 4 else socket.AF_INET6, packed)


def _endpoint(text: str, family: Family) -> tuple[str, int]:
    address, sep, port = text.partition(":")
    if not sep:
        raise _Malformed("bad address")
    try:
        ip = decode_address(address, family)
    except ValueError:
        raise _Malformed("bad address") from None
    if len(port) != 4 or not _HEX.issuperset(port):
        raise _Malformed("bad port")
    return ip, int(port, 16)


def _decimal(text: str, reason: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise _Malformed(reason)
    return int(text)


def _parse_line(fields: list[str], protocol: SocketProtocol, family: Family) -> SocketRow:
    if len(fields) < _MIN_FIELDS:
        raise _Malformed("too few fields")
    slot = fields[0]
    if not slot.endswith(":") or not slot[:-1].isascii() or not slot[:-1].isdigit():
        raise _Malformed("bad slot number")
    local_ip, local_port = _endpoint(fields[1], family)
    remote_ip, remote_port = _endpoint(fields[2], family)
    code = fields[3]
    if len(code) != 2 or not _HEX.issuperset(code):
        raise _Malformed("bad state")
    state = _STATES[protocol].get(int(code, 16))
    if state is None:
        raise _Malformed("unknown state")
    return SocketRow(
        protocol=protocol,
        family=family,
        local_ip=local_ip,
        local_port=local_port,
        remote_ip=remote_ip,
        remote_port=remote_port,
        state=state,
        uid=_decimal(fields[7], "bad uid"),
        inode=_decimal(fields[9], "bad inode"),
    )


def parse_proc_net(text: str, protocol: SocketProtocol, family: Family) -> ProcNetTable:
    """The rows of ``/proc/net/{tcp,tcp6,udp,udp6}`` (or ``/proc/<pid>/net/...``).

    ``protocol`` and ``family`` name the file: ``("tcp", 6)`` is ``tcp6``. Never raises on a bad
    line; it is counted in :attr:`ProcNetTable.skipped`.

    >>> table = parse_proc_net(
    ...     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    ...     "   uid  timeout inode\\n"
    ...     "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
    ...     "     0        0 12345 1 0000000000000000 100 0 0 10 0\\n",
    ...     "tcp",
    ...     4,
    ... )
    >>> row = table.rows[0]
    >>> row.local_ip, row.local_port, row.state, row.inode, table.skipped
    ('127.0.0.1', 22, 'LISTEN', 12345, {})
    """
    rows: list[SocketRow] = []
    skipped: Counter[str] = Counter()
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        try:
            rows.append(_parse_line(fields, protocol, family))
        except _Malformed as e:
            skipped[str(e)] += 1
            if len(bad) < MAX_BAD_LINES:
                bad.append((number, str(e)))
    return ProcNetTable(rows=tuple(rows), skipped=dict(skipped), bad_lines=tuple(bad))


def is_listener(row: SocketRow) -> bool:
    """TCP in LISTEN, or UDP with no peer (bound, whether or not to a wildcard address)."""
    if row.protocol == "tcp":
        return row.state == "LISTEN"
    return not row.has_peer


def classify(
    rows: Iterable[SocketRow],
) -> tuple[tuple[SocketRow, ...], tuple[SocketRow, ...]]:
    """Split rows into ``(listeners, connections)``, keeping their order.

    Listeners: see :func:`is_listener`. Connections: every other row with a peer, TIME_WAIT and
    NEW_SYN_RECV included (inode 0, so no owning process). Rows that are neither (a TCP socket
    with no peer outside LISTEN) are dropped. Needs no process information.
    """
    listeners: list[SocketRow] = []
    connections: list[SocketRow] = []
    for row in rows:
        if is_listener(row):
            listeners.append(row)
        elif row.has_peer:
            connections.append(row)
    return tuple(listeners), tuple(connections)


def parse_socket_link(target: str) -> int | None:
    """The socket inode in a ``/proc/<pid>/fd/N`` link target; ``None`` for anything else.

    >>> parse_socket_link("socket:[12345]"), parse_socket_link("pipe:[12345]")
    (12345, None)
    """
    match = _SOCKET_LINK.fullmatch(target)
    return int(match.group(1)) if match else None


def _is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1" or ip.startswith("::ffff:127.")


class _Listening:
    """The listening endpoints of one netns, to tell which end of a connection is the server."""

    def __init__(self, listeners: Iterable[SocketRow]) -> None:
        self._ips: dict[tuple[str, int], set[str]] = {}
        for row in listeners:
            self._ips.setdefault((row.protocol, row.local_port), set()).add(row.local_ip)

    def local(self, protocol: str, ip: str, port: int) -> bool:
        """Whether a socket bound to ``ip:port`` here was accepted by (shares) a listener."""
        ips = self._ips.get((protocol, port), set())
        return ip in ips or not ips.isdisjoint(_UNSPECIFIED)

    def remote(self, protocol: str, ip: str, port: int) -> bool:
        """Whether the peer ``ip:port`` is one of this netns's listeners (only provable when
        the listener is bound to exactly that address, or the peer is loopback)."""
        ips = self._ips.get((protocol, port), set())
        return ip in ips or (_is_loopback(ip) and not ips.isdisjoint(_UNSPECIFIED))


def _connection(
    row: SocketRow,
    listening: _Listening,
    process: ProcessRef | None,
    netns: str | None,
    time: datetime,
) -> Connection:
    local = (row.local_ip, row.local_port)
    remote = (row.remote_ip, row.remote_port)
    if listening.local(row.protocol, *local):
        (src, sport), (dst, dport) = remote, local
        initiator: Literal["src", "unknown"] = "src"
        side: Literal["src", "dst"] = "dst"
    else:
        (src, sport), (dst, dport) = local, remote
        initiator = "src" if listening.remote(row.protocol, *remote) else "unknown"
        side = "src"
    return Connection(
        protocol=row.protocol,
        original=FlowTuple(src=src, dst=dst, sport=sport, dport=dport),
        initiator=initiator,
        state=row.state,
        first_seen=time,
        last_seen=time,
        observed_by=OBSERVED_BY,
        process=process,
        process_side=side,
        netns=netns,
    )


def to_model(
    rows: Iterable[SocketRow],
    processes: Mapping[int, ProcessRef],
    *,
    host: str,
    netns: str | None,
    time: datetime,
) -> tuple[tuple[Listener, ...], tuple[Connection, ...]]:
    """Model listeners and connections for the rows of ONE network namespace.

    Pass all four tables of the namespace together: a connection's direction is decided from
    the listeners among ``rows``. ``processes`` maps socket inode -> owning process (built from
    ``/proc/<pid>/fd`` with :func:`parse_socket_link`); a missing inode, and inode 0, give
    ``process=None``. Every connection has ``first_seen == last_seen == time``.

    ``Connection.original`` is the tuple of the first packet, so direction matters:

    * Local side is a server (a listener of the same protocol has the local port, bound to the
      local address or a wildcard): ``original`` = remote -> local, ``initiator="src"`` (the
      peer opened it), ``process_side="dst"``.
    * Otherwise, peer is a listener of this namespace (bound to exactly the peer's address, or
      a wildcard listener and a loopback peer): the local side is the client, ``original`` =
      local -> remote, ``initiator="src"``, ``process_side="src"``.
    * Neither: ``original`` = local -> remote, ``initiator="unknown"`` (most likely the client,
      but the listener may have closed since), ``process_side="src"``.
    """
    listener_rows, connection_rows = classify(rows)
    listening = _Listening(listener_rows)

    def owner(inode: int) -> ProcessRef | None:
        return processes.get(inode) if inode != 0 else None

    listeners = tuple(
        Listener(
            host=host,
            protocol=row.protocol,
            ip=row.local_ip,
            port=row.local_port,
            process=owner(row.inode),
            netns=netns,
        )
        for row in listener_rows
    )
    connections = tuple(
        _connection(row, listening, owner(row.inode), netns, time) for row in connection_rows
    )
    return listeners, connections

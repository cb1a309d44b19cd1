"""The kernel's connection-tracking table, read from its two text forms.

This module owns the pure parsers for the text the conntrack table is dumped as, their result
type :class:`ConntrackEntry`, and :func:`to_connection`, which turns an entry into a
:class:`topomap.model.Connection`. It does no I/O: a host collector reads ``/proc/net/nf_conntrack``
or runs ``conntrack -L`` and hands the text over.

What the parsers understand:

* ``/proc/net/nf_conntrack`` lines: ``ipv4     2 tcp      6 431999 ESTABLISHED src=... dst=...
  sport=... dport=... [packets=... bytes=...] [UNREPLIED] src=... (reply tuple) [ASSURED]
  mark=0 [secctx=...] [zone=0] use=2``, for IPv4 and IPv6 (full, uncompressed addresses), TCP,
  SCTP (both with a state), UDP and ICMP/ICMPv6 (``type= code= id=`` instead of ports), with or
  without packet/byte counters (``nf_conntrack_acct``).
* ``conntrack -L`` lines: the same without the ``ipv4 2`` family prefix (``-o extended`` adds it
  back), with ``id=`` at the end under ``-o id``, and with the per-direction ``zone=`` that
  libnetfilter_conntrack prints inside a tuple. The trailing ``conntrack v1.4.7
  (conntrack-tools): N flow entries have been shown.`` summary is ignored.

Decisions:

* The protocol is taken from its number (``6``, ``17``, ``132``, ``1``, ``58``), so the kernel's
  ``unknown`` name for a protocol without its own tracker still maps. Protocols the snapshot
  model has no name for (GRE, DCCP, UDP-Lite, IGMP, ...) are skipped as ``unsupported protocol``.
* Without the family prefix (plain ``conntrack -L``) the family is 6 when the original source
  address contains ``:``, else 4. Addresses are kept exactly as written (the kernel writes IPv6
  uncompressed, ``conntrack`` compressed); :mod:`topomap.zones` canonicalises them later.
* Every complete line ends with ``use=N`` in both formats; a line without it (or cut inside a
  tuple) is skipped as ``truncated``, so a line cut mid-number is not read as a shorter number.
* Unknown ``key=value`` tokens and ``[FLAGS]`` (``[OFFLOAD]``, ``secctx=``, ``delta-time=``,
  ...) after the tuples are ignored, so newer kernels and tools still parse.
* The parsers never raise on a bad line: :func:`parse_conntrack_line` gives ``None``,
  :func:`parse_conntrack_text` counts the line under its reason.
* Speed: one ``str.split`` per line, fields read by position and checked by slice comparison,
  no regular expressions, and the tuples are plain named tuples (a frozen dataclass costs an
  ``object.__setattr__`` call per field); the model's ``FlowTuple`` is built only in
  :func:`to_connection`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from topomap import model

Family = Literal[4, 6]

#: Family prefix (``ipv4 2`` / ``ipv6 10``): name -> (family, the number the kernel prints).
_L3: dict[str, tuple[Family, str]] = {"ipv4": (4, "2"), "ipv6": (6, "10")}
#: Protocol number as printed -> model protocol name.
_L4: dict[str, model.Protocol] = {
    "6": "tcp",
    "17": "udp",
    "132": "sctp",
    "1": "icmp",
    "58": "icmpv6",
}
#: Protocol names the kernel and conntrack-tools print for protocols the model cannot hold.
_OTHER_L4 = frozenset({"gre", "dccp", "udplite", "unknown"})
_ICMP = frozenset({"icmp", "icmpv6"})
_SUMMARY_PREFIX = "conntrack v"

SKIP_TRUNCATED = "truncated"
SKIP_MALFORMED = "malformed"
SKIP_BAD_NUMBER = "bad number"
SKIP_UNSUPPORTED = "unsupported protocol"


class ConntrackTuple(NamedTuple):
    """One direction of a tracked connection, as conntrack writes it."""

    src: str
    """Source address, as written."""
    dst: str
    """Destination address, as written."""
    sport: int | None
    """Source port; ``None`` for ICMP."""
    dport: int | None
    """Destination port; ``None`` for ICMP."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ConntrackEntry:
    """One line of the conntrack table."""

    family: Family
    """Address family: 4 or 6."""
    protocol: model.Protocol
    """Transport protocol."""
    timeout: int
    """Seconds until the entry expires unless refreshed."""
    state: str | None
    """TCP or SCTP state (``ESTABLISHED``, ``TIME_WAIT``, ``COOKIE_WAIT``); ``None`` otherwise."""
    original: ConntrackTuple
    """The tuple of the first packet."""
    reply: ConntrackTuple
    """The tuple the answer is expected on: differs from ``original`` reversed under NAT."""
    packets_orig: int | None = None
    """Packets in the original direction; ``None`` when accounting is off."""
    bytes_orig: int | None = None
    """Bytes in the original direction; ``None`` when accounting is off."""
    packets_reply: int | None = None
    """Packets in the reply direction; ``None`` when accounting is off."""
    bytes_reply: int | None = None
    """Bytes in the reply direction; ``None`` when accounting is off."""
    assured: bool = False
    """``[ASSURED]``: traffic was seen both ways and the entry will not be dropped early."""
    unreplied: bool = False
    """``[UNREPLIED]``: no packet was seen in the reply direction yet."""
    mark: int | None = None
    """Connection mark (``mark=``), when printed."""
    zone: int | None = None
    """Conntrack zone (``zone=``), when printed."""
    id: int | None = None
    """Entry id (``conntrack -o id``), when printed."""


class _Skip(Exception):
    """A line that is not a conntrack entry; the argument is the reason."""


_new_tuple = tuple.__new__


def _parse_tokens(t: list[str]) -> ConntrackEntry:
    """Parse one split line; raise :class:`_Skip`, ``IndexError`` or ``ValueError`` if bad."""
    l3 = _L3.get(t[0])
    if l3 is None:
        i = 0
    else:
        if t[1] != l3[1]:
            raise _Skip(SKIP_MALFORMED)
        i = 2
    protocol = _L4.get(t[i + 1])
    if protocol is None:
        name = t[i]
        raise _Skip(SKIP_UNSUPPORTED if name in _OTHER_L4 else SKIP_MALFORMED)
    timeout = int(t[i + 2])
    tok = t[i + 3]
    i += 4
    state = None
    if tok[:4] != "src=":
        if "=" in tok or tok[:1] == "[":
            raise _Skip(SKIP_MALFORMED)
        state = tok
        tok = t[i]
        i += 1
        if tok[:4] != "src=":
            raise _Skip(SKIP_MALFORMED)
    icmp = protocol in _ICMP

    # Original tuple: src= (in tok) dst= then sport= dport= or type= code= id=.
    osrc = tok[4:]
    tok = t[i]
    if tok[:4] != "dst=" or not osrc:
        raise _Skip(SKIP_MALFORMED)
    odst = tok[4:]
    if icmp:
        if t[i + 1][:5] != "type=" or t[i + 2][:5] != "code=" or t[i + 3][:3] != "id=":
            raise _Skip(SKIP_MALFORMED)
        osport = odport = None
        i += 4
    else:
        tok = t[i + 1]
        if tok[:6] != "sport=":
            raise _Skip(SKIP_MALFORMED)
        osport = int(tok[6:])
        tok = t[i + 2]
        if tok[:6] != "dport=":
            raise _Skip(SKIP_MALFORMED)
        odport = int(tok[6:])
        i += 3

    # Between the tuples: [zone=] [packets= bytes=] [UNREPLIED] (and the kernel's zone-orig=,
    # ignored like any other unknown token), up to the reply's src=.
    packets_orig = bytes_orig = zone = None
    unreplied = False
    tok = t[i]
    while tok[:4] != "src=":
        if tok[:8] == "packets=":
            packets_orig = int(tok[8:])
        elif tok[:6] == "bytes=":
            bytes_orig = int(tok[6:])
        elif tok == "[UNREPLIED]":
            unreplied = True
        elif tok[:5] == "zone=":
            zone = int(tok[5:])
        i += 1
        tok = t[i]

    # Reply tuple.
    rsrc = tok[4:]
    tok = t[i + 1]
    if tok[:4] != "dst=" or not rsrc:
        raise _Skip(SKIP_MALFORMED)
    rdst = tok[4:]
    if icmp:
        if t[i + 2][:5] != "type=" or t[i + 3][:5] != "code=" or t[i + 4][:3] != "id=":
            raise _Skip(SKIP_MALFORMED)
        rsport = rdport = None
        i += 5
    else:
        tok = t[i + 2]
        if tok[:6] != "sport=":
            raise _Skip(SKIP_MALFORMED)
        rsport = int(tok[6:])
        tok = t[i + 3]
        if tok[:6] != "dport=":
            raise _Skip(SKIP_MALFORMED)
        rdport = int(tok[6:])
        i += 4

    # After the reply tuple: counters, flags, mark, zone, use, id and whatever newer tools add.
    packets_reply = bytes_reply = mark = id_ = None
    assured = False
    use = False
    for tok in t[i:]:
        if tok[:1] == "[":
            if tok == "[ASSURED]":
                assured = True
            elif tok == "[UNREPLIED]":
                unreplied = True
            continue
        key, _, value = tok.partition("=")
        if key == "packets":
            packets_reply = int(value)
        elif key == "bytes":
            bytes_reply = int(value)
        elif key == "mark":
            mark = int(value)
        elif key == "use":
            int(value)
            use = True
        elif key == "zone":
            zone = int(value)
        elif key == "id":
            id_ = int(value)
    if not use:
        raise IndexError

    return ConntrackEntry(
        family=l3[0] if l3 is not None else (6 if ":" in osrc else 4),
        protocol=protocol,
        timeout=timeout,
        state=state,
        original=_new_tuple(ConntrackTuple, (osrc, odst, osport, odport)),
        reply=_new_tuple(ConntrackTuple, (rsrc, rdst, rsport, rdport)),
        packets_orig=packets_orig,
        bytes_orig=bytes_orig,
        packets_reply=packets_reply,
        bytes_reply=bytes_reply,
        assured=assured,
        unreplied=unreplied,
        mark=mark,
        zone=zone,
        id=id_,
    )


def parse_conntrack_line(line: str) -> ConntrackEntry | None:
    """One line of ``/proc/net/nf_conntrack`` or ``conntrack -L``; ``None`` if it is not an entry.

    >>> e = parse_conntrack_line(
    ...     "udp 17 29 src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 [UNREPLIED] "
    ...     "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 mark=0 use=1"
    ... )
    >>> e.family, e.protocol, e.state, e.unreplied, e.reply.src
    (4, 'udp', None, True, '10.0.0.2')
    >>> parse_conntrack_line("tcp 6 431999 ESTABLISHED src=10.0.0.1") is None
    True
    """
    try:
        return _parse_tokens(line.split())
    except (_Skip, IndexError, ValueError):
        return None


def parse_conntrack_text(text: str) -> tuple[list[ConntrackEntry], dict[str, int]]:
    """Every entry in a dump of either format, and the lines skipped, counted by reason.

    Blank lines and the ``conntrack`` summary line are neither entries nor skipped.
    """
    entries: list[ConntrackEntry] = []
    skipped: dict[str, int] = {}
    append = entries.append
    parse = _parse_tokens
    for line in text.splitlines():
        try:
            append(parse(line.split()))
        except _Skip as e:
            if line.startswith(_SUMMARY_PREFIX):
                continue
            reason = e.args[0]
            skipped[reason] = skipped.get(reason, 0) + 1
        except IndexError:
            if not line or line.isspace() or line.startswith(_SUMMARY_PREFIX):
                continue
            skipped[SKIP_TRUNCATED] = skipped.get(SKIP_TRUNCATED, 0) + 1
        except ValueError:
            if line.startswith(_SUMMARY_PREFIX):
                continue
            skipped[SKIP_BAD_NUMBER] = skipped.get(SKIP_BAD_NUMBER, 0) + 1
    return entries, skipped


def to_connection(
    entry: ConntrackEntry,
    *,
    first_seen: datetime,
    last_seen: datetime,
    netns: str | None = None,
) -> model.Connection:
    """The entry as a snapshot :class:`~topomap.model.Connection` observed by ``conntrack``.

    ``state`` is the TCP/SCTP state, or ``UNREPLIED`` for a stateless flow with no reply yet.
    Zone 0 and mark 0 are the defaults and become ``None``, as the model records them only when
    set.
    """
    o, r = entry.original, entry.reply
    state = entry.state
    if state is None and entry.unreplied:
        state = "UNREPLIED"
    return model.Connection(
        protocol=entry.protocol,
        original=model.FlowTuple(src=o.src, dst=o.dst, sport=o.sport, dport=o.dport),
        reply=model.FlowTuple(src=r.src, dst=r.dst, sport=r.sport, dport=r.dport),
        initiator="src",
        state=state,
        packets_orig=entry.packets_orig,
        bytes_orig=entry.bytes_orig,
        packets_reply=entry.packets_reply,
        bytes_reply=entry.bytes_reply,
        first_seen=first_seen,
        last_seen=last_seen,
        observed_by="conntrack",
        netns=netns,
        conntrack_zone=entry.zone or None,
        mark=entry.mark or None,
    )

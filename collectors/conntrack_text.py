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
* Speed: a whole text is read in three layers. The lines of the common shapes (every line the
  kernel and ``conntrack -L`` print for TCP, UDP, SCTP and ICMP) are read by the optional C
  module ``collectors._conntrack_speedups`` (``pip install`` builds it when a C compiler and
  Python's headers are there: ``ext-modules`` in ``pyproject.toml``),
  else by one regular expression run over the whole text; every other line goes to the
  per-line parser, which is the reference: the three agree on every line (a property test
  checks it). Set ``TOPOMAP_PURE_PYTHON=1`` to leave the C module out. The per-line parser does
  one ``str.split`` and reads fields by position; the tuples are plain named tuples (a frozen
  dataclass costs an ``object.__setattr__`` call per field); the model's ``FlowTuple`` is built
  only in :func:`to_connection`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any, Literal, NamedTuple

from topomap import model

try:  # the optional C parser of the common line shapes; see the module docstring
    from collectors import _conntrack_speedups as _speedups
except ImportError:  # not built (no C compiler when installed): the same results, in Python
    _speedups = None  # type: ignore[assignment]
if os.environ.get("TOPOMAP_PURE_PYTHON"):
    _speedups = None  # type: ignore[assignment]


def text_parser() -> Literal["C", "Python"]:
    """Which reader whole texts get for their common lines: the C module, or Python."""
    return "Python" if _speedups is None else "C"


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


class ConntrackEntry(NamedTuple):
    """One entry of the conntrack table (a line of its text forms, or a netlink message).

    A named tuple rather than a frozen dataclass: a table holds up to hundreds of thousands of
    them and a tuple is built in one call (``tuple.__new__``), where a frozen dataclass pays an
    ``object.__setattr__`` per field.
    """

    family: Family
    """Address family: 4 or 6."""
    protocol: model.Protocol
    """Transport protocol."""
    timeout: int | None
    """Seconds until the entry expires unless refreshed; ``None`` when the kernel gives none
    (an offloaded entry, a DESTROY event)."""
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
    tok = t[i + 2]
    if tok.isdigit() or not ("[OFFLOAD]" in t or "[HW_OFFLOAD]" in t):
        timeout: int | None = int(tok)
        tok = t[i + 3]
        i += 4
    else:  # the kernel prints no timeout for an entry offloaded to a flowtable
        timeout = None
        i += 3
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


def _line_skip(line: str) -> ConntrackEntry | str | None:
    """One line through :func:`_parse_tokens`: the entry, the skip reason, or ``None`` (blank)."""
    try:
        return _parse_tokens(line.split())
    except _Skip as e:
        if line.startswith(_SUMMARY_PREFIX):
            return None
        reason: str = e.args[0]
        return reason
    except IndexError:
        if not line or line.isspace() or line.startswith(_SUMMARY_PREFIX):
            return None
        return SKIP_TRUNCATED
    except ValueError:
        if line.startswith(_SUMMARY_PREFIX):
            return None
        return SKIP_BAD_NUMBER


# The common line shapes of both formats, as one regular expression matched over the whole text
# in C. ``_pattern(True)`` captures the fields, ``_pattern(False)`` only checks the shape (and
# marks a match with a one-character group, which CPython does not allocate). Both match exactly
# the same lines: they differ only in capturing. Every group that can be absent (state, counters,
# zones, flags, id) is optional, so a matching line is always a complete entry; anything else
# (other tokens, odd spacing, bad numbers, cut lines, unsupported protocols) falls to the
# per-line parser above, which decides what it is. The possessive quantifiers never change what
# matches here (each is followed by a character its class excludes); they only stop backtracking.
_NUM = "[0-9]{1,4000}+"  # int() refuses more than 4,300 digits: per-line ("bad number")
_ADDR = "[0-9a-fA-F.:]++"


def _pattern(capture: bool) -> re.Pattern[str]:
    def c(body: str) -> str:
        return f"({body})" if capture else f"(?:{body})"

    def tup() -> str:
        ports = f"sport={c(_NUM)}\\ ++dport={c(_NUM)}"
        return (
            f"src={c(_ADDR)}\\ ++dst={c(_ADDR)}\\ ++"
            f"(?(icmp)type={_NUM}\\ ++code={_NUM}\\ ++id={_NUM}|{ports})\\ ++"
        )

    family = "(?:ipv(4)\\ ++2|ipv(6)\\ ++10)" if capture else "(?:ipv4\\ ++2|ipv6\\ ++10)"
    counters = f"(?:packets={c(_NUM)}\\ ++bytes={c(_NUM)}\\ ++)?"
    body = (
        f"(?:{family}\\ ++)?"
        "(?!ipv[46]\\ )[a-z0-9]++\\ ++"
        f"(?:{c('6|17|132')}|(?P<icmp>1|58))\\ ++"
        f"{c(_NUM)}\\ ++"
        f"(?:{c('[A-Z][A-Z_0-9]*+')}\\ ++)?"
        f"{tup()}(?:zone={c(_NUM)}\\ ++)?{counters}(?:\\[{c('U')}NREPLIED\\]\\ ++)?"
        f"{tup()}(?:zone={c(_NUM)}\\ ++)?{counters}(?:\\[{c('A')}SSURED\\]\\ ++)?"
        f"(?:mark={c(_NUM)}\\ ++)?(?:secctx=\\S++\\ ++)?(?:zone={c(_NUM)}\\ ++)?"
        f"(?:delta-time={_NUM}\\ ++)?{'u' if capture else '(u)'}se={_NUM}"
        f"(?:\\ ++id={c(_NUM)})?[\\ \\t\\r]*+"
    )
    if capture:
        return re.compile(f"^{body}$", re.MULTILINE)
    return re.compile(f"^(?:{body}|([^\\n]*+))$", re.MULTILINE)


_FIELDS = _pattern(True)
_VALID = _pattern(False)
_groups = re.Match.groups


def _entries(text: str) -> Iterator[ConntrackEntry]:
    """Materialise every line of ``text`` that has one of the common shapes, in order."""
    new = _new_tuple
    for (
        f4,
        f6,
        number,
        icmp,
        timeout,
        state,
        osrc,
        odst,
        osport,
        odport,
        ozone,
        opackets,
        obytes,
        unreplied,
        rsrc,
        rdst,
        rsport,
        rdport,
        rzone,
        rpackets,
        rbytes,
        assured,
        mark,
        zone,
        id_,
    ) in map(_groups, _FIELDS.finditer(text)):
        yield new(
            ConntrackEntry,
            (
                4 if f4 else 6 if f6 else 6 if ":" in osrc else 4,
                _L4[number or icmp],
                int(timeout),
                state or None,
                new(
                    ConntrackTuple,
                    (osrc, odst, int(osport) if osport else None, int(odport) if odport else None),
                ),
                new(
                    ConntrackTuple,
                    (rsrc, rdst, int(rsport) if rsport else None, int(rdport) if rdport else None),
                ),
                int(opackets) if opackets else None,
                int(obytes) if obytes else None,
                int(rpackets) if rpackets else None,
                int(rbytes) if rbytes else None,
                bool(assured),
                bool(unreplied),
                int(mark) if mark else None,
                int(zone or rzone or ozone) if zone or rzone or ozone else None,
                int(id_) if id_ else None,
            ),
        )


class ConntrackText(Collection[ConntrackEntry]):
    """The entries of one text dump, and every line that was skipped, by reason and line number.

    Parsing checks every line and counts what is skipped; the entries themselves are built when
    the result is iterated (each time it is iterated), from the text it keeps. So a caller that
    turns each entry into something else (a :class:`topomap.model.Connection`) never holds two
    full copies of the table, and ``len()`` and the skip counts are known before any is built.
    """

    __slots__ = ("_text", "_count", "_fast_lines", "_slow", "_compiled", "skipped", "bad_lines")

    def __init__(
        self,
        text: str,
        count: int,
        fast_lines: list[int] | None,
        slow: list[tuple[int, ConntrackEntry]],
        skipped: dict[str, int],
        bad_lines: dict[str, list[int]],
        compiled: Callable[..., Any] | None = None,
    ) -> None:
        self._compiled = compiled
        """The C module's ``build`` when it read the text (it builds the entries too)."""
        self._text = text
        self._count = count
        self._fast_lines = fast_lines
        self._slow = slow
        self.skipped = skipped
        """Lines that are not entries, counted by reason (``truncated``, ``malformed``, ...)."""
        self.bad_lines = bad_lines
        """The first line numbers (1-based) skipped under each reason."""

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[ConntrackEntry]:
        if self._compiled is not None:
            return _built(self._compiled, self._text, self._slow)
        if not self._slow:
            return _entries(self._text)
        return self._merged()

    def __contains__(self, item: object) -> bool:
        return any(entry == item for entry in self)

    def __repr__(self) -> str:
        return f"<ConntrackText: {self._count} entries, skipped {self.skipped}>"

    def _merged(self) -> Iterator[ConntrackEntry]:
        # Entries of the common shapes and those the per-line parser read, in line order.
        fast = zip(self._fast_lines or (), _entries(self._text), strict=True)
        slow = iter(self._slow)
        pending = next(slow, None)
        for line, entry in fast:
            while pending is not None and pending[0] < line:
                yield pending[1]
                pending = next(slow, None)
            yield entry
        while pending is not None:
            yield pending[1]
            pending = next(slow, None)

    def warnings(self, source: str) -> list[str]:
        """The skipped lines as coverage warnings, one per reason, naming the line numbers.

        >>> parse_conntrack_text("tcp 6 1 src=1.2.3.4\\nnonsense here\\n").warnings("ct.txt")
        ['ct.txt: 1 line skipped (malformed): line 2', 'ct.txt: 1 line skipped (truncated): line 1']
        """
        out = []
        for reason in sorted(self.skipped):
            n = self.skipped[reason]
            lines = self.bad_lines.get(reason, [])
            shown = ", ".join(str(i) for i in lines)
            more = f" and {n - len(lines)} more" if n > len(lines) else ""
            plural = "s" if n != 1 else ""
            word = "lines" if len(lines) > 1 else "line"
            out.append(f"{source}: {n} line{plural} skipped ({reason}): {word} {shown}{more}")
        return out


def parse_conntrack_text(text: str, *, line_numbers: int = 10) -> ConntrackText:
    """Every entry in a dump of either format, and the lines skipped, by reason and number.

    Blank lines and the ``conntrack`` summary line are neither entries nor skipped. Lines are
    separated by ``\\n`` (a ``\\r`` before it is ignored). The first ``line_numbers`` line
    numbers of each skip reason are kept in :attr:`ConntrackText.bad_lines`.

    >>> table = parse_conntrack_text(
    ...     "ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 [UNREPLIED] "
    ...     "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 mark=0 zone=0 use=2\\n"
    ...     "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1\\n"
    ... )
    >>> len(table), table.skipped, table.bad_lines
    (1, {'truncated': 1}, {'truncated': [2]})
    >>> [(e.protocol, e.original.dport, e.unreplied) for e in table]
    [('udp', 53, True)]
    """
    scanned = _speedups.scan(text) if _speedups is not None else None
    if scanned is not None:
        count, others = scanned
    else:
        rows = _VALID.findall(text)
        # rows[i] is line i: (icmp number, "u" when the line has a common shape, else the line).
        others = [(i, row[2]) for i, row in enumerate(rows) if row[2]]
        count = len(rows) - len(others) - rows.count(("", "", ""))
    slow: list[tuple[int, ConntrackEntry]] = []
    skipped: dict[str, int] = {}
    bad_lines: dict[str, list[int]] = {}
    for i, line in others:
        result = _line_skip(line)
        if result is None:
            continue
        if isinstance(result, str):
            skipped[result] = skipped.get(result, 0) + 1
            numbers = bad_lines.setdefault(result, [])
            if len(numbers) < line_numbers:
                numbers.append(i + 1)
        else:
            slow.append((i, result))
    if scanned is not None:
        build = _speedups.build
        return ConntrackText(text, count + len(slow), None, slow, skipped, bad_lines, build)
    fast_lines = [i for i, row in enumerate(rows) if row[1]] if slow else None
    return ConntrackText(text, count + len(slow), fast_lines, slow, skipped, bad_lines)


_CHUNK = 4096
_PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")  # in the C module's order


def _built(
    build: Callable[..., Any], text: str, slow: list[tuple[int, ConntrackEntry]]
) -> Iterator[ConntrackEntry]:
    """Every entry of ``text`` in line order: the common shapes built by the C module's
    ``build``, in chunks of :data:`_CHUNK`, with the per-line parser's entries (``slow``) in
    between."""
    pos = line = 0
    for barrier, between in [*slow, (-1, None)]:
        finished = False
        while not finished:
            chunk, pos, line, finished = build(
                text,
                pos,
                line,
                _CHUNK,
                barrier,
                ConntrackEntry,
                ConntrackTuple,
                _PROTOCOLS,
            )
            yield from chunk
        if between is not None:
            yield between


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

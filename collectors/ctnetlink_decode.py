"""ctnetlink messages (the kernel's conntrack protocol on NETLINK_NETFILTER) decoded with struct.

This module owns the pure decoding of the conntrack messages the kernel sends, in a dump answer
and as NEW/DESTROY events, into the :class:`~collectors.conntrack_text.ConntrackEntry` records the
text parsers produce, so everything downstream is shared. It does no I/O:
:mod:`collectors.conntrack_netlink` reads the socket and hands the bytes over.

A message is a ``nlmsghdr`` (16 bytes, host order), a ``nfgenmsg`` (family, version, resource
id) and nested ``CTA_*`` attributes whose values are in network order
(``include/uapi/linux/netfilter/nfnetlink_conntrack.h``). What is read:

* ``CTA_TUPLE_ORIG`` / ``CTA_TUPLE_REPLY``: ``CTA_TUPLE_IP`` (IPv4 or IPv6 source and
  destination), ``CTA_TUPLE_PROTO`` (protocol number, ports; ICMP's type/code/id are not kept, as
  the text parsers do not keep them), and the per-direction ``CTA_TUPLE_ZONE``;
* ``CTA_STATUS`` (``SEEN_REPLY`` clear is ``[UNREPLIED]``; ``ASSURED``), ``CTA_TIMEOUT``,
  ``CTA_MARK``, ``CTA_ID``, ``CTA_ZONE``;
* ``CTA_PROTOINFO``: the TCP or SCTP state, named exactly as ``/proc/net/nf_conntrack`` names it;
* ``CTA_COUNTERS_ORIG`` / ``CTA_COUNTERS_REPLY`` (packets and bytes, 64- or 32-bit), present
  when ``nf_conntrack_acct`` was on when the entry was created.

Everything else (helper, labels, secctx, timestamps, NAT sequence adjustment, ...) is skipped by
its length, so newer kernels still decode.

Why not pyroute2's decoder: its generic pure-Python attribute parser takes about 200 µs per
conntrack message here (53 s for a 262,144-entry table; the target is a full poll in under 2 s).
The kernel writes every message of one kind with the same attribute layout, so this decoder
walks the attribute tree of a message once, turns its layout into a *template* (one big-endian
``struct`` format covering the whole message, the positions of all attribute headers and of the
wanted values), and decodes every further message of the same length and family with one
``unpack_from`` and a comparison of all attribute headers against the template's. A message whose
headers differ is walked again, so the template is only a cache: a changed layout can never be
read with the wrong offsets.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from collectors.conntrack_text import (
    SKIP_MALFORMED,
    SKIP_UNSUPPORTED,
    ConntrackEntry,
    ConntrackTuple,
    Family,
)
from topomap import model

NLMSG_HDR = struct.Struct("=IHHII")
"""``nlmsghdr``: length, type, flags, sequence number, port id (host byte order)."""
NLMSG_ERROR = 2
NLMSG_DONE = 3
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
#: nlmsghdr (16) + nfgenmsg (4): where a conntrack message's attributes start.
ATTRS_OFFSET = 20

IPS_SEEN_REPLY = 1 << 1
IPS_ASSURED = 1 << 2
IPS_OFFLOAD = 1 << 14

#: ``tcp_conntrack_names`` in net/netfilter/nf_conntrack_proto_tcp.c (what /proc prints).
TCP_STATES = (
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
)
#: ``sctp_conntrack_names`` in net/netfilter/nf_conntrack_proto_sctp.c.
SCTP_STATES = (
    "NONE",
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
)
_L4: dict[int, model.Protocol] = {6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "icmpv6"}
_FAMILY: dict[int, Family] = {socket.AF_INET: 4, socket.AF_INET6: 6}

_NLA = struct.Struct("=HH")
_BE32 = struct.Struct(">I")
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

#: The values a layout can pick out of a message (names in the generated builders).
FIELDS = (
    "osrc",
    "odst",
    "osport",
    "odport",
    "ozone",
    "rsrc",
    "rdst",
    "rsport",
    "rdport",
    "rzone",
    "proto",
    "status",
    "timeout",
    "mark",
    "id",
    "zone",
    "tcp_state",
    "sctp_state",
    "opackets",
    "obytes",
    "rpackets",
    "rbytes",
)

# Nested attributes descended into: (context, attribute type) -> context inside it.
_CONTAINERS: dict[tuple[str, int], str] = {
    ("top", 1): "o",  # CTA_TUPLE_ORIG
    ("top", 2): "r",  # CTA_TUPLE_REPLY
    ("top", 4): "pi",  # CTA_PROTOINFO
    ("top", 9): "co",  # CTA_COUNTERS_ORIG
    ("top", 10): "cr",  # CTA_COUNTERS_REPLY
    ("o", 1): "oip",  # CTA_TUPLE_IP
    ("o", 2): "opr",  # CTA_TUPLE_PROTO
    ("r", 1): "rip",
    ("r", 2): "rpr",
    ("pi", 1): "tcp",  # CTA_PROTOINFO_TCP
    ("pi", 3): "sctp",  # CTA_PROTOINFO_SCTP
}
# Leaf attributes read: (context, attribute type) -> (field, struct code, payload size).
_LEAVES: dict[tuple[str, int], tuple[str, str, int]] = {
    ("top", 3): ("status", "I", 4),  # CTA_STATUS
    ("top", 7): ("timeout", "I", 4),  # CTA_TIMEOUT
    ("top", 8): ("mark", "I", 4),  # CTA_MARK
    ("top", 12): ("id", "I", 4),  # CTA_ID
    ("top", 18): ("zone", "H", 2),  # CTA_ZONE
    ("o", 3): ("ozone", "H", 2),  # CTA_TUPLE_ZONE
    ("r", 3): ("rzone", "H", 2),
    ("oip", 1): ("osrc", "4s", 4),  # CTA_IP_V4_SRC
    ("oip", 2): ("odst", "4s", 4),
    ("oip", 3): ("osrc", "16s", 16),  # CTA_IP_V6_SRC
    ("oip", 4): ("odst", "16s", 16),
    ("rip", 1): ("rsrc", "4s", 4),
    ("rip", 2): ("rdst", "4s", 4),
    ("rip", 3): ("rsrc", "16s", 16),
    ("rip", 4): ("rdst", "16s", 16),
    ("opr", 1): ("proto", "B", 1),  # CTA_PROTO_NUM
    ("opr", 2): ("osport", "H", 2),  # CTA_PROTO_SRC_PORT
    ("opr", 3): ("odport", "H", 2),
    ("rpr", 2): ("rsport", "H", 2),
    ("rpr", 3): ("rdport", "H", 2),
    ("tcp", 1): ("tcp_state", "B", 1),  # CTA_PROTOINFO_TCP_STATE
    ("sctp", 1): ("sctp_state", "B", 1),  # CTA_PROTOINFO_SCTP_STATE
    ("co", 1): ("opackets", "Q", 8),  # CTA_COUNTERS_PACKETS
    ("co", 2): ("obytes", "Q", 8),
    ("co", 3): ("opackets", "I", 4),  # CTA_COUNTERS32_PACKETS
    ("co", 4): ("obytes", "I", 4),
    ("cr", 1): ("rpackets", "Q", 8),
    ("cr", 2): ("rbytes", "Q", 8),
    ("cr", 3): ("rpackets", "I", 4),
    ("cr", 4): ("rbytes", "I", 4),
}
_REQUIRED = ("osrc", "odst", "rsrc", "rdst", "proto")


class Malformed(Exception):
    """A message whose attributes do not nest or do not fit; the text says where."""


class _Template(NamedTuple):
    """The layout of one kind of message: how to check it, and how to read it in one call."""

    mask: int
    """The attribute area as one big-endian integer, ANDed with this, keeps only the attribute
    headers and the protocol number."""
    expected: int
    """What those bytes are in this layout; a message with others is another layout."""
    build: Callable[[Any, int, dict[bytes, str]], Any]
    """``build(buf, start, addresses)``: the entry (or the skip reason) of a message with this
    layout whose attributes start at ``start``."""


def _table(names: tuple[str, ...]) -> tuple[str, ...]:
    """State names by number for every u8 value, so a newer kernel's state is its number."""
    return names + tuple(str(i) for i in range(len(names), 256))


_TCP = _table(TCP_STATES)
_SCTP = _table(SCTP_STATES)
# Names the generated builders see (and nothing else).
_SCOPE: dict[str, Any] = {
    "new": tuple.__new__,
    "Entry": ConntrackEntry,
    "Tuple": ConntrackTuple,
    "TCP": _TCP,
    "SCTP": _SCTP,
}


def learn(buf: Any, start: int, end: int) -> _Template:
    """Walk one message's attributes from ``start`` to ``end`` and describe its layout.

    Raises :class:`Malformed` when an attribute is shorter than its header, overruns its parent
    or a required value (addresses, protocol number) is missing.
    """
    fmt = [">"]
    names: list[str] = []
    mask = 0
    stack: list[tuple[int, str]] = [(end, "top")]
    pos = start
    skip = 0  # bytes to skip before the next value read
    proto_at = -1
    while pos < end:
        while pos >= stack[-1][0]:
            if pos != stack[-1][0]:
                raise Malformed(f"attribute at offset {pos} overruns its parent")
            stack.pop()
        limit, ctx = stack[-1]
        if pos + 4 > limit:
            raise Malformed(f"attribute header at offset {pos} is cut")
        length, kind = _NLA.unpack_from(buf, pos)
        if length < 4 or pos + length > limit:
            raise Malformed(f"attribute at offset {pos} has length {length}")
        # The 4 header bytes, as bits of the whole area read as one big-endian integer.
        mask |= 0xFFFFFFFF << (8 * (end - pos - 4))
        skip += 4
        kind &= _NLA_TYPE_MASK
        inner = _CONTAINERS.get((ctx, kind))
        if inner is not None:
            stack.append((pos + length, inner))
            pos += 4
            continue
        padded = min((length + 3) & ~3, limit - pos) - 4
        leaf = _LEAVES.get((ctx, kind))
        if leaf is not None and leaf[2] == length - 4 and leaf[0] not in names:
            name, code, width = leaf
            if name == "proto":
                proto_at = pos + 4
            if skip:
                fmt.append(f"{skip}x")
            fmt.append(code)
            names.append(name)
            skip = padded - width
        else:
            skip += padded
        pos += 4 + padded
    for name in _REQUIRED:
        if name not in names:
            raise Malformed(f"no {name} attribute")
    # The protocol number is part of the layout: it decides the protocol name and the state.
    mask |= 0xFF << (8 * (end - proto_at - 1))
    family = _FAMILY[buf[start - 4]]
    protocol = _L4.get(buf[proto_at])
    return _Template(
        mask=mask,
        expected=int.from_bytes(bytes(buf[start:end]), "big") & mask,
        build=_builder(struct.Struct("".join(fmt)), names, family, protocol),
    )


def _builder(
    layout: struct.Struct, names: list[str], family: Family, protocol: model.Protocol | None
) -> Callable[[Any, int, dict[bytes, str]], Any]:
    """Generate the straight-line function that turns one message of a layout into an entry.

    Generated (as :mod:`dataclasses` and :func:`collections.namedtuple` generate code) because
    the table is read at hundreds of thousands of messages a second: the layout's constants
    (family, protocol, which fields exist) are folded in, so each message costs one
    ``unpack_from``, four address lookups and three tuple constructions. The source is made
    from the fixed field names above and two small integers, never from message contents.
    """
    if protocol is None:
        return lambda buf, start, addresses: SKIP_UNSUPPORTED

    def get(name: str) -> str:
        return name if name in names else "None"

    def addr(name: str) -> str:
        return f"(a({name}) or address({name}, addresses))"

    if "tcp_state" in names:
        state = "TCP[tcp_state]"
    elif "sctp_state" in names:
        state = "SCTP[sctp_state]"
    else:
        state = "None"
    status = "status" if "status" in names else "0"
    zone = next((z for z in ("zone", "ozone", "rzone") if z in names), "0")
    source = (
        "def build(buf, start, addresses):\n"
        f"    ({', '.join(names)},) = unpack(buf, start)\n"
        "    a = addresses.get\n"
        "    return new(Entry, (\n"
        f"        {family}, {protocol!r}, {get('timeout')}, {state},\n"
        f"        new(Tuple, ({addr('osrc')}, {addr('odst')}, {get('osport')}, {get('odport')})),\n"
        f"        new(Tuple, ({addr('rsrc')}, {addr('rdst')}, {get('rsport')}, {get('rdport')})),\n"
        f"        {get('opackets')}, {get('obytes')}, {get('rpackets')}, {get('rbytes')},\n"
        f"        {status} & {IPS_ASSURED | IPS_OFFLOAD} == {IPS_ASSURED},\n"
        f"        not {status} & {IPS_SEEN_REPLY},\n"
        f"        {get('mark')}, {zone}, {get('id')},\n"
        "    ))\n"
    )
    scope = dict(_SCOPE, unpack=layout.unpack_from, address=_address)
    exec(source, scope)  # noqa: S102 - see the docstring
    build: Callable[[Any, int, dict[bytes, str]], Any] = scope["build"]
    return build


class Decoder:
    """Decodes conntrack messages into :class:`ConntrackEntry`, caching message layouts.

    One decoder is meant to live as long as its socket; the layout cache is bounded
    (``max_templates`` layouts), so memory does not grow with the number of polls. Addresses are
    written as ``socket.inet_ntop`` writes them (IPv6 compressed, like ``conntrack -L``).
    """

    def __init__(self, max_templates: int = 256) -> None:
        self._templates: dict[tuple[int, int], list[_Template]] = {}
        self._max_templates = max_templates
        self.learned = 0
        """Layouts walked attribute by attribute (a measure of the cache's use)."""

    def decode(self, buf: Any, offset: int, length: int, addresses: dict[bytes, str]) -> Any:
        """The message at ``offset`` as a :class:`ConntrackEntry`, or a skip reason (``str``).

        ``addresses`` caches address text by raw bytes; pass one dict per dump or drain so equal
        addresses share one string and the cache is dropped with it.
        """
        family = buf[offset + 16]
        if family not in _FAMILY or length <= ATTRS_OFFSET:
            return SKIP_MALFORMED
        key = (length, family)
        start = offset + ATTRS_OFFSET
        end = offset + length
        layouts = self._templates.get(key)
        if layouts is not None:
            whole = int.from_bytes(buf[start:end], "big")
            for template in layouts:
                if whole & template.mask == template.expected:
                    return template.build(buf, start, addresses)
        try:
            template = learn(buf, start, end)
        except Malformed:
            return SKIP_MALFORMED
        self.learned += 1
        if len(self._templates) >= self._max_templates:
            self._templates.clear()
        layouts = self._templates.setdefault(key, [])
        if len(layouts) >= 8:
            layouts.pop(0)
        layouts.append(template)
        return template.build(buf, start, addresses)

    def decode_all(
        self,
        buf: Any,
        size: int,
        seq: int,
        addresses: dict[bytes, str],
        entries: list[ConntrackEntry],
        skipped: dict[str, int],
    ) -> int:
        """Decode every conntrack message of sequence ``seq`` in ``buf[:size]`` (a dump answer).

        Entries go to ``entries``, skip reasons are counted in ``skipped``. Returns the offset of
        the first ``NLMSG_DONE`` or ``NLMSG_ERROR`` message (for the caller to read), or -1 when
        the buffer holds neither. This is :meth:`decode` with its common path inlined: a dump
        is hundreds of thousands of messages. Raises :class:`Malformed` for a cut message.
        """
        templates = self._templates
        from_bytes = int.from_bytes
        unpack_header = NLMSG_HDR.unpack_from
        append = entries.append
        entry_type = ConntrackEntry
        offset = 0
        while offset + 16 <= size:
            length, msg_type, _flags, msg_seq, _port = unpack_header(buf, offset)
            if length < 16 or offset + length > size:
                raise Malformed(f"netlink message cut at byte {offset}")
            if msg_type == NLMSG_DONE or msg_type == NLMSG_ERROR:
                return offset
            if msg_seq == seq and msg_type >> 8 == NFNL_SUBSYS_CTNETLINK:
                result = None
                layouts = templates.get((length, buf[offset + 16]))
                if layouts is not None:
                    start = offset + ATTRS_OFFSET
                    whole = from_bytes(buf[start : offset + length], "big")
                    for template in layouts:
                        if whole & template.mask == template.expected:
                            result = template.build(buf, start, addresses)
                            break
                if result is None:
                    result = self.decode(buf, offset, length, addresses)
                if type(result) is entry_type:
                    append(result)
                else:
                    skipped[result] = skipped.get(result, 0) + 1
            offset += (length + 3) & ~3
        return -1


def _address(raw: bytes, cache: dict[bytes, str]) -> str:
    text = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
    cache[raw] = text
    return text


def dump_request(seq: int, family: int = socket.AF_UNSPEC) -> bytes:
    """A ``IPCTNL_MSG_CT_GET`` dump request for the whole table (both families by default)."""
    msg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET
    flags = 0x1 | 0x300  # NLM_F_REQUEST | NLM_F_DUMP
    return NLMSG_HDR.pack(20, msg_type, flags, seq, 0) + struct.pack("=BBH", family, 0, 0)

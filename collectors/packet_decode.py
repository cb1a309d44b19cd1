"""One packet's bytes decoded down to its TCP and UDP headers, for any supported encapsulation.

This module owns the general, packet-at-a-time decoder: the reference for what a packet means.
:mod:`collectors.fastpath` decodes the common shapes of packet a whole batch at a time and hands
everything else here, and a test checks that both agree. It does no I/O and keeps no state
between packets (fragments are joined to their flow by :mod:`collectors.flows`).

Link layers (LINKTYPE_* numbers): Ethernet (1) with any stack of 802.1Q/802.1ad/QinQ tags,
802.2 LLC/SNAP, MPLS and PPPoE sessions; Linux cooked capture v1 (113) and v2 (276); BSD
loopback/null (0, host byte order) and OpenBSD loop (108, network order); raw IP (101, 12, 14),
raw IPv4 (228) and IPv6 (229); PPP (9, 50) and Cisco HDLC (104). Network layers: IPv4 (options,
fragments) and IPv6 (hop-by-hop, routing, destination options, fragment and AH extension
headers); IPv4/IPv6 in IP, GRE (IP, IPv6 or Ethernet inside), VXLAN (UDP 4789) and Geneve
(UDP 6081) are decapsulated: the inner TCP/UDP header is a :class:`Segment` of its own that
records the outer tunnel, and the outer UDP header of VXLAN/Geneve is a segment marked
``tunnel_outer``.

A packet that cannot be decoded is not an error: :func:`decode` returns the reason, in words
that go into the collector's coverage (``"truncated IPv4 header"``, ``"unsupported link type
127"``). Packets that are simply not TCP or UDP over IP (ARP, ICMP, spanning tree) have no
segments and no reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
VXLAN_PORT, GENEVE_PORT = 4789, 6081
#: Encapsulations nested deeper than this are not followed (a crafted packet can nest forever).
MAX_DEPTH = 8

_H = struct.Struct("!H").unpack_from
_HH = struct.Struct("!HH").unpack_from
_I = struct.Struct("!I").unpack_from
_IPV6_EXT = frozenset({0, 60, 135, 139, 140, 253, 254})
#: NSH and VXLAN-GPE "next protocol" numbers, as EtherTypes (0x6558: Ethernet).
_NSH_NEXT = {1: 0x0800, 2: 0x86DD, 3: 0x6558, 4: 0x894F}
VXLAN_GPE_PORT = 4790


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The outer headers a decapsulated segment travelled in."""

    kind: str
    """``vxlan``, ``geneve``, ``gre`` or ``ipip``."""
    src: bytes
    """Outer source address (4 or 16 bytes)."""
    dst: bytes
    """Outer destination address."""
    sport: int | None = None
    """Outer UDP source port (VXLAN, Geneve)."""
    dport: int | None = None
    """Outer UDP destination port."""
    vni: int | None = None
    """VXLAN/Geneve network identifier, GRE key."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP or UDP header found in a packet (a tunnelled packet has several)."""

    proto: int
    """6 for TCP, 17 for UDP."""
    src: bytes
    """Source address: 4 bytes for IPv4, 16 for IPv6."""
    dst: bytes
    """Destination address."""
    sport: int
    """Source port."""
    dport: int
    """Destination port."""
    flags: int = 0
    """TCP flags (FIN 0x01 ... CWR 0x80, NS 0x100); 0 for UDP."""
    seq: int = 0
    """TCP sequence number."""
    ack: int = 0
    """TCP acknowledgement number."""
    payload: int = 0
    """Offset of the first payload byte in the packet."""
    payload_end: int = 0
    """Offset just past the last captured payload byte."""
    tunnel: Tunnel | None = None
    """The outer tunnel, for a decapsulated segment."""
    tunnel_outer: bool = False
    """This is the outer UDP header of a VXLAN or Geneve packet, not a flow of its own."""
    fragment: tuple[bytes, bytes, int, int] | None = None
    """(src, dst, datagram id, protocol) when this is the first fragment of a datagram."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one packet holds."""

    segments: tuple[Segment, ...] = ()
    """TCP and UDP headers, outermost first."""
    fragment_of: tuple[bytes, bytes, int, int] | None = None
    """(src, dst, datagram id, protocol) of a non-first fragment: it belongs to the flow of
    that datagram's first fragment."""
    fragment_last: bool = False
    """The non-first fragment is the datagram's last (more-fragments flag clear)."""
    reason: str | None = None
    """Why (part of) the packet could not be decoded; ``None`` when it could."""


class _Stop(Exception):
    """Decoding ends here, for the reason given."""


@dataclass(slots=True)
class _State:
    buf: bytes
    segments: list[Segment]
    fragment_of: tuple[bytes, bytes, int, int] | None = None
    fragment_last: bool = False


def decode(buf: bytes, linktype: int) -> Decoded:
    """Decode one captured packet of the given link type down to its TCP/UDP headers."""
    state = _State(buf, [])
    reason: str | None = None
    try:
        _link(state, linktype)
    except _Stop as stop:
        reason = str(stop)
    except (struct.error, IndexError):
        reason = "truncated packet"
    return Decoded(tuple(state.segments), state.fragment_of, state.fragment_last, reason)


def _link(s: _State, linktype: int, at: int = 0) -> None:
    buf, end = s.buf, len(s.buf)
    if linktype == 1:
        _ether(s, at, end, 0, None)
    elif linktype == 113:
        _need(buf, at + 16, "truncated Linux cooked header")
        _ethertype(s, _H(buf, at + 14)[0], at + 16, end, 0, None)
    elif linktype == 276:
        _need(buf, at + 20, "truncated Linux cooked v2 header")
        _ethertype(s, _H(buf, at)[0], at + 20, end, 0, None)
    elif linktype in (0, 108):
        _need(buf, at + 4, "truncated loopback header")
        family = int.from_bytes(buf[at : at + 4], "little")
        if linktype == 108 or family & 0xFFFF == 0:
            family = _I(buf, at)[0]
        if family == 2:
            _ip(s, at + 4, end, 0, None, version=4)
        elif family in (10, 23, 24, 28, 30):
            _ip(s, at + 4, end, 0, None, version=6)
    elif linktype in (101, 12, 14, 228):  # 228 (IPv4) is read as raw IP, as tshark does
        _ip(s, at, end, 0, None)
    elif linktype == 229:
        _ip(s, at, end, 0, None, version=6)
    elif linktype in (9, 50):
        _ppp(s, at, end, 0, None)
    elif linktype == 104:
        _need(buf, at + 4, "truncated Cisco HDLC header")
        _ethertype(s, _H(buf, at + 2)[0], at + 4, end, 0, None)
    elif linktype in (258, 149) and at == 0:  # Apple PKTAP: a header, then another link type
        _need(buf, 8, "truncated PKTAP header")
        length, inner = struct.unpack_from("<II", buf, 0)
        if length < 8 or inner in (258, 149):
            raise _Stop("bad PKTAP header")
        _link(s, inner, length)
    elif linktype == 239:
        _nflog(s, at, end)
    else:
        raise _Stop(f"unsupported link type {linktype}")


def _nflog(s: _State, at: int, end: int) -> None:
    """Linux NFLOG: a 4-byte header, then TLVs (little-endian); type 9 is the packet."""
    buf = s.buf
    _need(buf, at + 4, "truncated NFLOG header")
    family, pos = buf[at], at + 4
    while pos + 4 <= end:
        length, kind = struct.unpack_from("<HH", buf, pos)
        if length < 4:
            raise _Stop("bad NFLOG TLV length")
        if kind & 0x7FFF == 9:
            stop = min(end, pos + length)
            _ip(s, pos + 4, stop, 0, None, version=4 if family == 2 else 6)
            return
        pos += (length + 3) & ~3


def _need(buf: bytes, end: int, why: str) -> None:
    if len(buf) < end:
        raise _Stop(why)


def _ether(s: _State, at: int, end: int, depth: int, tunnel: Tunnel | None) -> None:
    _need(s.buf, at + 14, "truncated Ethernet header")
    _ethertype(s, _H(s.buf, at + 12)[0], at + 14, end, depth, tunnel)


def _ethertype(s: _State, etype: int, at: int, end: int, depth: int, tunnel: Tunnel | None) -> None:
    buf = s.buf
    for _ in range(MAX_DEPTH):
        if etype in VLAN_TYPES:
            _need(buf, at + 4, "truncated VLAN tag")
            etype, at = _H(buf, at + 2)[0], at + 4
        elif etype < 0x0600:  # 802.3 length field: 802.2 LLC follows, maybe with SNAP
            if len(buf) >= at + 8 and buf[at] == 0xAA and buf[at + 1] == 0xAA:
                etype, at = _H(buf, at + 6)[0], at + 8
            else:
                return
        elif etype == 0x8864:  # PPPoE session: 6-byte header, then a PPP protocol number
            _need(buf, at + 8, "truncated PPPoE header")
            etype = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}.get(_H(buf, at + 6)[0], 0)
            at += 8
        elif etype == 0x88E5:  # MACsec: readable only when neither encrypted nor changed
            _need(buf, at + 1, "truncated MACsec header")
            tci = buf[at]
            if tci & 0x0C:
                return
            at += 14 if tci & 0x20 else 6
            _need(buf, at + 2, "truncated MACsec header")
            etype, at = _H(buf, at)[0], at + 2
        elif etype == 0x894F:  # NSH: its length in 4-byte words, then its next protocol
            _need(buf, at + 4, "truncated NSH header")
            etype = _NSH_NEXT.get(buf[at + 3], 0)
            at += (buf[at + 1] & 0x3F) * 4
            if etype == 0x6558:
                _ether(s, at, end, depth + 1, tunnel)
                return
        elif etype in (0x8847, 0x8848):  # MPLS: labels until bottom of stack, then guess IP
            while True:
                _need(buf, at + 4, "truncated MPLS label")
                bottom = buf[at + 2] & 1
                at += 4
                if bottom:
                    break
            _need(buf, at + 1, "truncated MPLS payload")
            etype = {4: ETH_IPV4, 6: ETH_IPV6}.get(buf[at] >> 4, 0)
        else:
            break
    if etype == ETH_IPV4:
        _ip(s, at, end, depth, tunnel, version=4)
    elif etype == ETH_IPV6:
        _ip(s, at, end, depth, tunnel, version=6)


def _ppp(s: _State, at: int, end: int, depth: int, tunnel: Tunnel | None) -> None:
    buf = s.buf
    _need(buf, at + 2, "truncated PPP header")
    if buf[at] == 0xFF and buf[at + 1] == 0x03:
        at += 2
    _need(buf, at + 1, "truncated PPP header")
    if buf[at] & 1:  # protocol field compression: one byte
        proto, at = buf[at], at + 1
    else:
        _need(buf, at + 2, "truncated PPP header")
        proto, at = _H(buf, at)[0], at + 2
    etype = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6, 0x0281: 0x8847, 0x0283: 0x8848}.get(proto)
    if etype is not None:
        _ethertype(s, etype, at, end, depth, tunnel)


def _ip(
    s: _State,
    at: int,
    end: int,
    depth: int,
    tunnel: Tunnel | None,
    version: int | None = None,
) -> None:
    buf = s.buf
    if depth > MAX_DEPTH:
        raise _Stop("encapsulation nested too deep")
    _need(buf, at + 1, "truncated IP header")
    found = buf[at] >> 4
    if version is not None and found != version:
        raise _Stop(f"bad IP version {found}")
    if found == 4:
        _need(buf, at + 20, "truncated IPv4 header")
        ihl = (buf[at] & 0x0F) * 4
        total, ident, frag = struct.unpack_from("!HHH", buf, at + 2)
        if ihl < 20:
            raise _Stop("bad IPv4 header length")
        if total == 0:  # TSO / BIG TCP: the length is the frame's
            total = end - at
        if total < ihl:
            raise _Stop("bad IPv4 total length")
        proto, src, dst = buf[at + 9], buf[at + 12 : at + 16], buf[at + 16 : at + 20]
        _need(buf, at + ihl, "truncated IPv4 options")
        stop = min(end, at + total)
        offset, more = frag & 0x1FFF, frag & 0x2000
        key = (src, dst, ident, proto)
        if offset:
            s.fragment_of, s.fragment_last = key, not more
            return
        _transport(s, proto, src, dst, at + ihl, stop, depth, tunnel, key if more else None)
    elif found == 6:
        _need(buf, at + 40, "truncated IPv6 header")
        plen, nxt = _H(buf, at + 4)[0], buf[at + 6]
        src, dst = buf[at + 8 : at + 24], buf[at + 24 : at + 40]
        stop = min(end, at + 40 + plen) if plen else end  # 0: jumbogram or TSO
        pos = at + 40
        fragment: tuple[bytes, bytes, int, int] | None = None
        for _ in range(MAX_DEPTH * 2):
            if nxt in _IPV6_EXT:
                _need(buf, pos + 2, "truncated IPv6 extension header")
                nxt, pos = buf[pos], pos + (buf[pos + 1] + 1) * 8
            elif nxt == 43:  # routing: the flow's destination is the last segment's (as tshark)
                _need(buf, pos + 8, "truncated IPv6 routing header")
                size, rtype, left = (buf[pos + 1] + 1) * 8, buf[pos + 2], buf[pos + 3]
                if left and rtype == 0 and size >= 24:
                    dst = buf[pos + size - 16 : pos + size]
                elif left and rtype in (2, 4) and size >= 24:
                    dst = buf[pos + 8 : pos + 24]
                _need(buf, pos + size, "truncated IPv6 routing header")
                nxt, pos = buf[pos], pos + size
            elif nxt == 51:  # AH counts 4-byte words
                _need(buf, pos + 2, "truncated IPv6 extension header")
                nxt, pos = buf[pos], pos + (buf[pos + 1] + 2) * 4
            elif nxt == 44:
                _need(buf, pos + 8, "truncated IPv6 fragment header")
                frag, ident = _H(buf, pos + 2)[0], _I(buf, pos + 4)[0]
                nxt, pos = buf[pos], pos + 8
                key = (src, dst, ident, -1)
                if frag & 0xFFF8:
                    s.fragment_of, s.fragment_last = key, not frag & 1
                    return
                if frag & 1:
                    fragment = key
            else:
                break
        if pos > stop:
            raise _Stop("bad IPv6 extension header length")
        _transport(s, nxt, src, dst, pos, stop, depth, tunnel, fragment)
    else:
        raise _Stop(f"bad IP version {found}")


def _transport(
    s: _State,
    proto: int,
    src: bytes,
    dst: bytes,
    at: int,
    end: int,
    depth: int,
    tunnel: Tunnel | None,
    fragment: tuple[bytes, bytes, int, int] | None,
) -> None:
    buf = s.buf
    if proto == 6:
        if at + 20 > min(end, len(buf)):
            raise _Stop("truncated TCP header")
        sport, dport, seq, ack = struct.unpack_from("!HHII", buf, at)
        hlen = (buf[at + 12] >> 4) * 4
        flags = _H(buf, at + 12)[0] & 0x01FF
        if hlen < 20:
            raise _Stop("bad TCP header length")
        if at + hlen > min(end, len(buf)):
            raise _Stop("truncated TCP options")
        body = at + hlen
        s.segments.append(
            Segment(6, src, dst, sport, dport, flags, seq, ack, body, min(end, len(buf)), tunnel,
                    fragment=fragment)
        )  # fmt: skip
    elif proto == 17:
        if at + 8 > min(end, len(buf)):
            raise _Stop("truncated UDP header")
        sport, dport, ulen = struct.unpack_from("!HHH", buf, at)
        if ulen < 8 and not (ulen == 0 and len(src) == 16):  # 0: an IPv6 jumbogram's
            raise _Stop("bad UDP length")
        stop = min(end, at + ulen) if ulen and fragment is None else end
        outer = dport in (VXLAN_PORT, GENEVE_PORT, VXLAN_GPE_PORT) and fragment is None
        s.segments.append(
            Segment(17, src, dst, sport, dport, 0, 0, 0, at + 8, min(stop, len(buf)), tunnel,
                    tunnel_outer=outer, fragment=fragment)
        )  # fmt: skip
        if outer:
            _overlay(s, src, dst, sport, dport, at + 8, stop, depth)
    elif fragment is not None:
        return
    elif proto in (4, 41):
        outer_tunnel = Tunnel("ipip", src, dst)
        _ip(s, at, end, depth + 1, outer_tunnel, version=4 if proto == 4 else 6)
    elif proto == 47:
        _gre(s, src, dst, at, end, depth)
    elif proto == 103:  # PIM register: a multicast packet sent to the rendezvous point
        _need(buf, at + 8, "truncated PIM header")
        if buf[at] & 0x0F == 1:
            _ip(s, at + 8, end, depth + 1, None)


def _overlay(
    s: _State, src: bytes, dst: bytes, sport: int, dport: int, at: int, end: int, depth: int
) -> None:
    buf = s.buf
    if dport == VXLAN_GPE_PORT:
        _need(buf, at + 8, "truncated VXLAN-GPE header")
        vni = int.from_bytes(buf[at + 4 : at + 7], "big")
        tunnel = Tunnel("vxlan", src, dst, sport, dport, vni)
        nxt = _NSH_NEXT.get(buf[at + 3], 0) if buf[at] & 0x04 else 0x6558
        if nxt == 0x6558:
            _ether(s, at + 8, end, depth + 1, tunnel)
        else:
            _ethertype(s, nxt, at + 8, end, depth + 1, tunnel)
        return
    if dport == VXLAN_PORT:
        _need(buf, at + 8, "truncated VXLAN header")
        vni = int.from_bytes(buf[at + 4 : at + 7], "big")
        _ether(s, at + 8, end, depth + 1, Tunnel("vxlan", src, dst, sport, dport, vni))
        return
    _need(buf, at + 8, "truncated Geneve header")
    opts = (buf[at] & 0x3F) * 4
    proto = _H(buf, at + 2)[0]
    vni = int.from_bytes(buf[at + 4 : at + 7], "big")
    tunnel = Tunnel("geneve", src, dst, sport, dport, vni)
    inner = at + 8 + opts
    if proto == 0x6558:
        _ether(s, inner, end, depth + 1, tunnel)
    else:
        _ethertype(s, proto, inner, end, depth + 1, tunnel)


def _gre(s: _State, src: bytes, dst: bytes, at: int, end: int, depth: int) -> None:
    buf = s.buf
    _need(buf, at + 4, "truncated GRE header")
    flags, proto = _HH(buf, at)
    if flags & 0x0007:  # only version 0 carries these payloads
        return
    pos = at + 4
    key = None
    if flags & 0x8000:  # checksum + reserved
        pos += 4
    if flags & 0x2000:
        _need(buf, pos + 4, "truncated GRE header")
        key = _I(buf, pos)[0]
        pos += 4
    if flags & 0x1000:  # sequence number
        pos += 4
    if flags & 0x4000:  # routing present (RFC 1701): not decoded
        return
    tunnel = Tunnel("gre", src, dst, vni=key)
    if proto == 0x88BE and flags & 0x1000:  # ERSPAN type II: an 8-byte header, then Ethernet
        _ether(s, pos + 8, end, depth + 1, tunnel)
    elif proto == 0x88BE:  # ERSPAN type I: no header
        _ether(s, pos, end, depth + 1, tunnel)
    elif proto == 0x22EB:  # ERSPAN type III: 12 bytes, 8 more with the platform sub-header
        _need(buf, pos + 12, "truncated ERSPAN header")
        _ether(s, pos + (20 if buf[pos + 11] & 1 else 12), end, depth + 1, tunnel)
    elif proto == 0x883E:  # WCCP redirect: a 4-byte header unless IPv4 follows at once
        _need(buf, pos + 1, "truncated WCCP header")
        skip = 0 if buf[pos] >> 4 == 4 else 4
        _ip(s, pos + skip, end, depth + 1, tunnel, version=4)
    elif proto == 0x6558:
        _ether(s, pos, end, depth + 1, tunnel)
    elif proto in (ETH_IPV4, ETH_IPV6):
        _ip(s, pos, end, depth + 1, tunnel, version=4 if proto == ETH_IPV4 else 6)

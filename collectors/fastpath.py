"""A batch of captured packets turned into flow rows, most of them without a Python loop.

This module owns the bulk path. For the shapes of packet that make up nearly all traffic
(Ethernet with up to two VLAN tags, Linux cooked capture v1/v2 or raw IP; IPv4 that is not a
fragment, or IPv6 without extension headers; a complete TCP or UDP header; not a tunnel) every
field is gathered with numpy over the memory-mapped file. Every other packet is handed to
:func:`collectors.packet_decode.decode`, the reference decoder, one at a time; packets that are
not IP at all (ARP, spanning tree, LLDP) are recognised by their EtherType and left alone.

:func:`rows_of` returns the rows in packet order, split into flow rows and the outer rows of
VXLAN/Geneve tunnels, plus what needs Python afterwards: DNS answers (segments from port 53) and
the reasons packets could not be decoded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collectors import packet_decode
from collectors.flows import SAW_SYN, SAW_SYNACK, Rows
from collectors.pcap_reader import Batch

I64 = npt.NDArray[np.int64]
_TUNNEL_PORTS = (packet_decode.VXLAN_PORT, packet_decode.GENEVE_PORT, packet_decode.VXLAN_GPE_PORT)
_IPV6_EXT = (0, 43, 44, 51, 60, 135, 139, 140, 253, 254)
_SPECIAL_ETYPES = np.array([0x8100, 0x88A8, 0x9100, 0x9200, 0x8847, 0x8848, 0x8864, 0x88E5, 0x894F])
#: First fragments, remembered so later fragments join their flow; oldest forgotten first.
MAX_FRAGMENTS = 65_536


@dataclass
class Fragments:
    """First fragments seen: datagram (src, dst, id, protocol) -> the flow row it started."""

    rows: dict[tuple[bytes, bytes, int, int], tuple[int, ...]] = field(default_factory=dict)

    def remember(self, key: tuple[bytes, bytes, int, int], row: tuple[int, ...]) -> None:
        if len(self.rows) >= MAX_FRAGMENTS:
            del self.rows[next(iter(self.rows))]
        self.rows[key] = row


@dataclass
class BatchRows:
    """What one batch contributes."""

    flows: Rows
    """Rows of flows (inner rows of tunnels included), in packet order."""
    outer: Rows
    """Outer UDP rows of VXLAN/Geneve packets."""
    tunnels: list[object]
    """Tunnels referred to by ``Rows.tunnel``."""
    dns: list[tuple[bytes, int, int]] = field(default_factory=list)
    """DNS payloads from port 53: (bytes, transport protocol, time in ns)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Packets (or parts of them) that could not be decoded, by reason."""


def _be(data: npt.NDArray[np.uint8], at: I64, width: int) -> I64:
    out = np.zeros(len(at), dtype=np.int64)
    for i in range(width):
        out = (out << 8) | data[at + i]
    return out


def _be64(data: npt.NDArray[np.uint8], at: I64) -> npt.NDArray[np.uint64]:
    out = np.zeros(len(at), dtype=np.uint64)
    for i in range(8):
        out = (out << np.uint64(8)) | data[at + i].astype(np.uint64)
    return out


def rows_of(batch: Batch, fragments: Fragments, *, fast: bool = True) -> BatchRows:
    """Decode a batch into flow rows (see the module docstring); ``fast=False`` hands every
    packet to the reference decoder (what the tests compare the fast path with)."""
    data, off, cap, lt = batch.data, batch.offset, batch.caplen, batch.linktype
    n = len(off)
    end = off + cap
    etype = np.zeros(n, dtype=np.int64)
    l3 = np.zeros(n, dtype=np.int64)
    eth = (lt == 1) & (cap >= 14)
    etype[eth] = _be(data, off[eth] + 12, 2)
    l3[eth] = off[eth] + 14
    for _ in range(2):
        tag = eth & ((etype == 0x8100) | (etype == 0x88A8)) & (l3 + 4 <= end)
        etype[tag] = _be(data, l3[tag] + 2, 2)
        l3[tag] += 4
    sll = (lt == 113) & (cap >= 16)
    etype[sll] = _be(data, off[sll] + 14, 2)
    l3[sll] = off[sll] + 16
    sll2 = (lt == 276) & (cap >= 20)
    etype[sll2] = _be(data, off[sll2], 2)
    l3[sll2] = off[sll2] + 20
    raw = np.isin(lt, (101, 228, 229, 12, 14)) & (cap >= 1)
    version = data[off[raw]] >> 4
    etype[raw] = np.where(version == 4, 0x0800, np.where(version == 6, 0x86DD, -1))
    etype[raw & (lt == 229) & (etype != 0x86DD)] = -1
    l3[raw] = off[raw]
    linked = eth | sll | sll2 | raw
    # not IP, and nothing that might carry IP: nothing to do (ARP, LLDP, STP...)
    ignored = linked & (etype >= 0x0600) & (etype != 0x0800) & (etype != 0x86DD)
    ignored &= ~np.isin(etype, _SPECIAL_ETYPES)

    v4 = linked & (etype == 0x0800) & (l3 + 20 <= end)
    v6 = linked & (etype == 0x86DD) & (l3 + 40 <= end)
    first = np.zeros(n, dtype=np.int64)
    first[v4 | v6] = data[l3[v4 | v6]]
    v4 &= (first >> 4) == 4
    v6 &= (first >> 4) == 6
    ihl = (first & 0x0F) * 4
    proto = np.zeros(n, dtype=np.int64)
    ip_end = np.zeros(n, dtype=np.int64)
    l4 = np.zeros(n, dtype=np.int64)
    total = _be(data, l3[v4] + 2, 2)
    frag = _be(data, l3[v4] + 6, 2)
    ok4 = (ihl[v4] >= 20) & (total >= ihl[v4]) & ((frag & 0x3FFF) == 0)
    v4[v4] = ok4
    proto[v4] = data[l3[v4] + 9]
    ip_end[v4] = np.minimum(l3[v4] + total[ok4], end[v4])
    l4[v4] = l3[v4] + ihl[v4]
    plen = _be(data, l3[v6] + 4, 2)
    v6[v6] = plen > 0
    proto[v6] = data[l3[v6] + 6]
    ip_end[v6] = np.minimum(l3[v6] + 40 + plen[plen > 0], end[v6])
    l4[v6] = l3[v6] + 40
    ip = v4 | v6
    # IP carrying something other than TCP, UDP or a tunnel (ICMP, ESP...): nothing to do
    wanted = np.isin(proto, (4, 41, 47, 103, 6, 17)) | (v6 & np.isin(proto, _IPV6_EXT))
    ignored |= ip & ~wanted
    tcp = ip & (proto == 6) & (l4 + 20 <= ip_end)
    hlen = np.zeros(n, dtype=np.int64)
    hlen[tcp] = (data[l4[tcp] + 12] >> 4).astype(np.int64) * 4
    tcp &= (hlen >= 20) & (l4 + hlen <= ip_end)
    udp = ip & (proto == 17) & (l4 + 8 <= ip_end)
    ulen = np.zeros(n, dtype=np.int64)
    ulen[udp] = _be(data, l4[udp] + 4, 2)
    dport = np.zeros(n, dtype=np.int64)
    dport[udp] = _be(data, l4[udp] + 2, 2)
    udp &= (ulen >= 8) & ~np.isin(dport, _TUNNEL_PORTS)
    quick = tcp | udp
    if not fast:
        quick = ignored = np.zeros(n, dtype=bool)
    slow = ~quick & ~ignored

    idx = np.flatnonzero(quick)
    at3, at4 = l3[idx], l4[idx]
    is6 = v6[idx]
    s_hi = np.zeros(len(idx), dtype=np.uint64)
    d_hi = np.zeros(len(idx), dtype=np.uint64)
    s_lo = np.zeros(len(idx), dtype=np.uint64)
    d_lo = np.zeros(len(idx), dtype=np.uint64)
    s_lo[~is6] = _be(data, at3[~is6] + 12, 4).astype(np.uint64)
    d_lo[~is6] = _be(data, at3[~is6] + 16, 4).astype(np.uint64)
    s_hi[is6], s_lo[is6] = _be64(data, at3[is6] + 8), _be64(data, at3[is6] + 16)
    d_hi[is6], d_lo[is6] = _be64(data, at3[is6] + 24), _be64(data, at3[is6] + 32)
    is_tcp = tcp[idx]
    t_at = at4[is_tcp]
    flags = np.zeros(len(idx), dtype=np.int64)
    seq = np.zeros(len(idx), dtype=np.int64)
    ack = np.zeros(len(idx), dtype=np.int64)
    flags[is_tcp] = _tcp_flags(_be(data, t_at + 12, 2) & 0x01FF)
    seq[is_tcp] = _be(data, t_at + 4, 4)
    ack[is_tcp] = _be(data, t_at + 8, 4)
    sport = _be(data, at4, 2)
    fast_rows = Rows(
        proto=proto[idx],
        fam=np.where(is6, 6, 4).astype(np.int64),
        s_hi=s_hi,
        s_lo=s_lo,
        d_hi=d_hi,
        d_lo=d_lo,
        sport=sport,
        dport=_be(data, at4 + 2, 2),
        flags=flags,
        seq=seq,
        ack=ack,
        wirelen=batch.wirelen[idx],
        ts_ns=batch.ts_ns[idx],
        tunnel=np.full(len(idx), -1, dtype=np.int64),
    )
    out = BatchRows(flows=fast_rows, outer=_empty(), tunnels=[])
    dns = np.flatnonzero(sport == 53)
    if len(dns):
        pay = np.where(is_tcp, at4 + hlen[idx], at4 + 8)
        pay_end = np.where(is_tcp, ip_end[idx], np.minimum(at4 + ulen[idx], ip_end[idx]))
        for i in dns.tolist():
            if pay_end[i] > pay[i]:
                payload = data[pay[i] : pay_end[i]].tobytes()
                out.dns.append((payload, int(proto[idx[i]]), int(batch.ts_ns[idx[i]])))
    if slow.any():
        _slow(batch, np.flatnonzero(slow), idx, out, fragments)
    return out


def _tcp_flags(bits: I64) -> I64:
    syn = (bits & 0x12) == 0x02
    synack = (bits & 0x12) == 0x12
    return bits | np.where(syn, SAW_SYN, 0) | np.where(synack, SAW_SYNACK, 0)


def _empty() -> Rows:
    i = np.zeros(0, dtype=np.int64)
    u = np.zeros(0, dtype=np.uint64)
    return Rows(i, i, u, u, u, u, i, i, i, i, i, i, i, i)


def split_addr(raw: bytes) -> tuple[int, int, int]:
    value = int.from_bytes(raw, "big")
    return (4 if len(raw) == 4 else 6), value >> 64, value & 0xFFFFFFFFFFFFFFFF


def _slow(batch: Batch, which: I64, fast_idx: I64, out: BatchRows, frags: Fragments) -> None:
    """Decode the unusual packets one by one and merge their rows in packet order."""
    data, off, cap = batch.data, batch.offset, batch.caplen
    flow_rows: list[tuple[int, ...]] = []  # packet index first, then the Rows columns
    outer_rows: list[tuple[int, ...]] = []
    tunnels: dict[object, int] = {}
    for i in which.tolist():
        o = int(off[i])
        buf = data[o : o + int(cap[i])].tobytes()
        got = packet_decode.decode(buf, int(batch.linktype[i]))
        if got.reason is not None:
            out.skipped[got.reason] += 1
        wire, ts = int(batch.wirelen[i]), int(batch.ts_ns[i])
        if got.fragment_of is not None:
            row = frags.rows.get(got.fragment_of)
            if row is None:
                out.skipped["IP fragment whose first fragment was not seen"] += 1
            else:
                flow_rows.append((i, *row[:-1], 0, 0, 0, wire, ts, row[-1]))
        for seg in got.segments:
            fam, s_hi, s_lo = split_addr(seg.src)
            _, d_hi, d_lo = split_addr(seg.dst)
            tun = -1
            if seg.tunnel is not None:
                tun = tunnels.setdefault(seg.tunnel, len(tunnels))
            flags = seg.flags
            if seg.proto == 6:
                flags |= (
                    SAW_SYN if flags & 0x12 == 0x02 else SAW_SYNACK if flags & 0x12 == 0x12 else 0
                )
            ident = (seg.proto, fam, s_hi, s_lo, d_hi, d_lo, seg.sport, seg.dport)
            row = (i, *ident, flags, seg.seq, seg.ack, wire, ts, tun)
            (outer_rows if seg.tunnel_outer else flow_rows).append(row)
            if seg.fragment is not None:
                frags.remember(seg.fragment, (*ident, tun))
            if seg.sport == 53 and seg.payload_end > seg.payload and not seg.tunnel_outer:
                out.dns.append((buf[seg.payload : seg.payload_end], seg.proto, ts))
    out.tunnels = list(tunnels)
    if outer_rows:
        out.outer = _rows(outer_rows)
    if flow_rows:
        slow_rows = _rows(flow_rows)
        order_of = np.concatenate([fast_idx, np.array([r[0] for r in flow_rows], dtype=np.int64)])
        merged = _concat(out.flows, slow_rows)
        out.flows = merged.take(np.argsort(order_of, kind="stable"))


def _rows(rows: list[tuple[int, ...]]) -> Rows:
    cols = list(zip(*rows, strict=True))
    i64 = [np.array(c if not 3 <= k < 7 else (), dtype=np.int64) for k, c in enumerate(cols)]
    u64 = [np.array(c, dtype=np.uint64) for c in cols[3:7]]
    return Rows(
        proto=i64[1], fam=i64[2], s_hi=u64[0], s_lo=u64[1], d_hi=u64[2], d_lo=u64[3],
        sport=i64[7], dport=i64[8], flags=i64[9], seq=i64[10], ack=i64[11],
        wirelen=i64[12], ts_ns=i64[13], tunnel=i64[14],
    )  # fmt: skip


def _concat(a: Rows, b: Rows) -> Rows:
    return Rows(
        **{
            name: np.concatenate([getattr(a, name), getattr(b, name)])
            for name in Rows.__dataclass_fields__
        }
    )

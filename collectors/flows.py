"""The flow table: TCP and UDP segments aggregated into connections, in bounded memory.

This module owns what a flow is and how packets add up into one. Input is a :class:`Rows` table
(one row per TCP/UDP header found, in packet order: from :mod:`collectors.fastpath`, which fills
it a batch at a time); :meth:`FlowTable.add` aggregates a whole table with numpy (one sort by a
64-bit key hash, then bincounts), then merges the few thousand distinct flows of the batch into
a dict. Output is :class:`topomap.model.Connection`.

What a flow is, and why (the same as Wireshark's conversation table, so the two can be checked
against each other):

* The 5-tuple, either direction: protocol, the two addresses and the two ports. ``original`` is
  the tuple of the first packet seen; ``packets_orig``/``bytes_orig`` count that direction.
* Bytes are frame bytes as they were on the wire (the capture's original length), like
  tshark's and Wireshark's conversation statistics. A tunnelled flow's bytes include the
  outer headers.
* A TCP SYN (without ACK) whose sequence number differs from the one already known for that
  direction of the flow starts a new flow with the same 5-tuple: the ports were reused for a new
  connection. The known sequence number is the first SYN's, else one less than the first
  segment's, else one less than the first acknowledgement the other side sent (Wireshark's
  rule, so reused ports split the same way).
* Initiator: the sender of a SYN; else the receiver of a SYN+ACK; else for UDP the sender of the
  first packet, unless that packet came from the service port (below); else the client side
  by port: a port below 1024 facing one above it, or below 32768 facing an ephemeral one, is the
  service; else ``unknown``.

Memory: at most ``max_flows`` flows are held; beyond that the least recently active tenth is
evicted (handed out as finished connections, counted in :attr:`FlowTable.evicted`). An evicted
flow that sends again starts a new record, so its counts are split, never lost.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from topomap import model

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

#: TCP flag names in bit order (FIN is bit 0), as written in :attr:`model.Connection.tcp_flags`.
TCP_FLAG_NAMES: tuple[model.TcpFlag, ...] = (
    "FIN",
    "SYN",
    "RST",
    "PSH",
    "ACK",
    "URG",
    "ECE",
    "CWR",
    "NS",
)
_SYN, _ACK = 0x02, 0x10
#: Pseudo-flags the aggregation ORs in: a bare SYN, a SYN+ACK (beyond TCP's 9 bits).
SAW_SYN, SAW_SYNACK = 1 << 12, 1 << 13
_UNSET = -1
DEFAULT_MAX_FLOWS = 500_000

Key = tuple[int, int, int, int, int, int, int, int]  # proto, fam, a_hi, a_lo, a_port, b_...


@dataclass
class Rows:
    """One row per TCP/UDP header, in packet order; all columns have the same length."""

    proto: I64
    fam: I64
    """4 or 6."""
    s_hi: U64
    """Source address, high 64 bits (0 for IPv4)."""
    s_lo: U64
    """Source address, low 64 bits (the IPv4 address)."""
    d_hi: U64
    d_lo: U64
    sport: I64
    dport: I64
    flags: I64
    """TCP flags, with :data:`SAW_SYN`/:data:`SAW_SYNACK` added."""
    seq: I64
    ack: I64
    wirelen: I64
    ts_ns: I64
    tunnel: I64
    """Index into the batch's list of tunnels, -1 for none."""

    def __len__(self) -> int:
        return len(self.proto)

    def take(self, which: npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice) -> Rows:
        return Rows(**{name: getattr(self, name)[which] for name in _COLUMNS})


_COLUMNS = tuple(Rows.__dataclass_fields__)


@dataclass(slots=True)
class Flow:
    """One flow being counted. Direction 0 is ``original`` (the first packet's)."""

    proto: int
    fam: int
    src: int
    dst: int
    sport: int
    dport: int
    first_ns: int
    last_ns: int
    packets: list[int] = field(default_factory=lambda: [0, 0])
    bytes: list[int] = field(default_factory=lambda: [0, 0])
    flags: list[int] = field(default_factory=lambda: [0, 0])
    base_seq: list[int] = field(default_factory=lambda: [_UNSET, _UNSET])
    tunnel: object | None = None


def _mix(x: U64) -> U64:
    """A 64-bit finaliser (splitmix64's): spreads every input bit over the whole hash."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _canonical(rows: Rows) -> tuple[npt.NDArray[np.bool_], list[U64]]:
    """Per row: whether it goes from the higher endpoint to the lower, and the key columns
    with the lower endpoint first (so both directions of a flow get the same key)."""
    s_port, d_port = rows.sport.astype(np.uint64), rows.dport.astype(np.uint64)
    rev = (rows.s_hi > rows.d_hi) | (
        (rows.s_hi == rows.d_hi)
        & ((rows.s_lo > rows.d_lo) | ((rows.s_lo == rows.d_lo) & (s_port > d_port)))
    )
    a_hi = np.where(rev, rows.d_hi, rows.s_hi)
    a_lo = np.where(rev, rows.d_lo, rows.s_lo)
    b_hi = np.where(rev, rows.s_hi, rows.d_hi)
    b_lo = np.where(rev, rows.s_lo, rows.d_lo)
    a_port = np.where(rev, d_port, s_port)
    b_port = np.where(rev, s_port, d_port)
    head = (rows.proto.astype(np.uint64) << np.uint64(8)) | rows.fam.astype(np.uint64)
    return rev, [head, a_hi, a_lo, a_port, b_hi, b_lo, b_port]


def _group(cols: list[U64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Group rows by key: (index of each group's first row, group of each row)."""
    with np.errstate(over="ignore"):
        h = np.zeros(len(cols[0]), dtype=np.uint64)
        for col in cols:
            h = _mix(h ^ col) + np.uint64(0x9E3779B97F4A7C15)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if all(bool(np.array_equal(col[first][inverse], col)) for col in cols):
        return first, inverse
    # a 64-bit collision inside one batch: fall back to the exact (slower) grouping
    stacked = np.stack(cols, axis=1)
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


class FlowTable:
    """Flows being counted, keyed by their canonical 5-tuple."""

    def __init__(self, max_flows: int = DEFAULT_MAX_FLOWS) -> None:
        self.max_flows = max_flows
        self.flows: dict[Key, Flow] = {}
        self.done: list[Flow] = []
        """Flows finished early: split by a reused port, or evicted from a full table."""
        self.evicted = 0

    def add(self, rows: Rows, tunnels: list[object] | None = None) -> None:
        """Count every row (in order) into its flow."""
        start = 0
        while start < len(rows):
            part = rows.take(slice(start, None)) if start else rows
            cut = self._aggregate(part, tunnels or [])
            if cut is None:
                break
            start += cut
        if len(self.flows) > self.max_flows:
            self._evict()

    def _aggregate(self, rows: Rows, tunnels: list[object]) -> int | None:
        """Count rows up to the first SYN that starts a new flow on a known 5-tuple; return
        where that SYN is (the caller goes on from it), or None when all rows were counted."""
        rev, cols = _canonical(rows)
        first, group = _group(cols)
        direction0 = rev.astype(np.intp)  # 0: the lower endpoint sent it
        keys = list(zip(*(c[first].tolist() for c in cols), strict=True))
        bases, known_at = _bases(rows, group, direction0, len(first))
        cut = self._reused_port(rows, keys, group, direction0, bases, known_at)
        if cut is None:
            self._count(rows, keys, first, group, direction0, bases, tunnels)
            return None
        key = keys[int(group[cut])]
        if cut:
            head = rows.take(slice(0, cut))
            rev, cols = _canonical(head)
            first, group = _group(cols)
            direction0 = rev.astype(np.intp)
            keys = list(zip(*(c[first].tolist() for c in cols), strict=True))
            bases, _ = _bases(head, group, direction0, len(first))
            self._count(head, keys, first, group, direction0, bases, tunnels)
        self._split(key)
        return cut

    def _reused_port(
        self,
        rows: Rows,
        keys: list[tuple[int, ...]],
        group: npt.NDArray[np.intp],
        direction0: npt.NDArray[np.intp],
        bases: I64,
        known_at: I64,
    ) -> int | None:
        """Index of the first bare SYN that starts a new flow on a known 5-tuple, if any."""
        candidates = np.flatnonzero((rows.proto == 6) & ((rows.flags & 0x12) == _SYN))
        for i in candidates.tolist():
            g, d = int(group[i]), int(direction0[i])
            base = _UNSET
            flow = self.flows.get(keys[g])  # type: ignore[arg-type]
            if flow is not None:
                base = flow.base_seq[d if _orig_is_lower(flow, keys[g]) else 1 - d]
            if base == _UNSET and known_at[g, d] < i:
                base = int(bases[g, d])
            if base != _UNSET and base != int(rows.seq[i]):
                return i
        return None

    def _split(self, key: tuple[int, ...]) -> None:
        flow = self.flows.pop(key, None)  # type: ignore[arg-type]
        if flow is not None:
            self.done.append(flow)

    def _count(
        self,
        rows: Rows,
        keys: list[tuple[int, ...]],
        first: npt.NDArray[np.intp],
        group: npt.NDArray[np.intp],
        direction0: npt.NDArray[np.intp],
        base: I64,
        tunnels: list[object],
    ) -> None:
        n_groups = len(first)
        slot = group * 2 + direction0
        packets = np.bincount(slot, minlength=2 * n_groups).reshape(-1, 2)
        nbytes = np.bincount(slot, weights=rows.wirelen, minlength=2 * n_groups).reshape(-1, 2)
        flat = np.zeros(2 * n_groups, dtype=np.int64)
        np.bitwise_or.at(flat, slot, rows.flags)
        flags = flat.reshape(-1, 2)
        t_first = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
        t_last = np.full(n_groups, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(t_first, group, rows.ts_ns)
        np.maximum.at(t_last, group, rows.ts_ns)
        table = self.flows
        lists = (
            packets.tolist(),
            nbytes.astype(np.int64).tolist(),
            flags.tolist(),
            t_first.tolist(),
            t_last.tolist(),
            base.tolist(),
        )
        first_dir = direction0[first].tolist()
        first_tun = rows.tunnel[first].tolist()
        for g, (pk, by, fl, t0, t1, bs) in enumerate(zip(*lists, strict=True)):
            key: Key = keys[g]  # type: ignore[assignment]
            flow = table.get(key)
            if flow is None:
                proto, fam = key[0] >> 8, key[0] & 0xFF
                lo_first = first_dir[g] == 0
                a = (key[1] << 64) | key[2]
                b = (key[4] << 64) | key[5]
                src, dst = (a, b) if lo_first else (b, a)
                sport, dport = (key[3], key[6]) if lo_first else (key[6], key[3])
                tun = first_tun[g]
                flow = Flow(
                    proto, fam, src, dst, sport, dport, t0, t1,
                    tunnel=tunnels[tun] if tun >= 0 else None,
                )  # fmt: skip
                table[key] = flow
            else:
                flow.first_ns = min(flow.first_ns, t0)
                flow.last_ns = max(flow.last_ns, t1)
            o = 0 if _orig_is_lower(flow, key) else 1  # canonical direction of "original"
            flow.packets[0] += pk[o]
            flow.packets[1] += pk[1 - o]
            flow.bytes[0] += by[o]
            flow.bytes[1] += by[1 - o]
            flow.flags[0] |= fl[o]
            flow.flags[1] |= fl[1 - o]
            for d in (0, 1):
                if flow.base_seq[d] == _UNSET:
                    flow.base_seq[d] = bs[o if d == 0 else 1 - o]

    def _evict(self) -> None:
        keep = int(self.max_flows * 0.9)
        by_age = sorted(self.flows.items(), key=lambda kv: kv[1].last_ns)
        for key, flow in by_age[: len(by_age) - keep]:
            del self.flows[key]
            self.done.append(flow)
            self.evicted += 1

    def finish(self) -> list[Flow]:
        """Every flow, finished early or still open, in order of first packet."""
        out = self.done + list(self.flows.values())
        self.done, self.flows = [], {}
        out.sort(key=lambda f: (f.first_ns, f.proto, f.src, f.sport, f.dst, f.dport))
        return out


def _bases(rows: Rows, group: I64, direction0: I64, n_groups: int) -> tuple[I64, I64]:
    """Per group and canonical direction: the base sequence number these rows set (the first
    SYN's, else the first segment's minus one, else the other side's first ACK minus one,
    whichever came first; -1 for none), and the row where it was set."""
    n = len(rows)
    order = np.arange(n, dtype=np.int64)
    big = np.int64(n + 1)
    tcp = rows.proto == 6
    own_at = np.full(2 * n_groups, big, dtype=np.int64)
    np.minimum.at(own_at, (group * 2 + direction0)[tcp], order[tcp])
    acked = tcp & ((rows.flags & _ACK) != 0)
    ack_at = np.full(2 * n_groups, big, dtype=np.int64)
    np.minimum.at(ack_at, (group * 2 + 1 - direction0)[acked], order[acked])
    out = np.full(2 * n_groups, _UNSET, dtype=np.int64)
    own_first = (own_at < big) & (own_at <= ack_at)
    idx = own_at[own_first]
    syn = (rows.flags[idx] & _SYN) != 0
    out[own_first] = np.where(syn, rows.seq[idx], (rows.seq[idx] - 1) & 0xFFFFFFFF)
    by_ack = (ack_at < big) & ~own_first
    out[by_ack] = (rows.ack[ack_at[by_ack]] - 1) & 0xFFFFFFFF
    return out.reshape(-1, 2), np.minimum(own_at, ack_at).reshape(-1, 2)


def _orig_is_lower(flow: Flow, key: tuple[int, ...]) -> bool:
    return flow.src == ((key[1] << 64) | key[2]) and flow.sport == key[3]


def address(fam: int, value: int) -> str:
    """An address held as an integer, as canonical text."""
    if fam == 4:
        return socket.inet_ntop(socket.AF_INET, (value & 0xFFFFFFFF).to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def _service_side(sport: int, dport: int) -> str | None:
    """Which end's port looks like the service: ``src``, ``dst`` or None."""
    for limit in (1024, 32768):
        if sport < limit <= dport:
            return "src"
        if dport < limit <= sport:
            return "dst"
    return None


def initiator(flow: Flow) -> model.Initiator:
    """Who opened the flow, relative to its original tuple (see the module docstring)."""
    if flow.proto == 6:
        for d in (0, 1):
            if flow.flags[d] & SAW_SYN:
                return "src" if d == 0 else "dst"
        for d in (0, 1):
            if flow.flags[d] & SAW_SYNACK:
                return "dst" if d == 0 else "src"
        service = _service_side(flow.sport, flow.dport)
        return "unknown" if service is None else ("src" if service == "dst" else "dst")
    return "dst" if _service_side(flow.sport, flow.dport) == "src" else "src"


def flag_names(bits: int) -> tuple[model.TcpFlag, ...]:
    return tuple(name for i, name in enumerate(TCP_FLAG_NAMES) if bits >> i & 1)


def time_of(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )

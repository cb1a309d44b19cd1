"""The framing of capture files: pcap and pcapng records as numpy arrays over a memory map.

This module owns finding the packets in a file, nothing about what is inside them. It reads
classic pcap (microsecond and nanosecond timestamps, either byte order, and the 'modified'
Kuznetzov variant with its longer record header) and pcapng (any number of sections, each with
its own byte order and interfaces; each interface with its own link type, snap length and
timestamp resolution and offset; enhanced, simple and obsolete packet blocks). A file is
memory-mapped and walked in batches: the walk itself is a tight loop over record headers, and
everything else about a batch (timestamps, lengths, link types) is gathered with numpy, so a
batch of a few hundred thousand packets costs a handful of array operations.

A file that ends in the middle of a record gives every packet before the cut and a warning
saying where it was cut (:attr:`CaptureFile.warnings`); a record whose length cannot be right
(longer than the file, or a pcapng block whose trailing length does not match) ends the walk the
same way, since nothing after it can be found reliably. Packets whose captured bytes were cut
by the snap length are returned as they are: their ``caplen`` is less than ``wirelen``.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from topomap.errors import InputError

Array = npt.NDArray[np.int64]

#: Packets per batch: big enough that numpy's per-call cost vanishes, small enough to stream.
BATCH = 1 << 18
#: ... and at most this many bytes of file per batch: the memory one batch needs.
BATCH_BYTES = 32 << 20
#: A record claiming more than this is corrupt (pcap's and pcapng's own readers use 256 MiB).
MAX_RECORD = 256 << 20

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000, 16),
    b"\xa1\xb2\xc3\xd4": (">", 1000, 16),
    b"\x4d\x3c\xb2\xa1": ("<", 1, 16),
    b"\xa1\xb2\x3c\x4d": (">", 1, 16),
    b"\x34\xcd\xb2\xa1": ("<", 1000, 24),  # Kuznetzov's modified pcap: 8 more header bytes
    b"\xa1\xb2\xcd\x34": (">", 1000, 24),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


@dataclass
class Batch:
    """Up to :data:`BATCH` consecutive packets of one file, as parallel arrays."""

    data: npt.NDArray[np.uint8]
    """The whole file as bytes (a view of the memory map); offsets index into it."""
    offset: Array
    """Where each packet's captured bytes start."""
    caplen: Array
    """How many bytes of each packet were captured."""
    wirelen: Array
    """How long each packet was on the wire (what tshark counts as a frame's bytes)."""
    ts_ns: Array
    """Arrival time of each packet in nanoseconds since the Unix epoch (UTC)."""
    linktype: Array
    """Link-layer header type of each packet (LINKTYPE_* numbers: 1 Ethernet, 113 SLL...)."""
    first_index: int
    """Number of the batch's first packet in the file, counting from 0."""

    def __len__(self) -> int:
        return len(self.offset)


@dataclass
class CaptureFile:
    """A capture file opened for reading; iterate :meth:`batches`, then read the warnings."""

    path: Path
    warnings: list[str] = field(default_factory=list)
    """Problems with the file itself: where it was cut, a corrupt record."""
    packets: int = 0
    """Packets read so far."""
    linktypes: set[int] = field(default_factory=set)
    """Link types of the interfaces seen."""

    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        """Walk the file; every packet up to the first corrupt or cut record, in order."""
        try:
            with open(self.path, "rb") as handle:
                if handle.seek(0, 2) == 0:
                    raise InputError(f"{self.path}: empty file, not a capture")
                mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror}") from exc
        try:
            data = np.frombuffer(mm, dtype=np.uint8)
            head = bytes(mm[:4])
            if head in _PCAP_MAGIC:
                yield from self._pcap(mm, data, size)
            elif head == _PCAPNG_SHB:
                yield from self._pcapng(mm, data, size)
            else:
                raise InputError(
                    f"{self.path}: not a pcap or pcapng file (starts with {head.hex()})"
                )
        finally:
            del data
            try:
                mm.close()
            except BufferError:  # a caller still holds a batch: the map goes with the last one
                pass

    def _cut(self, where: int, what: str, pending: int = 0) -> None:
        read = self.packets + pending
        self.warnings.append(
            f"{self.path.name}: {what} at byte {where}; read the {read} packets before it"
        )

    def _pcap(self, mm: mmap.mmap, data: npt.NDArray[np.uint8], size: int) -> Iterator[Batch]:
        order, per_usec, rec = _PCAP_MAGIC[bytes(mm[:4])]
        if len(mm) < 24:
            self._cut(len(mm), "file header cut short")
            return
        linktype = struct.unpack_from(order + "I", mm, 20)[0] & 0xFFFF
        self.linktypes.add(linktype)
        incl_at = struct.Struct(order + "I").unpack_from
        end, off = len(mm), 24
        while True:
            starts: list[int] = []
            limit = off + BATCH_BYTES
            while off < end and len(starts) < size and off < limit:
                if off + rec > end:
                    self._cut(off, "file cut in a packet header", len(starts))
                    end = off
                    break
                incl = incl_at(mm, off + 8)[0]
                if incl > MAX_RECORD:
                    self._cut(off, f"corrupt packet header (captured length {incl})", len(starts))
                    end = off
                    break
                if off + rec + incl > end:
                    self._cut(
                        off, f"file cut in packet {self.packets + len(starts) + 1}", len(starts)
                    )
                    end = off
                    break
                starts.append(off)
                off += rec + incl
            if not starts:
                return
            hdr = np.array(starts, dtype=np.int64)
            sec, frac = _u32(data, hdr, order), _u32(data, hdr + 4, order)
            batch = Batch(
                data=data,
                offset=hdr + rec,
                caplen=_u32(data, hdr + 8, order),
                wirelen=_u32(data, hdr + 12, order),
                ts_ns=sec * 1_000_000_000 + frac * per_usec,
                linktype=np.full(len(hdr), linktype, dtype=np.int64),
                first_index=self.packets,
            )
            self.packets += len(hdr)
            yield batch
            _release(mm, off)

    def _pcapng(self, mm: mmap.mmap, data: npt.NDArray[np.uint8], size: int) -> Iterator[Batch]:
        end, off = len(mm), 0
        order = "<"
        # per interface of the current section: (linktype, snaplen, ticks per second, offset s)
        ifaces: list[tuple[int, int, int, int]] = []
        while True:
            # data, caplen, wire, ts high, ts low, linktype, ticks per second, offset s
            rows: list[tuple[int, int, int, int, int, int, int, int]] = []
            limit = off + BATCH_BYTES
            while off < end and len(rows) < size and off < limit:
                if off + 12 > end:
                    self._cut(off, "file cut in a block header", len(rows))
                    end = off
                    break
                if bytes(mm[off : off + 4]) == _PCAPNG_SHB:
                    bom = bytes(mm[off + 8 : off + 12])
                    if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                        self._cut(off, "bad section header byte-order magic", len(rows))
                        end = off
                        break
                    order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                    ifaces = []
                btype, blen = struct.unpack_from(order + "II", mm, off)
                if blen < 12 or blen % 4 or blen > MAX_RECORD:
                    self._cut(off, f"corrupt block (length {blen})", len(rows))
                    end = off
                    break
                if off + blen > end:
                    self._cut(off, "file cut in a block", len(rows))
                    end = off
                    break
                if struct.unpack_from(order + "I", mm, off + blen - 4)[0] != blen:
                    self._cut(off, "corrupt block (trailing length differs)", len(rows))
                    end = off
                    break
                body, body_end = off + 8, off + blen - 4
                if btype == 1 and body + 8 <= body_end:
                    ifaces.append(_interface(mm, order, body, body_end))
                    self.linktypes.add(ifaces[-1][0])
                elif btype in (6, 2) and body + 20 <= body_end:
                    if btype == 6:
                        iface, hi, lo, cap, wire = struct.unpack_from(order + "IIIII", mm, body)
                    else:
                        iface, _drops, hi, lo, cap, wire = struct.unpack_from(
                            order + "HHIIII", mm, body
                        )
                    if iface < len(ifaces) and body + 20 + cap <= body_end:
                        link, _snap, per_s, offset_s = ifaces[iface]
                        rows.append((body + 20, cap, wire, hi, lo, link, per_s, offset_s))
                elif btype == 3 and body + 4 <= body_end and ifaces:
                    wire = struct.unpack_from(order + "I", mm, body)[0]
                    link, snap, per_s, offset_s = ifaces[0]
                    cap = min(wire, snap or wire, body_end - body - 4)
                    rows.append((body + 4, cap, wire, 0, 0, link, per_s, offset_s))
                off += blen
            if not rows:
                return
            table = np.array(rows, dtype=np.int64).reshape(-1, 8)
            batch = Batch(
                data=data,
                offset=table[:, 0],
                caplen=table[:, 1],
                wirelen=table[:, 2],
                ts_ns=_ticks_to_ns(table[:, 3], table[:, 4], table[:, 6]) + table[:, 7] * 10**9,
                linktype=table[:, 5],
                first_index=self.packets,
            )
            self.packets += len(table)
            yield batch
            _release(mm, off)


def _release(mm: mmap.mmap, upto: int) -> None:
    """Drop the pages already read from this process's memory (they stay in the page cache),
    so reading a file of any size needs the memory of one batch, not of the file."""
    upto -= upto % mmap.PAGESIZE
    if upto > 0 and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED, 0, upto)


def _ticks_to_ns(hi: Array, lo: Array, per_s: Array) -> Array:
    """pcapng's 64-bit tick counts (high and low words) in nanoseconds, without overflow."""
    ticks = (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)
    per = per_s.astype(np.uint64)
    whole = (ticks // per).astype(np.int64) * 1_000_000_000
    rest = ticks % per
    fine = per > np.uint64(1_000_000_000)
    frac = np.where(
        fine,
        rest // np.maximum(per // np.uint64(1_000_000_000), np.uint64(1)),
        rest * np.uint64(1_000_000_000) // per,
    )
    return whole + frac.astype(np.int64)


def _interface(mm: mmap.mmap, order: str, body: int, end: int) -> tuple[int, int, int, int]:
    """An interface description block: (link type, snap length, ticks per second, offset s)."""
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", mm, body)
    per_s, offset_s = 1_000_000, 0
    at = body + 8
    while at + 4 <= end:
        code, length = struct.unpack_from(order + "HH", mm, at)
        if code == 0:
            break
        value = at + 4
        if code == 9 and length >= 1:  # if_tsresol: 10^-n, or 2^-n with the top bit set
            res = mm[value]
            per_s = 1 << (res & 0x7F) if res & 0x80 else 10 ** min(res, 18)
        elif code == 14 and length >= 8:  # if_tsoffset: seconds added to every timestamp
            offset_s = struct.unpack_from(order + "q", mm, value)[0]
        at = value + (length + 3) // 4 * 4
    return linktype, snaplen, max(per_s, 1), offset_s


def _u32(data: npt.NDArray[np.uint8], at: Array, order: str) -> Array:
    """Unsigned 32-bit integers at the given byte offsets, in the file's byte order."""
    b0, b1, b2, b3 = (data[at + i].astype(np.int64) for i in range(4))
    if order == "<":
        return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
    return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3

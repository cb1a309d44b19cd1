"""Small capture files written by the tests: pcap in every variant, and pcapng by hand."""

from __future__ import annotations

import struct
from pathlib import Path

Packet = tuple[float, bytes]  # (time in seconds, frame bytes)


def write_pcap(
    path: Path, packets: list[Packet], *, linktype: int = 1, nano: bool = False, order: str = "<"
) -> Path:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for t, frame in packets:
        sec = int(t)
        frac = round((t - sec) * (1e9 if nano else 1e6))
        out.append(struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def write_pcapng(
    path: Path, sections: list[list[tuple[int, int, list[tuple[int, Packet]]]]]
) -> Path:
    """``sections``: per section, interfaces as (linktype, tsresol exponent, packets) where each
    packet is (interface index, (time, bytes)); packets are written in the order given."""
    out = []
    for interfaces in sections:
        out.append(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for linktype, exponent, _ in interfaces:
            opts = struct.pack("<HHB3x", 9, 1, exponent) + struct.pack("<HH", 0, 0)
            out.append(_block(1, struct.pack("<HHI", linktype, 0, 0) + opts))
        packets = sorted(
            (p for _, _, pkts in interfaces for p in pkts), key=lambda item: item[1][0]
        )
        for iface, (t, frame) in packets:
            ticks = round(t * 10 ** interfaces[iface][1])
            head = struct.pack(
                "<IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)
            )
            out.append(_block(6, head + frame))
    path.write_bytes(b"".join(out))
    return path

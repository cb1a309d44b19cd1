"""ctnetlink message decoding, on messages built byte by byte as the kernel lays them out."""

from __future__ import annotations

import struct

import pytest

from collectors.conntrack_text import ConntrackEntry, ConntrackTuple
from collectors.ctnetlink_decode import Decoder
from tests.collectors.conntrack_lab import attr, ct_message

ASSURED_SEEN = (1 << 1) | (1 << 2) | (1 << 3)
CONFIRMED = 1 << 3


def decode(decoder: Decoder, message: bytes) -> object:
    return decoder.decode(bytearray(message), 0, len(message), {})


def tup(src: str, dst: str, sport: int | None = None, dport: int | None = None) -> ConntrackTuple:
    return ConntrackTuple(src, dst, sport, dport)


CASES = [
    (
        "tcp established, assured, mark",
        ct_message(1, "10.0.0.1", "10.0.0.2", 6, 40000, 443, state=3, mark=7, timeout=431999),
        ConntrackEntry(
            family=4,
            protocol="tcp",
            timeout=431999,
            state="ESTABLISHED",
            original=tup("10.0.0.1", "10.0.0.2", 40000, 443),
            reply=tup("10.0.0.2", "10.0.0.1", 443, 40000),
            assured=True,
            mark=7,
            zone=0,
        ),
    ),
    (
        "tcp DNAT: reply from the backend, counters",
        ct_message(
            1,
            "10.244.0.5",
            "10.96.0.20",
            6,
            40000,
            7070,
            state=7,
            reply_src="10.244.1.7",
            counters=(10, 1000, 8, 5000),
        ),
        ConntrackEntry(
            family=4,
            protocol="tcp",
            timeout=3600,
            state="TIME_WAIT",
            original=tup("10.244.0.5", "10.96.0.20", 40000, 7070),
            reply=tup("10.244.1.7", "10.244.0.5", 7070, 40000),
            packets_orig=10,
            bytes_orig=1000,
            packets_reply=8,
            bytes_reply=5000,
            assured=True,
            zone=0,
        ),
    ),
    (
        "udp ipv6 unreplied, compressed addresses, zone",
        ct_message(1, "fd00:10::5", "fd00:96::a", 17, 5353, 53, status=CONFIRMED, zone=3),
        ConntrackEntry(
            family=6,
            protocol="udp",
            timeout=3600,
            state=None,
            original=tup("fd00:10::5", "fd00:96::a", 5353, 53),
            reply=tup("fd00:96::a", "fd00:10::5", 53, 5353),
            unreplied=True,
            zone=3,
        ),
    ),
    (
        "icmp: no ports",
        ct_message(1, "10.0.0.1", "203.0.113.7", 1, 4242),
        ConntrackEntry(
            family=4,
            protocol="icmp",
            timeout=3600,
            state=None,
            original=tup("10.0.0.1", "203.0.113.7"),
            reply=tup("203.0.113.7", "10.0.0.1"),
            assured=True,
            zone=0,
        ),
    ),
    (
        "sctp cookie wait",
        ct_message(1, "10.0.0.1", "10.0.0.2", 132, 36412, 36412, state=2),
        ConntrackEntry(
            family=4,
            protocol="sctp",
            timeout=3600,
            state="COOKIE_WAIT",
            original=tup("10.0.0.1", "10.0.0.2", 36412, 36412),
            reply=tup("10.0.0.2", "10.0.0.1", 36412, 36412),
            assured=True,
            zone=0,
        ),
    ),
    (
        "offloaded: not printed as assured, as /proc does",
        ct_message(1, "10.0.0.1", "10.0.0.2", 6, 1, 2, state=3, status=ASSURED_SEEN | 1 << 14),
        ConntrackEntry(
            family=4,
            protocol="tcp",
            timeout=3600,
            state="ESTABLISHED",
            original=tup("10.0.0.1", "10.0.0.2", 1, 2),
            reply=tup("10.0.0.2", "10.0.0.1", 2, 1),
            zone=0,
        ),
    ),
    (
        "unknown attributes (labels, a newer kernel's 99) are skipped by length",
        ct_message(
            1, "10.0.0.1", "10.0.0.2", 17, 1, 2, extra=attr(22, b"\1" * 16) + attr(99, b"x")
        ),
        ConntrackEntry(
            family=4,
            protocol="udp",
            timeout=3600,
            state=None,
            original=tup("10.0.0.1", "10.0.0.2", 1, 2),
            reply=tup("10.0.0.2", "10.0.0.1", 2, 1),
            assured=True,
            zone=0,
        ),
    ),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decode(message: bytes, expected: ConntrackEntry) -> None:
    assert decode(Decoder(), message) == expected


def test_layout_is_reused_and_rechecked() -> None:
    decoder = Decoder()
    first = ct_message(1, "10.0.0.1", "10.0.0.2", 6, 1000, 80, state=3, mark=5)
    second = ct_message(2, "10.9.9.9", "10.8.8.8", 6, 2000, 443, state=8, mark=6)
    # Same length and family, another layout: a zone where the mark was.
    other = ct_message(3, "10.0.0.1", "10.0.0.2", 6, 1000, 80, state=3, zone=4)
    assert len(first) == len(second) == len(other)
    a, b, c = (decode(decoder, m) for m in (first, second, other))
    assert decoder.learned == 2
    assert isinstance(a, ConntrackEntry) and isinstance(b, ConntrackEntry)
    assert isinstance(c, ConntrackEntry)
    assert (a.original, a.state, a.mark, a.zone) == (
        tup("10.0.0.1", "10.0.0.2", 1000, 80),
        "ESTABLISHED",
        5,
        0,
    )
    assert (b.original, b.state, b.mark, b.zone) == (
        tup("10.9.9.9", "10.8.8.8", 2000, 443),
        "CLOSE",
        6,
        0,
    )
    assert (c.mark, c.zone) == (None, 4)


def test_protocol_number_is_part_of_the_layout() -> None:
    decoder = Decoder()
    udp = decode(decoder, ct_message(1, "10.0.0.1", "10.0.0.2", 17, 1, 2))
    gre = decode(decoder, ct_message(1, "10.0.0.1", "10.0.0.2", 47, 1, 2))  # same layout
    assert isinstance(udp, ConntrackEntry) and udp.protocol == "udp"
    assert gre == "unsupported protocol"


def test_malformed_messages_are_skipped() -> None:
    good = ct_message(1, "10.0.0.1", "10.0.0.2", 6, 1, 2, state=3)
    # An attribute claiming to run past its parent.
    bad = bytearray(good)
    struct.pack_into("=H", bad, 20, 2000)
    assert decode(Decoder(), bytes(bad)) == "malformed"
    # No addresses at all: only a timeout.
    header = struct.pack("=IHHII", 28, 0x100, 0, 1, 0) + struct.pack("=BBH", 2, 0, 0)
    assert decode(Decoder(), header + attr(7, struct.pack(">I", 5))) == "malformed"
    # An address family that is not IPv4 or IPv6.
    odd = bytearray(good)
    odd[16] = 7
    assert decode(Decoder(), bytes(odd)) == "malformed"


def test_layout_cache_is_bounded() -> None:
    decoder = Decoder(max_templates=4)
    for n in range(40):  # 40 message lengths: 40 layouts, never more than 4 kept
        decode(
            decoder, ct_message(1, "10.0.0.1", "10.0.0.2", 17, 1, 2, extra=attr(99, b"x" * n * 4))
        )
    assert decoder.learned == 40
    assert len(decoder._templates) <= 4

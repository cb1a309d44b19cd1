"""parse_conntrack_line/text against real /proc/net/nf_conntrack and `conntrack -L` shapes."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors import conntrack_text
from collectors.conntrack_text import (
    ConntrackEntry,
    ConntrackTuple,
    parse_conntrack_line,
    parse_conntrack_text,
    to_connection,
)
from topomap import model

_C_PARSER: ModuleType | None
try:
    from collectors import _conntrack_speedups as _C_PARSER
except ImportError:
    _C_PARSER = None


@pytest.fixture(autouse=True, params=["C", "Python"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the C parser of the common lines and with the pure-Python path."""
    if request.param == "C":
        if _C_PARSER is None and os.environ.get("TOPOMAP_REQUIRE_C_PARSER"):
            pytest.fail("TOPOMAP_REQUIRE_C_PARSER is set, but the C parser was not built")
        if _C_PARSER is None:
            pytest.skip(
                "the C parser collectors._conntrack_speedups is not built (no C compiler or "
                "Python headers when topomap was installed)"
            )
        monkeypatch.setattr(conntrack_text, "_speedups", _C_PARSER)
    else:
        monkeypatch.setattr(conntrack_text, "_speedups", None)
    return str(request.param)


V6_POD = "fd00:0010:0244:0001:0000:0000:0000:0005"
V6_SVC = "fd00:0010:0096:0000:0000:0000:0000:0020"
V6_BACKEND = "fd00:0010:0244:0002:0000:0000:0000:0007"


def tup(src: str, dst: str, sport: int | None = None, dport: int | None = None) -> ConntrackTuple:
    return ConntrackTuple(src, dst, sport, dport)


def entry(**kw: Any) -> ConntrackEntry:
    return ConntrackEntry(**kw)


# (id, line, expected entry)
CASES: list[tuple[str, str, ConntrackEntry]] = [
    (
        "proc tcp DNAT to ClusterIP backend",
        "ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.20 sport=40000 "
        "dport=7070 packets=10 bytes=1000 src=10.244.1.7 dst=10.244.0.5 sport=7070 dport=40000 "
        "packets=8 bytes=5000 [ASSURED] mark=0 zone=0 use=2",
        entry(
            family=4,
            protocol="tcp",
            timeout=431999,
            state="ESTABLISHED",
            original=tup("10.244.0.5", "10.96.0.20", 40000, 7070),
            reply=tup("10.244.1.7", "10.244.0.5", 7070, 40000),
            packets_orig=10,
            bytes_orig=1000,
            packets_reply=8,
            bytes_reply=5000,
            assured=True,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc tcp SNAT to public address, reply.dst is the node",
        "ipv4     2 tcp      6 117 TIME_WAIT src=10.244.0.5 dst=203.0.113.7 sport=51234 dport=443 "
        "packets=12 bytes=2345 src=203.0.113.7 dst=192.168.1.10 sport=443 dport=51234 "
        "packets=10 bytes=6789 [ASSURED] mark=0 zone=0 use=2",
        entry(
            family=4,
            protocol="tcp",
            timeout=117,
            state="TIME_WAIT",
            original=tup("10.244.0.5", "203.0.113.7", 51234, 443),
            reply=tup("203.0.113.7", "192.168.1.10", 443, 51234),
            packets_orig=12,
            bytes_orig=2345,
            packets_reply=10,
            bytes_reply=6789,
            assured=True,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc tcp without accounting, no zone",
        "ipv4     2 tcp      6 299 ESTABLISHED src=192.168.1.10 dst=192.168.1.11 sport=6443 "
        "dport=50412 src=192.168.1.11 dst=192.168.1.10 sport=50412 dport=6443 [ASSURED] "
        "mark=0 use=1",
        entry(
            family=4,
            protocol="tcp",
            timeout=299,
            state="ESTABLISHED",
            original=tup("192.168.1.10", "192.168.1.11", 6443, 50412),
            reply=tup("192.168.1.11", "192.168.1.10", 50412, 6443),
            assured=True,
            mark=0,
        ),
    ),
    (
        "proc udp unreplied",
        "ipv4     2 udp      17 28 src=10.244.0.5 dst=10.96.0.10 sport=38211 dport=53 "
        "packets=1 bytes=74 [UNREPLIED] src=10.244.0.3 dst=10.244.0.5 sport=53 dport=38211 "
        "packets=0 bytes=0 mark=0 zone=0 use=2",
        entry(
            family=4,
            protocol="udp",
            timeout=28,
            state=None,
            original=tup("10.244.0.5", "10.96.0.10", 38211, 53),
            reply=tup("10.244.0.3", "10.244.0.5", 53, 38211),
            packets_orig=1,
            bytes_orig=74,
            packets_reply=0,
            bytes_reply=0,
            unreplied=True,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc udp unreplied without accounting",
        "ipv4     2 udp      17 25 src=10.0.0.1 dst=10.0.0.255 sport=137 dport=137 [UNREPLIED] "
        "src=10.0.0.255 dst=10.0.0.1 sport=137 dport=137 mark=0 use=2",
        entry(
            family=4,
            protocol="udp",
            timeout=25,
            state=None,
            original=tup("10.0.0.1", "10.0.0.255", 137, 137),
            reply=tup("10.0.0.255", "10.0.0.1", 137, 137),
            unreplied=True,
            mark=0,
        ),
    ),
    (
        "proc icmp",
        "ipv4     2 icmp     1 29 src=10.244.0.5 dst=8.8.8.8 type=8 code=0 id=4242 packets=1 "
        "bytes=84 src=8.8.8.8 dst=192.168.1.10 type=0 code=0 id=4242 packets=1 bytes=84 "
        "mark=0 zone=0 use=2",
        entry(
            family=4,
            protocol="icmp",
            timeout=29,
            state=None,
            original=tup("10.244.0.5", "8.8.8.8"),
            reply=tup("8.8.8.8", "192.168.1.10"),
            packets_orig=1,
            bytes_orig=84,
            packets_reply=1,
            bytes_reply=84,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc ipv6 tcp DNAT, full addresses",
        f"ipv6     10 tcp      6 86399 ESTABLISHED src={V6_POD} dst={V6_SVC} sport=41000 "
        f"dport=80 packets=5 bytes=400 src={V6_BACKEND} dst={V6_POD} sport=8080 dport=41000 "
        "packets=4 bytes=900 [ASSURED] mark=0 zone=0 use=2",
        entry(
            family=6,
            protocol="tcp",
            timeout=86399,
            state="ESTABLISHED",
            original=tup(V6_POD, V6_SVC, 41000, 80),
            reply=tup(V6_BACKEND, V6_POD, 8080, 41000),
            packets_orig=5,
            bytes_orig=400,
            packets_reply=4,
            bytes_reply=900,
            assured=True,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc icmpv6",
        f"ipv6     10 icmpv6   58 29 src={V6_POD} dst={V6_BACKEND} type=128 code=0 id=7 "
        f"src={V6_BACKEND} dst={V6_POD} type=129 code=0 id=7 mark=0 use=2",
        entry(
            family=6,
            protocol="icmpv6",
            timeout=29,
            state=None,
            original=tup(V6_POD, V6_BACKEND),
            reply=tup(V6_BACKEND, V6_POD),
            mark=0,
        ),
    ),
    (
        "proc sctp with state and secctx",
        "ipv4     2 sctp     132 431997 ESTABLISHED src=10.244.0.5 dst=10.244.2.9 sport=36412 "
        "dport=36412 src=10.244.2.9 dst=10.244.0.5 sport=36412 dport=36412 [ASSURED] mark=0 "
        "secctx=system_u:object_r:unlabeled_t:s0 zone=0 use=2",
        entry(
            family=4,
            protocol="sctp",
            timeout=431997,
            state="ESTABLISHED",
            original=tup("10.244.0.5", "10.244.2.9", 36412, 36412),
            reply=tup("10.244.2.9", "10.244.0.5", 36412, 36412),
            assured=True,
            mark=0,
            zone=0,
        ),
    ),
    (
        "proc mark and non-default zone",
        "ipv4     2 tcp      6 60 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40001 dport=22 "
        "[UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=22 dport=40001 mark=16384 zone=7 use=2",
        entry(
            family=4,
            protocol="tcp",
            timeout=60,
            state="SYN_SENT",
            original=tup("10.0.0.1", "10.0.0.2", 40001, 22),
            reply=tup("10.0.0.2", "10.0.0.1", 22, 40001),
            unreplied=True,
            mark=16384,
            zone=7,
        ),
    ),
    (
        "proc unknown protocol name, known number",
        "ipv4     2 unknown  17 30 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 "
        "dst=10.0.0.1 sport=2 dport=1 mark=0 use=1",
        entry(
            family=4,
            protocol="udp",
            timeout=30,
            state=None,
            original=tup("10.0.0.1", "10.0.0.2", 1, 2),
            reply=tup("10.0.0.2", "10.0.0.1", 2, 1),
            mark=0,
        ),
    ),
    (
        "conntrack -L tcp",
        "tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.20 sport=40000 dport=7070 "
        "packets=10 bytes=1000 src=10.244.1.7 dst=10.244.0.5 sport=7070 dport=40000 packets=8 "
        "bytes=5000 [ASSURED] mark=0 use=1",
        entry(
            family=4,
            protocol="tcp",
            timeout=431999,
            state="ESTABLISHED",
            original=tup("10.244.0.5", "10.96.0.20", 40000, 7070),
            reply=tup("10.244.1.7", "10.244.0.5", 7070, 40000),
            packets_orig=10,
            bytes_orig=1000,
            packets_reply=8,
            bytes_reply=5000,
            assured=True,
            mark=0,
        ),
    ),
    (
        "conntrack -L udp unreplied, no accounting",
        "udp      17 27 src=10.244.0.5 dst=10.96.0.10 sport=52000 dport=53 [UNREPLIED] "
        "src=10.244.0.3 dst=10.244.0.5 sport=53 dport=52000 mark=0 use=1",
        entry(
            family=4,
            protocol="udp",
            timeout=27,
            state=None,
            original=tup("10.244.0.5", "10.96.0.10", 52000, 53),
            reply=tup("10.244.0.3", "10.244.0.5", 53, 52000),
            unreplied=True,
            mark=0,
        ),
    ),
    (
        "conntrack -L ipv6 compressed, family from address",
        "tcp      6 300 ESTABLISHED src=fd00:10:244:1::5 dst=fd00:10:96::20 sport=41000 dport=80 "
        "src=fd00:10:244:2::7 dst=fd00:10:244:1::5 sport=8080 dport=41000 [ASSURED] mark=0 use=1",
        entry(
            family=6,
            protocol="tcp",
            timeout=300,
            state="ESTABLISHED",
            original=tup("fd00:10:244:1::5", "fd00:10:96::20", 41000, 80),
            reply=tup("fd00:10:244:2::7", "fd00:10:244:1::5", 8080, 41000),
            assured=True,
            mark=0,
        ),
    ),
    (
        "conntrack -L -o extended",
        "ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.20 sport=40000 "
        "dport=7070 src=10.244.1.7 dst=10.244.0.5 sport=7070 dport=40000 [ASSURED] mark=0 use=1",
        entry(
            family=4,
            protocol="tcp",
            timeout=431999,
            state="ESTABLISHED",
            original=tup("10.244.0.5", "10.96.0.20", 40000, 7070),
            reply=tup("10.244.1.7", "10.244.0.5", 7070, 40000),
            assured=True,
            mark=0,
        ),
    ),
    (
        "conntrack -L -o id, icmp id kept apart from entry id",
        "icmp     1 29 src=10.244.0.5 dst=1.1.1.1 type=8 code=0 id=31 src=1.1.1.1 "
        "dst=192.168.1.10 type=0 code=0 id=31 mark=0 use=1 id=3735928559",
        entry(
            family=4,
            protocol="icmp",
            timeout=29,
            state=None,
            original=tup("10.244.0.5", "1.1.1.1"),
            reply=tup("1.1.1.1", "192.168.1.10"),
            mark=0,
            id=3735928559,
        ),
    ),
    (
        "conntrack -L tuple zone (libnetfilter_conntrack), offload flag",
        "tcp      6 120 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=2000 zone=3 "
        "src=10.0.0.2 dst=10.0.0.1 sport=2000 dport=1000 [OFFLOAD] [ASSURED] mark=1 use=1",
        entry(
            family=4,
            protocol="tcp",
            timeout=120,
            state="ESTABLISHED",
            original=tup("10.0.0.1", "10.0.0.2", 1000, 2000),
            reply=tup("10.0.0.2", "10.0.0.1", 2000, 1000),
            assured=True,
            mark=1,
            zone=3,
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_line(line: str, expected: ConntrackEntry) -> None:
    assert parse_conntrack_line(line) == expected
    assert parse_conntrack_line(line + "\n") == expected


GOOD = CASES[0][1]

# (id, line, reason)
BAD: list[tuple[str, str, str]] = [
    ("cut inside the reply tuple", GOOD[:120], "truncated"),
    ("cut before use=", GOOD.rsplit(" use=", 1)[0], "truncated"),
    ("cut inside the original tuple", "tcp      6 431999 ESTABLISHED src=10.0.0.1", "truncated"),
    ("bad port", GOOD.replace("sport=40000", "sport=4x000"), "bad number"),
    ("bad timeout", GOOD.replace("431999", "soon"), "bad number"),
    (
        "gre",
        "ipv4     2 gre      47 179 src=10.0.0.1 dst=10.0.0.2 srckey=0x0 dstkey=0x0 "
        "src=10.0.0.2 dst=10.0.0.1 srckey=0x0 dstkey=0x0 [ASSURED] mark=0 use=1",
        "unsupported protocol",
    ),
    (
        "igmp",
        "ipv4     2 unknown  2 599 src=10.0.0.1 dst=224.0.0.22 src=224.0.0.22 dst=10.0.0.1 "
        "mark=0 use=1",
        "unsupported protocol",
    ),
    ("family number mismatch", GOOD.replace("ipv4     2", "ipv4     10"), "malformed"),
    ("garbage", "hello world this is not conntrack", "malformed"),
    (
        "tuple out of order",
        GOOD.replace("sport=40000 dport=7070", "dport=7070 sport=40000"),
        "malformed",
    ),
    ("empty source", GOOD.replace("src=10.244.0.5 dst=10.96", "src= dst=10.96"), "malformed"),
]


@pytest.mark.parametrize(("line", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_lines_are_skipped_by_reason(line: str, reason: str) -> None:
    assert parse_conntrack_line(line) is None
    table = parse_conntrack_text(line + "\n")
    assert (list(table), len(table)) == ([], 0)
    assert table.skipped == {reason: 1}
    assert table.bad_lines == {reason: [1]}


def test_text_mixes_entries_bad_lines_and_summary() -> None:
    lines = [c[1] for c in CASES] + [b[1] for b in BAD]
    text = "\n".join(lines) + "\n\n   \n"
    text += "conntrack v1.4.7 (conntrack-tools): 12 flow entries have been shown.\n"
    table = parse_conntrack_text(text)
    assert list(table) == [c[2] for c in CASES]
    assert len(table) == len(CASES)
    expected: dict[str, int] = {}
    numbers: dict[str, list[int]] = {}
    for n, (_, _, reason) in enumerate(BAD, start=len(CASES) + 1):
        expected[reason] = expected.get(reason, 0) + 1
        numbers.setdefault(reason, []).append(n)
    assert table.skipped == expected
    assert table.bad_lines == numbers


def test_empty_and_summary_only() -> None:
    empty = parse_conntrack_text("")
    assert (list(empty), empty.skipped, empty.bad_lines) == ([], {}, {})
    summary = "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n"
    only = parse_conntrack_text(summary)
    assert (list(only), len(only), only.skipped) == ([], 0, {})
    assert parse_conntrack_line(summary) is None


T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)


def _line(case_id: str) -> str:
    return next(c[1] for c in CASES if c[0] == case_id)


def test_to_connection_dnat() -> None:
    e = parse_conntrack_line(_line("proc tcp DNAT to ClusterIP backend"))
    assert e is not None
    c = to_connection(e, first_seen=T0, last_seen=T1, netns="4026531840")
    assert c == model.Connection(
        protocol="tcp",
        original=model.FlowTuple(src="10.244.0.5", dst="10.96.0.20", sport=40000, dport=7070),
        reply=model.FlowTuple(src="10.244.1.7", dst="10.244.0.5", sport=7070, dport=40000),
        initiator="src",
        state="ESTABLISHED",
        packets_orig=10,
        bytes_orig=1000,
        packets_reply=8,
        bytes_reply=5000,
        first_seen=T0,
        last_seen=T1,
        observed_by="conntrack",
        netns="4026531840",
        conntrack_zone=None,
        mark=None,
    )


def test_to_connection_unreplied_udp_and_icmp() -> None:
    e = parse_conntrack_line(_line("proc udp unreplied"))
    assert e is not None
    c = to_connection(e, first_seen=T0, last_seen=T1)
    assert (c.state, c.protocol, c.netns, c.reply) == (
        "UNREPLIED",
        "udp",
        None,
        model.FlowTuple(src="10.244.0.3", dst="10.244.0.5", sport=53, dport=38211),
    )
    i = parse_conntrack_line(_line("proc icmp"))
    assert i is not None
    ci = to_connection(i, first_seen=T0, last_seen=T0)
    assert ci.state is None
    assert ci.original == model.FlowTuple(src="10.244.0.5", dst="8.8.8.8")
    assert ci.reply is not None and ci.reply.dst == "192.168.1.10"  # SNAT to the node


def test_to_connection_keeps_tcp_state_zone_and_mark() -> None:
    e = parse_conntrack_line(_line("proc mark and non-default zone"))
    assert e is not None
    c = to_connection(e, first_seen=T0, last_seen=T1)
    assert (c.state, c.conntrack_zone, c.mark, c.packets_orig) == ("SYN_SENT", 7, 16384, None)


# --- the whole-text path and the per-line parser agree ------------------------------------

_ADDRESSES = st.sampled_from(["10.0.0.1", "192.168.1.10", "fd00:10::5", V6_POD, "203.0.113.7"])
_NUMBERS = st.integers(min_value=0, max_value=2**32)


@st.composite
def conntrack_lines(draw: st.DrawFn) -> str:
    """Lines of both formats, with every optional part, and small corruptions of them."""
    proto = draw(st.sampled_from([("tcp", 6), ("udp", 17), ("sctp", 132), ("icmp", 1)]))
    name, number = proto
    icmp = name == "icmp"

    def tup() -> str:
        head = f"src={draw(_ADDRESSES)} dst={draw(_ADDRESSES)} "
        if icmp:
            return head + f"type={draw(_NUMBERS)} code=0 id={draw(_NUMBERS)} "
        return head + f"sport={draw(_NUMBERS)} dport={draw(_NUMBERS)} "

    def opt(text: str) -> str:
        return text if draw(st.booleans()) else ""

    counters = f"packets={draw(_NUMBERS)} bytes={draw(_NUMBERS)} "
    parts = [
        opt(draw(st.sampled_from(["ipv4     2 ", "ipv6     10 ", "ipv4     10 "]))),
        f"{name:<8} {number} {draw(_NUMBERS)} ",
        opt(draw(st.sampled_from(["ESTABLISHED ", "SYN_SENT2 ", "TIME_WAIT "]))),
        tup(),
        opt(f"zone={draw(_NUMBERS)} "),
        opt(counters),
        opt("[UNREPLIED] "),
        tup(),
        opt(f"zone={draw(_NUMBERS)} "),
        opt(counters),
        opt(draw(st.sampled_from(["[ASSURED] ", "[OFFLOAD] ", "[HW_OFFLOAD] "]))),
        opt(f"mark={draw(_NUMBERS)} "),
        opt("secctx=system_u:object_r:unlabeled_t:s0 "),
        opt(f"zone={draw(_NUMBERS)} "),
        opt(f"delta-time={draw(_NUMBERS)} "),
        opt(f"use={draw(_NUMBERS)}"),
        opt(f" id={draw(_NUMBERS)}"),
        opt(draw(st.sampled_from(["  ", "\t", "\r", " junk=1"]))),
    ]
    line = "".join(parts)
    if draw(st.booleans()):  # corrupt one character, or cut the line
        i = draw(st.integers(min_value=0, max_value=max(len(line) - 1, 0)))
        line = line[:i] + draw(st.sampled_from(["", "x", " ", "=", "9", "["])) + line[i + 1 :]
    return line


@settings(max_examples=200, deadline=None)
@given(st.lists(conntrack_lines(), min_size=1, max_size=6))
def test_whole_text_and_line_parser_agree(lines: list[str]) -> None:
    table = parse_conntrack_text("\n".join(lines) + "\n")
    expected = [e for e in map(parse_conntrack_line, lines) if e is not None]
    assert list(table) == expected
    assert len(table) == len(expected)
    bad = [
        n for n, line in enumerate(lines, 1) if parse_conntrack_line(line) is None and line.strip()
    ]
    assert sum(table.skipped.values()) == len(bad)
    assert sorted(n for numbers in table.bad_lines.values() for n in numbers) == bad


def test_offloaded_entry_has_no_timeout() -> None:
    line = (
        "ipv4     2 tcp      6 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 "
        "src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 [OFFLOAD] mark=0 zone=0 use=3"
    )
    [e] = parse_conntrack_text(line)
    assert (e.timeout, e.state, e.assured, e.original.sport) == (None, "ESTABLISHED", False, 1)


def test_skip_warnings_name_line_numbers() -> None:
    good = CASES[0][1]
    text = "\n".join([good, "garbage here", good, "tcp 6 1 src=1.2.3.4"] + ["nonsense here"] * 12)
    table = parse_conntrack_text(text, line_numbers=3)
    assert table.skipped == {"malformed": 13, "truncated": 1}
    assert table.bad_lines == {"malformed": [2, 5, 6], "truncated": [4]}
    assert table.warnings("/proc/net/nf_conntrack") == [
        "/proc/net/nf_conntrack: 13 lines skipped (malformed): lines 2, 5, 6 and 10 more",
        "/proc/net/nf_conntrack: 1 line skipped (truncated): line 4",
    ]


# Lines at the edges of the common shapes, where a whole-text reader (the C module or the
# regular expression) could disagree with the per-line parser.
_BASE = CASES[0][1]
EDGE_LINES = [
    _BASE,
    _BASE + "\t\r",  # trailing whitespace the kernel never writes, but editors do
    _BASE + " id=77",
    _BASE.replace(" use=2", " use=2  id=77  "),
    _BASE.replace("sport=40000", "sport=\t40000"),
    _BASE.replace("sport=40000 ", "sport=40000\t"),
    _BASE.replace("ESTABLISHED", "ESTABLISHED\r"),
    _BASE.replace("ipv4     2", "ipv4     20"),
    _BASE.replace("ipv4     2 tcp", "ipv4 tcp"),
    _BASE.replace("ipv4     2 tcp      6", "ipv6     10 tcp      6"),
    _BASE.replace("ipv4     2 tcp      6", "tcp      66"),
    _BASE.replace("ipv4     2 tcp      6", "tcp      13"),
    _BASE.replace("ipv4     2 tcp      6", "ipv4     2 ipv4     6"),
    _BASE.replace("ipv4     2 tcp", "ipv4     2 TCP"),
    _BASE.replace("bytes=1000", "bytes=" + "9" * 25),  # beyond 64 bits
    _BASE.replace("bytes=1000", "bytes=" + "9" * 5000),  # beyond int()'s digit limit
    _BASE.replace("431999", "00431999"),
    _BASE.replace("mark=0 zone=0", "mark=0 secctx=system_u:object_r:unlabeled_t:s0 zone=3"),
    _BASE.replace("mark=0 zone=0", "mark=0 secctx=\u00e9t\u00e9 zone=3"),
    _BASE.replace("[ASSURED] mark=0 zone=0", "zone=5 [ASSURED] mark=0 zone=6"),
    _BASE.replace("[ASSURED] mark=0 zone=0", "zone=5 [ASSURED] mark=0"),
    _BASE.replace("dport=7070 packets=10", "dport=7070 zone=4 packets=10").replace(" zone=0", ""),
    _BASE.replace("packets=10 bytes=1000 ", "packets=10 "),
    _BASE.replace("[ASSURED]", "[UNREPLIED]"),
    _BASE.replace("src=10.244.1.7", "src=10.244.1.7\u00a0"),
    _BASE.replace("src=10.244.1.7", "src=10.244.1.7x"),
    _BASE.replace("10.244.0.5", "FD00::5"),
    _BASE.replace("use=2", "use=2 delta-time=5"),
    _BASE.replace("zone=0 use=2", "zone=0 delta-time=5 use=2"),
    "icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=1 src=10.0.0.2 dst=10.0.0.1 "
    "type=0 code=0 id=1 mark=0 use=1",
    "icmpv6   58 29 src=fd00::1 dst=fd00::2 type=128 code=0 id=9 src=fd00::2 dst=fd00::1 "
    "type=129 code=0 id=9 mark=0 use=1",
    "icmp     1 29 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 "
    "sport=2 dport=1 mark=0 use=1",
    "sctp     132 3 COOKIE_WAIT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED] "
    "src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 zone=0 use=1",
    "",
    "   ",
    "\t",
]


@pytest.mark.parametrize("ending", ["\n", "", "\r\n"])
def test_whole_text_readers_agree_with_the_line_parser_at_the_edges(ending: str) -> None:
    text = "\n".join(EDGE_LINES) + ending
    table = parse_conntrack_text(text)
    lines = text.split("\n")
    expected = [e for e in map(parse_conntrack_line, lines) if e is not None]
    assert list(table) == expected
    assert list(table) == expected  # iterated twice: built again from the text
    assert len(table) == len(expected)
    bad = [n for n, line in enumerate(lines, 1) if parse_conntrack_line(line) is None]
    bad = [n for n in bad if lines[n - 1].strip()]
    assert sum(table.skipped.values()) == len(bad)
    assert {n for numbers in table.bad_lines.values() for n in numbers} <= set(bad)
    reasons = [conntrack_text._line_skip(line) for line in lines]
    assert table.skipped == dict(Counter(r for r in reasons if isinstance(r, str)))
    assert table.skipped["bad number"] == 2  # the 5,000-digit counter, "sport=\t40000"


def test_text_beyond_latin_1_is_read_in_python() -> None:
    """The C module reads one-byte-per-character text; anything else takes the Python path."""
    text = CASES[0][1] + "\n# \u2603 a comment the kernel never writes\n" + CASES[0][1] + "\n"
    table = parse_conntrack_text(text)
    assert list(table) == [CASES[0][2], CASES[0][2]]
    assert table.skipped == {"malformed": 1}


def test_large_table_in_chunks_keeps_line_order() -> None:
    """More lines than one C chunk, with per-line-parser entries in between."""
    odd = "udp 17 29 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 " + (
        "sport=2 dport=1 [UNREPLIED] mark=0 use=1"  # UNREPLIED after the reply: per-line only
    )
    lines = []
    for i in range(10_000):
        lines.append(CASES[0][1].replace("sport=40000", f"sport={i}"))
        if i % 3000 == 0:
            lines.append(odd.replace("sport=1 ", f"sport={100000 + i} "))
    table = parse_conntrack_text("\n".join(lines))
    got = list(table)
    assert got == [parse_conntrack_line(line) for line in lines]
    assert len(table) == len(lines) == 10_004


@st.composite
def mangled_lines(draw: st.DrawFn) -> str:
    """A valid line with up to five random edits of any one-byte character (a C reader's
    bounds and every branch of its grammar, against the per-line parser)."""
    line = draw(conntrack_lines())
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        i = draw(st.integers(min_value=0, max_value=len(line)))
        cut = draw(st.integers(min_value=0, max_value=3))
        byte = st.characters(max_codepoint=255, exclude_characters="\n")
        insert = draw(st.text(byte, max_size=3))
        line = line[:i] + insert + line[i + cut :]
    return line


@settings(max_examples=300, deadline=None)
@given(st.lists(mangled_lines(), min_size=1, max_size=8), st.sampled_from(["", "\n"]))
def test_mangled_text_whole_and_per_line_agree(lines: list[str], ending: str) -> None:
    table = parse_conntrack_text("\n".join(lines) + ending)
    expected = [e for e in map(parse_conntrack_line, lines) if e is not None]
    assert list(table) == expected
    assert len(table) == len(expected)

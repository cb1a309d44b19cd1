"""parse_proc_net, classify, parse_socket_link and to_model against real /proc/net table shapes.

Expected addresses are computed independently of the parser: from packed bytes with
``socket.inet_ntop``, and (property test) by encoding addresses the way the kernel prints them.
"""

# The sample tables are verbatim kernel output: long lines, trailing blanks and all.
# ruff: noqa: E501

from __future__ import annotations

import os
import socket
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.procnet import (
    OBSERVED_BY,
    Family,
    ProcNetTable,
    SocketRow,
    classify,
    decode_address,
    parse_proc_net,
    parse_socket_link,
    to_model,
)
from topomap.model import Connection, FlowTuple, Listener, ProcessRef

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Header lines are copied from a 6.x kernel, trailing blanks included.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18213 1 0000000000000000 100 0 0 10 0                     
   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 20451 1 0000000000000000 100 0 0 10 0                     
   2: 0500000A:0016 0A01A8C0:D431 01 00000000:00000000 02:0009F5A8 00000000     0        0 41233 4 0000000000000000 20 4 31 10 -1                    
   3: 0500000A:B3C6 22D8B85D:01BB 01 00000000:00000000 02:00000A21 00000000  1000        0 41877 2 0000000000000000 21 4 30 10 -1                    
   4: 0100007F:A2F4 0100007F:1538 06 00000000:00000000 03:000016A3 00000000     0        0 0 3 0000000000000000
   5: 0500000A:0016 0B01A8C0:E1E2 0C 00000000:00000000 02:000000D8 00000002     0        0 0 0 0000000000000000
   6: 0500000A:0016 ZZ01A8C0:E1E2 01 00000000:00000000 02:0009F5A8 00000000     0        0 41299 4 0000000000000000 20 4 31 10 -1
   7: 0100007F:0016
"""

TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18215 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19001 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 30001 1 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000500000A:1F90 0000000000000000FFFF00000B01A8C0:C350 01 00000000:00000000 00:00000000 00000000  1000        0 30077 1 0000000000000000 20 4 28 10 -1   
   4: B80D0120000000000000000001000000:B4C2 B80D0120000000000000000002000000:01BB 01 00000000:00000000 02:000001F4 00000000  1000        0 30102 2 0000000000000000 22 4 30 10 -1
   5: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0D 00000000:00000000 00:00000000 00000000     0        0 19002 1 0000000000000000 100 0 0 10 0
"""

UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 17624 2 0000000000000000 0         
  456: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 17800 2 0000000000000000 0         
  789: 0500000A:9C40 08080808:0035 01 00000000:00000000 00:00000000 00000000  1000        0 52001 2 0000000000000000 0         

"""

UDP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 16001 2 0000000000000000 0
  200: 000080FE00000000FF0D020238B81AFE:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 16100 2 0000000000000000 0
  300: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 nope 2 0000000000000000 0
"""


def ntop4(*octets: int) -> str:
    return socket.inet_ntop(socket.AF_INET, bytes(octets))


def ntop6(packed: bytes) -> str:
    assert len(packed) == 16
    return socket.inet_ntop(socket.AF_INET6, packed)


def kernel_hex(packed: bytes) -> str:
    """Encode an address as the kernel prints it: each 32-bit word read in x86 (little-endian)
    host order, printed as %08X."""
    words = struct.unpack(f"<{len(packed) // 4}I", packed)
    return "".join(f"{w:08X}" for w in words)


# (as printed by the kernel, family, expected text computed from bytes we construct)
ADDRESSES: list[tuple[str, Family, str]] = [
    ("0100007F", 4, ntop4(127, 0, 0, 1)),
    ("00000000", 4, ntop4(0, 0, 0, 0)),
    ("0500000A", 4, ntop4(10, 0, 0, 5)),
    ("0A01A8C0", 4, ntop4(192, 168, 1, 10)),
    ("22D8B85D", 4, ntop4(93, 184, 216, 34)),
    ("FFFFFFFF", 4, ntop4(255, 255, 255, 255)),
    ("3500007f", 4, ntop4(127, 0, 0, 53)),  # lower case hex is accepted too
    ("00000000000000000000000000000000", 6, ntop6(bytes(16))),
    ("00000000000000000000000001000000", 6, ntop6(bytes(15) + b"\x01")),
    (
        "0000000000000000FFFF00000100007F",
        6,
        ntop6(bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1])),
    ),
    (
        "0000000000000000FFFF00000500000A",
        6,
        ntop6(bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 5])),
    ),
    (
        "B80D0120000000000000000001000000",
        6,
        ntop6(bytes([0x20, 0x01, 0x0D, 0xB8]) + bytes(11) + b"\x01"),
    ),
    (
        "000080FE00000000FF0D020238B81AFE",
        6,
        ntop6(bytes([0xFE, 0x80]) + bytes(6) + bytes.fromhex("02020dfffe1ab838")),
    ),
    ("000002FF000000000000000001000000", 6, ntop6(b"\xff\x02" + bytes(13) + b"\x01")),
]


def test_expected_texts_are_what_we_think() -> None:
    texts = [text for _, _, text in ADDRESSES]
    assert texts[:2] == ["127.0.0.1", "0.0.0.0"]
    assert texts[7:10] == ["::", "::1", "::ffff:127.0.0.1"]
    assert texts[11:14] == ["2001:db8::1", "fe80::202:dff:fe1a:b838", "ff02::1"]


@pytest.mark.parametrize(("printed", "family", "expected"), ADDRESSES)
def test_decode_address(printed: str, family: Family, expected: str) -> None:
    assert decode_address(printed, family) == expected


@pytest.mark.parametrize(
    ("printed", "family"),
    [
        ("0100007F", 6),
        ("00000000000000000000000001000000", 4),
        ("0100007", 4),
        ("0100007G", 4),
        ("", 4),
        ("0x00007F", 4),
    ],
)
def test_decode_address_rejects(printed: str, family: Family) -> None:
    with pytest.raises(ValueError):
        decode_address(printed, family)


@given(st.binary(min_size=4, max_size=4))
def test_decode_ipv4_roundtrip(packed: bytes) -> None:
    assert decode_address(kernel_hex(packed), 4) == socket.inet_ntop(socket.AF_INET, packed)


@given(st.binary(min_size=16, max_size=16))
def test_decode_ipv6_roundtrip(packed: bytes) -> None:
    assert decode_address(kernel_hex(packed), 6) == socket.inet_ntop(socket.AF_INET6, packed)


def row(
    local: tuple[str, int],
    remote: tuple[str, int],
    state: str,
    *,
    inode: int,
    protocol: str = "tcp",
    family: Family = 4,
    uid: int = 0,
) -> SocketRow:
    assert protocol in ("tcp", "udp")
    return SocketRow(
        protocol="tcp" if protocol == "tcp" else "udp",
        family=family,
        local_ip=local[0],
        local_port=local[1],
        remote_ip=remote[0],
        remote_port=remote[1],
        state=state,
        uid=uid,
        inode=inode,
    )


def test_parse_tcp() -> None:
    table = parse_proc_net(TCP, "tcp", 4)
    assert table.rows == (
        row(("0.0.0.0", 22), ("0.0.0.0", 0), "LISTEN", inode=18213),
        row(("127.0.0.1", 5432), ("0.0.0.0", 0), "LISTEN", inode=20451, uid=112),
        row(("10.0.0.5", 22), ("192.168.1.10", 54321), "ESTABLISHED", inode=41233),
        row(("10.0.0.5", 46022), ("93.184.216.34", 443), "ESTABLISHED", inode=41877, uid=1000),
        row(("127.0.0.1", 41716), ("127.0.0.1", 5432), "TIME_WAIT", inode=0),
        row(("10.0.0.5", 22), ("192.168.1.11", 57826), "NEW_SYN_RECV", inode=0),
    )
    assert table.skipped == {"bad address": 1, "too few fields": 1}
    assert table.bad_lines == ((8, "bad address"), (9, "too few fields"))


def test_parse_tcp6_keeps_mapped_addresses_as_written() -> None:
    table = parse_proc_net(TCP6, "tcp", 6)
    assert [
        (r.local_ip, r.local_port, r.remote_ip, r.remote_port, r.state) for r in table.rows
    ] == [
        ("::", 22, "::", 0, "LISTEN"),
        ("::1", 631, "::", 0, "LISTEN"),
        ("::", 8080, "::", 0, "LISTEN"),
        ("::ffff:10.0.0.5", 8080, "::ffff:192.168.1.11", 50000, "ESTABLISHED"),
        ("2001:db8::1", 46274, "2001:db8::2", 443, "ESTABLISHED"),
    ]
    assert {r.family for r in table.rows} == {6}
    assert [r.inode for r in table.rows] == [18215, 19001, 30001, 30077, 30102]
    assert table.skipped == {"unknown state": 1}


def test_parse_udp_and_udp6() -> None:
    udp = parse_proc_net(UDP, "udp", 4)
    assert udp.rows == (
        row(("127.0.0.53", 53), ("0.0.0.0", 0), "UNCONN", inode=17624, protocol="udp", uid=101),
        row(("0.0.0.0", 68), ("0.0.0.0", 0), "UNCONN", inode=17800, protocol="udp"),
        row(
            ("10.0.0.5", 40000),
            ("8.8.8.8", 53),
            "ESTABLISHED",
            inode=52001,
            protocol="udp",
            uid=1000,
        ),
    )
    assert udp.skipped == {}
    udp6 = parse_proc_net(UDP6, "udp", 6)
    assert [(r.local_ip, r.local_port, r.state) for r in udp6.rows] == [
        ("::", 5353, "UNCONN"),
        ("fe80::202:dff:fe1a:b838", 546, "UNCONN"),
    ]
    assert udp6.skipped == {"bad inode": 1}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("   0: 0100007F:0016 00000000:0000 0A 00000000:00000000", "too few fields"),
        ("   x 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 1", "bad slot number"),
        ("   0: 0100007F0016 00000000:0000 0A 0:0 0:0 0 0 0 1", "bad address"),
        ("   0: 0100007F:16 00000000:0000 0A 0:0 0:0 0 0 0 1", "bad port"),
        ("   0: 0100007F:00G6 00000000:0000 0A 0:0 0:0 0 0 0 1", "bad port"),
        ("   0: 0100007F:0016 00000000:0000 XY 0:0 0:0 0 0 0 1", "bad state"),
        ("   0: 0100007F:0016 00000000:0000 0F 0:0 0:0 0 0 0 1", "unknown state"),
        ("   0: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 -1 0 1", "bad uid"),
        ("   0: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 ²", "bad inode"),
    ],
)
def test_malformed_lines_are_counted_not_raised(line: str, reason: str) -> None:
    assert parse_proc_net(line, "tcp", 4) == ProcNetTable(
        rows=(), skipped={reason: 1}, bad_lines=((1, reason),)
    )


def test_udp_only_knows_its_two_states() -> None:
    line = "   0: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 1"
    assert parse_proc_net(line, "udp", 4).skipped == {"unknown state": 1}


def test_empty_and_header_only() -> None:
    assert parse_proc_net("", "tcp", 4) == ProcNetTable()
    assert parse_proc_net(TCP.splitlines()[0] + "\n\n", "tcp", 4) == ProcNetTable()


def test_classify() -> None:
    rows = [
        *parse_proc_net(TCP, "tcp", 4).rows,
        *parse_proc_net(UDP, "udp", 4).rows,
        *parse_proc_net(UDP6, "udp", 6).rows,
    ]
    # A TCP socket with no peer outside LISTEN (bound, never connected) is neither.
    rows.append(row(("0.0.0.0", 9999), ("0.0.0.0", 0), "CLOSE", inode=777))
    listeners, connections = classify(rows)
    assert [(r.protocol, r.local_ip, r.local_port) for r in listeners] == [
        ("tcp", "0.0.0.0", 22),
        ("tcp", "127.0.0.1", 5432),
        ("udp", "127.0.0.53", 53),
        ("udp", "0.0.0.0", 68),
        ("udp", "::", 5353),
        ("udp", "fe80::202:dff:fe1a:b838", 546),
    ]
    assert [(r.protocol, r.state, r.inode) for r in connections] == [
        ("tcp", "ESTABLISHED", 41233),
        ("tcp", "ESTABLISHED", 41877),
        ("tcp", "TIME_WAIT", 0),
        ("tcp", "NEW_SYN_RECV", 0),
        ("udp", "ESTABLISHED", 52001),
    ]


@pytest.mark.parametrize(
    ("target", "inode"),
    [
        ("socket:[12345]", 12345),
        ("socket:[0]", 0),
        ("socket:[4026531840]", 4026531840),
        ("pipe:[12345]", None),
        ("anon_inode:[eventfd]", None),
        ("/dev/null", None),
        ("socket:[]", None),
        ("socket:[12a]", None),
        ("socket:[12345] ", None),
        ("socket:[١٢]", None),
        ("", None),
    ],
)
def test_parse_socket_link(target: str, inode: int | None) -> None:
    assert parse_socket_link(target) == inode


SSHD = ProcessRef(pid=812, start_ticks=1500)
CURL = ProcessRef(pid=4242, start_ticks=99000)
APP = ProcessRef(pid=3001, start_ticks=5000)


def test_to_model_server_side_listener_match() -> None:
    rows = parse_proc_net(TCP, "tcp", 4).rows
    processes = {18213: SSHD, 41233: SSHD, 41877: CURL, 0: APP}
    listeners, connections = to_model(rows, processes, host="node-1", netns="4026531840", time=T0)
    assert listeners == (
        Listener(
            host="node-1", protocol="tcp", ip="0.0.0.0", port=22, process=SSHD, netns="4026531840"
        ),
        Listener(host="node-1", protocol="tcp", ip="127.0.0.1", port=5432, netns="4026531840"),
    )
    common: dict[str, Any] = {
        "first_seen": T0,
        "last_seen": T0,
        "observed_by": OBSERVED_BY,
        "netns": "4026531840",
    }
    assert connections[0] == Connection(  # accepted by sshd: the peer opened it
        protocol="tcp",
        original=FlowTuple(src="192.168.1.10", dst="10.0.0.5", sport=54321, dport=22),
        initiator="src",
        state="ESTABLISHED",
        process=SSHD,
        process_side="dst",
        **common,
    )
    assert connections[1] == Connection(  # outgoing, to a peer we cannot see: unknown
        protocol="tcp",
        original=FlowTuple(src="10.0.0.5", dst="93.184.216.34", sport=46022, dport=443),
        initiator="unknown",
        state="ESTABLISHED",
        process=CURL,
        process_side="src",
        **common,
    )
    # Client side of a loopback connection to the local postgres listener: we opened it.
    # TIME_WAIT has inode 0, which is never looked up (even if the mapping has a 0 key).
    assert connections[2] == Connection(
        protocol="tcp",
        original=FlowTuple(src="127.0.0.1", dst="127.0.0.1", sport=41716, dport=5432),
        initiator="src",
        state="TIME_WAIT",
        process=None,
        process_side="src",
        **common,
    )
    assert connections[3].original == FlowTuple(
        src="192.168.1.11", dst="10.0.0.5", sport=57826, dport=22
    )
    assert (connections[3].initiator, connections[3].process_side) == ("src", "dst")
    assert connections[3].process is None
    assert all(c.reply is None for c in connections)


def test_to_model_server_side_of_mapped_ipv6_connection() -> None:
    rows = parse_proc_net(TCP6, "tcp", 6).rows
    _, connections = to_model(rows, {30077: APP}, host="h", netns=None, time=T0)
    mapped, outgoing = connections
    assert mapped.original == FlowTuple(
        src="::ffff:192.168.1.11", dst="::ffff:10.0.0.5", sport=50000, dport=8080
    )
    assert (mapped.initiator, mapped.process_side, mapped.process) == ("src", "dst", APP)
    assert outgoing.original == FlowTuple(
        src="2001:db8::1", dst="2001:db8::2", sport=46274, dport=443
    )
    assert (outgoing.initiator, outgoing.process_side, outgoing.process) == ("unknown", "src", None)


def test_to_model_without_listener_match() -> None:
    rows = [row(("10.0.0.5", 22), ("192.168.1.10", 54321), "ESTABLISHED", inode=41233)]
    listeners, (conn,) = to_model(rows, {41233: SSHD}, host="h", netns=None, time=T0)
    assert listeners == ()
    assert conn.original == FlowTuple(src="10.0.0.5", dst="192.168.1.10", sport=22, dport=54321)
    assert (conn.initiator, conn.process_side, conn.process) == ("unknown", "src", SSHD)


def test_to_model_listener_match_needs_same_protocol_and_address() -> None:
    rows = [
        row(("127.0.0.1", 8080), ("0.0.0.0", 0), "LISTEN", inode=1),
        row(("0.0.0.0", 53), ("0.0.0.0", 0), "UNCONN", inode=2, protocol="udp"),
        # Same port as the loopback-only listener, but another local address: not accepted by it.
        row(("10.0.0.5", 8080), ("10.0.0.9", 443), "ESTABLISHED", inode=3),
        # TCP port 53 is not the UDP listener.
        row(("10.0.0.5", 53), ("10.0.0.9", 40000), "ESTABLISHED", inode=4),
        # Connected UDP socket on the wildcard-bound port 53: the server side.
        row(("10.0.0.5", 53), ("10.0.0.9", 40000), "ESTABLISHED", inode=5, protocol="udp"),
    ]
    listeners, connections = to_model(rows, {}, host="h", netns=None, time=T0)
    assert [(lst.protocol, lst.port) for lst in listeners] == [("tcp", 8080), ("udp", 53)]
    assert [(c.protocol, c.initiator, c.process_side) for c in connections] == [
        ("tcp", "unknown", "src"),
        ("tcp", "unknown", "src"),
        ("udp", "src", "dst"),
    ]
    assert connections[2].original == FlowTuple(
        src="10.0.0.9", dst="10.0.0.5", sport=40000, dport=53
    )


def test_this_machines_tables() -> None:
    paths: dict[Family, Path] = {6: Path("/proc/net/tcp6"), 4: Path("/proc/net/tcp")}
    if not paths[4].exists():
        pytest.skip("/proc/net/tcp is absent: not Linux, or /proc is not mounted")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        inode = os.fstat(sock.fileno()).st_ino
        assert parse_socket_link(os.readlink(f"/proc/self/fd/{sock.fileno()}")) == inode
        rows: list[SocketRow] = []
        for family, path in paths.items():
            if not path.exists():  # IPv6 disabled in this kernel or namespace
                continue
            text = path.read_text()
            table = parse_proc_net(text, "tcp", family)
            assert table.skipped == {}, path
            assert len(table.rows) == len([ln for ln in text.splitlines() if ln.strip()]) - 1
            rows.extend(table.rows)
    mine = [r for r in rows if r.inode == inode]
    assert mine == [
        SocketRow(
            protocol="tcp",
            family=4,
            local_ip="127.0.0.1",
            local_port=port,
            remote_ip="0.0.0.0",
            remote_port=0,
            state="LISTEN",
            uid=os.getuid(),
            inode=inode,
        )
    ]

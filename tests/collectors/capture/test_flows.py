"""Capture files made here, read back: every framing, link type, encapsulation and flow rule.

Each case writes real frames (built with scapy) to a file and checks the exact flows: 5-tuple,
packets and bytes each way, initiator, tunnel; then checks that the vectorized path and the
reference decoder (every packet one at a time) give the same result.
"""

from __future__ import annotations

import struct
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN

from collectors import base, capture
from tests.collectors.capture.pcapgen import write_pcap, write_pcapng

T0 = 1_764_000_000.0
C, S = "10.1.0.5", "10.1.0.9"  # documentation-style private pair, never on a real network


def conns(path: Path, *, fast: bool = True) -> list[capture.model.Connection]:
    agg, _ = capture.read_capture(path, fast=fast)
    return [c for c in agg.finish() if isinstance(c, capture.model.Connection)]


def summary(path: Path, fast: bool = True) -> list[tuple[object, ...]]:
    return [
        (
            c.protocol,
            c.original.src,
            c.original.sport,
            c.original.dst,
            c.original.dport,
            c.packets_orig,
            c.bytes_orig,
            c.packets_reply,
            c.bytes_reply,
            c.initiator,
        )
        for c in conns(path, fast=fast)
    ]


def handshake(sport: int = 40000, dport: int = 443, isn: int = 1000) -> list[bytes]:
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    r = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    return [
        bytes(e / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="S", seq=isn)),
        bytes(r / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="SA", seq=9, ack=isn + 1)),
        bytes(e / IP(src=C, dst=S) / TCP(sport=sport, dport=dport, flags="A", seq=isn + 1, ack=10)),
        bytes(
            e
            / IP(src=C, dst=S)
            / TCP(sport=sport, dport=dport, flags="PA", seq=isn + 1)
            / (b"x" * 100)
        ),
        bytes(r / IP(src=S, dst=C) / TCP(sport=dport, dport=sport, flags="FA", seq=10)),
    ]


def timed(frames: list[bytes], start: float = T0) -> list[tuple[float, bytes]]:
    return [(start + i / 1024, f) for i, f in enumerate(frames)]  # exact in binary


@pytest.mark.parametrize(
    "nano, order",
    [(False, "<"), (True, "<"), (False, ">"), (True, ">")],
    ids=["us-le", "ns-le", "us-be", "ns-be"],
)
def test_pcap_variants_give_the_same_flow_and_exact_times(
    tmp_path: Path, nano: bool, order: str
) -> None:
    frames = handshake()
    path = write_pcap(tmp_path / "h.pcap", timed(frames, T0 + 0.125), nano=nano, order=order)
    (c,) = conns(path)
    sizes = [len(f) for f in frames]
    assert (c.protocol, c.original.src, c.original.sport, c.original.dst, c.original.dport) == (
        "tcp", C, 40000, S, 443,
    )  # fmt: skip
    assert (c.packets_orig, c.bytes_orig) == (3, sizes[0] + sizes[2] + sizes[3])
    assert (c.packets_reply, c.bytes_reply) == (2, sizes[1] + sizes[4])
    assert c.initiator == "src"
    assert c.tcp_flags == ("FIN", "SYN", "PSH", "ACK")
    assert c.first_seen == datetime.fromtimestamp(int(T0), UTC).replace(microsecond=125000)
    assert c.last_seen == datetime.fromtimestamp(int(T0), UTC).replace(microsecond=128906)


def test_pcapng_interfaces_link_types_resolutions_and_sections(tmp_path: Path) -> None:
    eth = bytes(Ether() / IP(src=C, dst=S) / UDP(sport=5000, dport=53) / b"q")
    raw = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=6000, dport=123) / b"t")
    cooked = bytes(CookedLinux(proto=0x0800) / IP(src=S, dst=C) / UDP(sport=53, dport=5000) / b"a")
    path = write_pcapng(
        tmp_path / "m.pcapng",
        [
            [(1, 6, [(0, (T0, eth))]), (101, 9, [(1, (T0 + 0.5, raw))])],
            [(113, 3, [(0, (T0 + 1.0, cooked))])],
        ],
    )
    got = summary(path)
    assert got == [
        ("udp", C, 5000, S, 53, 1, len(eth), 1, len(cooked), "src"),
        ("udp", "2001:db8::1", 6000, "2001:db8::2", 123, 1, len(raw), 0, 0, "src"),
    ]
    (first, second) = conns(path)
    assert second.first_seen == datetime.fromtimestamp(int(T0), UTC).replace(microsecond=500000)
    assert first.last_seen == datetime.fromtimestamp(int(T0) + 1, UTC)


LINK_CASES = {
    "vlan": (1, Ether() / Dot1Q(vlan=7) / IP(src=C, dst=S) / TCP(sport=1, dport=2)),
    "qinq": (
        1,
        Ether() / Dot1AD(vlan=1) / Dot1Q(vlan=7) / IP(src=C, dst=S) / TCP(sport=1, dport=2),
    ),
    "sll": (
        113,
        CookedLinux(proto=0x86DD) / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=1, dport=2),
    ),
    "sll2": (276, CookedLinuxV2(proto=0x0800) / IP(src=C, dst=S) / TCP(sport=1, dport=2)),
    "null": (0, struct.pack("<I", 2) + bytes(IP(src=C, dst=S) / TCP(sport=1, dport=2))),
    "loop": (
        108,
        struct.pack(">I", 24) + bytes(IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=1, dport=2)),
    ),
    "raw": (101, IP(src=C, dst=S) / TCP(sport=1, dport=2)),
    "ipv6-ext": (
        1,
        Ether()
        / IPv6(src="fd00::1", dst="fd00::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / TCP(sport=1, dport=2),
    ),
    "ip-options": (
        1,
        Ether() / IP(src=C, dst=S, options=b"\x01\x01\x01\x00") / TCP(sport=1, dport=2),
    ),
}


@pytest.mark.parametrize("case", sorted(LINK_CASES))
def test_link_layers_and_network_headers(tmp_path: Path, case: str) -> None:
    linktype, pkt = LINK_CASES[case]
    frame = bytes(pkt)
    path = write_pcap(tmp_path / "l.pcap", [(T0, frame), (T0 + 1, frame)], linktype=linktype)
    ((proto, _src, sport, _dst, dport, p0, b0, p1, b1, _who),) = summary(path)
    assert (proto, sport, dport, p0, b0, p1, b1) == ("tcp", 1, 2, 2, 2 * len(frame), 0, 0)
    assert summary(path, fast=False) == summary(path)


def test_fragments_count_with_their_first_fragments_flow(tmp_path: Path) -> None:
    whole = IP(src=C, dst=S, id=77) / UDP(sport=5353, dport=9999) / (b"z" * 3000)
    from scapy.layers.inet import fragment

    frags = [bytes(Ether() / f) for f in fragment(whole, fragsize=1000)]
    v6 = (
        IPv6(src="fd00::1", dst="fd00::2")
        / IPv6ExtHdrFragment(id=5)
        / UDP(sport=1, dport=2)
        / (b"y" * 3000)
    )
    from scapy.layers.inet6 import fragment6

    frags6 = [bytes(Ether() / f) for f in fragment6(v6, 1280)]
    orphan = bytes(Ether() / IP(src=C, dst=S, id=99, frag=100, proto=17) / (b"o" * 64))
    path = write_pcap(tmp_path / "f.pcap", timed(frags + frags6 + [orphan]))
    assert summary(path) == [
        ("udp", C, 5353, S, 9999, len(frags), sum(map(len, frags)), 0, 0, "src"),
        ("udp", "fd00::1", 1, "fd00::2", 2, len(frags6), sum(map(len, frags6)), 0, 0, "src"),
    ]
    agg, _ = capture.read_capture(path)
    assert agg.skipped == Counter({"IP fragment whose first fragment was not seen": 1})
    assert summary(path, fast=False) == summary(path)


def test_overlays_report_the_inner_flow_with_its_tunnel(tmp_path: Path) -> None:
    inner = (
        Ether() / IP(src="172.16.0.2", dst="172.16.0.3") / TCP(sport=33000, dport=8080, flags="S")
    )
    vxlan = (
        Ether()
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=51000, dport=4789)
        / VXLAN(vni=42)
        / inner
    )
    geneve = (
        Ether() / IPv6(src="2001:db8::a", dst="2001:db8::b") / UDP(sport=52000, dport=6081)
        / GENEVE(vni=7, proto=0x6558) / inner
    )  # fmt: skip
    gre = (
        Ether()
        / IP(src="192.0.2.5", dst="192.0.2.6")
        / GRE(proto=0x0800)
        / IP(src=C, dst=S)
        / UDP(sport=7, dport=8)
    )
    ipip = (
        Ether()
        / IP(src="192.0.2.7", dst="192.0.2.8")
        / IPv6(src="fd00::1", dst="fd00::2")
        / UDP(sport=9, dport=10)
    )
    path = write_pcap(tmp_path / "o.pcap", timed([bytes(p) for p in (vxlan, geneve, gre, ipip)]))
    got = {(c.original.sport, c.original.dport): c for c in conns(path)}
    assert sorted(got) == [(7, 8), (9, 10), (33000, 8080)]
    tcp = got[(33000, 8080)]
    assert tcp.packets_orig == 2 and tcp.bytes_orig == len(bytes(vxlan)) + len(bytes(geneve))
    assert tcp.tunnel == capture.model.Tunnel(
        kind="vxlan",
        outer=capture.model.FlowTuple(src="192.0.2.1", dst="192.0.2.2", sport=51000, dport=4789),
        vni=42,
    )
    assert got[(7, 8)].tunnel is not None and got[(7, 8)].tunnel.kind == "gre"
    assert got[(9, 10)].tunnel is not None and got[(9, 10)].tunnel.outer.dst == "192.0.2.8"
    agg, _ = capture.read_capture(path)
    outer = sorted((f.sport, f.dport, f.packets[0]) for f in agg.outer.finish())
    assert outer == [(51000, 4789, 1), (52000, 6081, 1)]
    assert summary(path, fast=False) == summary(path)


def test_reused_ports_start_a_new_flow_and_a_retransmitted_syn_does_not(tmp_path: Path) -> None:
    first = handshake(isn=1000)
    again = handshake(isn=555_000)
    retransmit = [first[0]]
    path = write_pcap(tmp_path / "r.pcap", timed(first + retransmit + again))
    got = summary(path)
    assert [(g[5], g[7]) for g in got] == [(4, 2), (3, 2)]
    assert summary(path, fast=False) == got


def test_initiator_rules(tmp_path: Path) -> None:
    e = Ether()
    frames = [
        # mid-stream TCP, first packet from the server: the service port decides
        bytes(e / IP(src=S, dst=C) / TCP(sport=443, dport=40001, flags="A")),
        # only the SYN+ACK seen: its receiver opened
        bytes(e / IP(src=S, dst=C) / TCP(sport=8443, dport=40002, flags="SA")),
        # UDP: first packet, unless it came from the service port
        bytes(e / IP(src=C, dst=S) / UDP(sport=40003, dport=53)),
        bytes(e / IP(src=S, dst=C) / UDP(sport=123, dport=40004)),
        # nothing tells
        bytes(e / IP(src=C, dst=S) / TCP(sport=40005, dport=40006, flags="A")),
    ]
    path = write_pcap(tmp_path / "i.pcap", timed(frames))
    assert [(g[2], g[9]) for g in summary(path)] == [
        (443, "dst"), (8443, "dst"), (40003, "src"), (123, "dst"), (40005, "unknown"),
    ]  # fmt: skip


def test_truncated_file_keeps_flows_before_the_cut_and_warns(tmp_path: Path) -> None:
    frames = handshake()
    path = write_pcap(tmp_path / "t.pcap", timed(frames))
    data = path.read_bytes()
    path.write_bytes(data[:-30])
    ctx = base.CollectorContext(host="node-a", started=datetime.fromtimestamp(T0, UTC))
    got = list(capture.PcapFile(path).collect(ctx))
    (c,) = got
    assert isinstance(c, capture.model.Connection)
    assert (c.packets_orig, c.packets_reply) == (3, 1)
    assert ctx.warnings == [
        f"t.pcap: file cut in packet 5 at byte {len(data) - len(frames[-1]) - 16}; "
        "read the 4 packets before it"
    ]


def test_undecodable_packets_are_counted_by_reason(tmp_path: Path) -> None:
    good = bytes(Ether() / IP(src=C, dst=S) / UDP(sport=1, dport=2))
    short_tcp = bytes(Ether() / IP(src=C, dst=S, proto=6) / b"\x00\x01\x00\x02")
    bad_version = bytes(Ether(type=0x0800) / (b"\x75" + b"\x00" * 30))
    arp = bytes(Ether(type=0x0806) / (b"\x00" * 28))
    path = write_pcap(tmp_path / "u.pcap", timed([good, short_tcp, bad_version, arp]))
    ctx = base.CollectorContext(host="node-a", started=datetime.fromtimestamp(T0, UTC))
    run = base.run_collectors([capture.PcapFile(path)], host="node-a", started=ctx.started).runs[0]
    assert run.status == "partial"
    assert run.skipped == {"bad IP version 7": 1, "truncated TCP header": 1}
    assert run.counts == {"connections": 1}


def test_not_a_capture_is_a_clear_failure(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"hello world, not a capture")
    run = base.run_collectors(
        [capture.PcapFile(path)], host="h", started=datetime.fromtimestamp(T0, UTC)
    ).runs[0]
    assert run.status == "failed"
    assert run.reason == f"InputError: {path}: not a pcap or pcapng file (starts with 68656c6c)"


def test_full_table_evicts_idle_flows_and_says_so(tmp_path: Path) -> None:
    frames = [bytes(Ether() / IP(src=C, dst=S) / UDP(sport=1000 + i, dport=53)) for i in range(50)]
    path = write_pcap(tmp_path / "e.pcap", timed(frames))
    ctx = base.CollectorContext(host="h", started=datetime.fromtimestamp(T0, UTC))
    got = list(capture.PcapFile(path, max_flows=10).collect(ctx))
    assert sorted(c.original.sport for c in got if isinstance(c, capture.model.Connection)) == list(
        range(1000, 1050)
    )
    assert ctx.warnings == [
        "flow table full (10 flows): 41 idle flows were written early; a flow active again "
        "after that is counted in a second record"
    ]

"""DNS answers on the wire become name -> address records (UDP and TCP, CNAME chains)."""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from collectors import capture
from tests.collectors.capture.pcapgen import write_pcap

T0 = 1_764_000_000.0


def answer() -> DNS:
    return DNS(
        id=1, qr=1, rd=1, ra=1,
        qd=DNSQR(qname="api.stripe.com", qtype="A"),
        an=[
            DNSRR(rrname="api.stripe.com", type="CNAME", ttl=300, rdata="d1.cloudfront.net"),
            DNSRR(rrname="d1.cloudfront.net", type="A", ttl=60, rdata="3.18.12.1"),
            DNSRR(rrname="d1.cloudfront.net", type="A", ttl=60, rdata="3.18.12.2"),
        ],
    )  # fmt: skip


def test_udp_and_tcp_answers_with_cname_chains(tmp_path: Path) -> None:
    e = Ether()
    udp = e / IP(src="10.0.0.53", dst="10.0.0.5") / UDP(sport=53, dport=40000) / answer()
    msg = bytes(
        DNS(id=2, qr=1, qd=DNSQR(qname="db.example.org", qtype="AAAA"),
            an=DNSRR(rrname="db.example.org", type="AAAA", ttl=30, rdata="2001:db8::7"))
    )  # fmt: skip
    tcp = (
        e
        / IP(src="10.0.0.53", dst="10.0.0.5")
        / TCP(sport=53, dport=40001, flags="PA")
        / (struct.pack("!H", len(msg)) + msg)
    )
    query = (
        e
        / IP(src="10.0.0.5", dst="10.0.0.53")
        / UDP(sport=40000, dport=53)
        / DNS(qd=DNSQR(qname="api.stripe.com"))
    )
    broken = (
        e
        / IP(src="10.0.0.53", dst="10.0.0.5")
        / UDP(sport=53, dport=40002)
        / (b"\x00\x03\x81\x80\x00\x01\x00\x01" + b"\x00" * 4 + b"\x3fbad")
    )
    path = write_pcap(
        tmp_path / "d.pcap",
        [(T0, bytes(query)), (T0 + 1, bytes(udp)), (T0 + 2, bytes(tcp)), (T0 + 3, bytes(udp)),
         (T0 + 4, bytes(broken))],
    )  # fmt: skip
    agg, _ = capture.read_capture(path)
    got = [x for x in agg.finish() if isinstance(x, capture.model.DnsAnswer)]
    assert [(d.name, d.addresses, d.cnames, d.ttl, d.time.timestamp()) for d in got] == [
        ("api.stripe.com", ("3.18.12.1", "3.18.12.2"), ("d1.cloudfront.net",), 60, T0 + 1),
        ("db.example.org", ("2001:db8::7",), (), 30, T0 + 2),
    ]
    assert agg.skipped == {"malformed DNS message": 1}

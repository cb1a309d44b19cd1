"""``topomap collect --pcap FILE`` writes a capture Snapshot; the graph names peers by DNS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from tests.collectors.capture.pcapgen import write_pcap
from topomap import snapshot_io
from topomap.graph import build_graph

REPO = Path(__file__).resolve().parents[3]
T0 = 1_764_000_000.0


def test_collect_pcap_writes_a_capture_snapshot_and_the_graph_names_the_peer(
    tmp_path: Path,
) -> None:
    e = Ether()
    dns = DNS(
        id=1, qr=1, qd=DNSQR(qname="api.stripe.com"),
        an=[DNSRR(rrname="api.stripe.com", type="A", ttl=60, rdata="3.18.12.1")],
    )  # fmt: skip
    frames = [
        e / IP(src="10.0.0.5", dst="10.0.0.53") / UDP(sport=40000, dport=53) / DNS(qd=dns.qd),
        e / IP(src="10.0.0.53", dst="10.0.0.5") / UDP(sport=53, dport=40000) / dns,
        e / IP(src="10.0.0.5", dst="3.18.12.1") / TCP(sport=40001, dport=443, flags="S"),
        e / IP(src="3.18.12.1", dst="10.0.0.5") / TCP(sport=443, dport=40001, flags="SA"),
    ]
    pcap = write_pcap(tmp_path / "c.pcap", [(T0 + i, bytes(f)) for i, f in enumerate(frames)])
    out = tmp_path / "snap.json"
    done = subprocess.run(
        [sys.executable, "-m", "topomap", "collect", "--pcap", str(pcap), "-o", str(out),
         "--host-name", "mirror-port"],
        cwd=REPO, text=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pcap 0.1.0: ok: 2 connections, 1 dns" in done.stderr
    snap = snapshot_io.load_snapshot(out).snapshot
    assert snap.source == "capture"
    assert [c.name for c in snap.collectors] == ["pcap"]
    assert [(c.original.dst, c.original.dport, c.tcp_flags) for c in snap.connections] == [
        ("10.0.0.53", 53, ()),
        ("3.18.12.1", 443, ("SYN", "ACK")),
    ]
    graph = build_graph([snap])
    assert graph.nodes["external:3.18.12.1"]["label"] == "api.stripe.com"


def test_collect_capture_needs_a_duration() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "topomap", "collect", "--capture", "lo"],
        cwd=REPO, text=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--capture needs a --duration (e.g. --duration 30s)" in done.stderr

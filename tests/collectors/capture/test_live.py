"""Live capture with scapy in a namespace pair this test makes: flows equal the traffic sent.

Two namespaces joined by a veth pair (10.203.0.1 and 10.203.0.2, inside them only); the
capture runs in the first while a UDP exchange (exact datagram counts) and a TCP connection
run between them. TCP packet counts depend on the kernel (ACK timing), so they are checked
against tcpdump's own capture of the same interface, read back by the file reader. Everything
is removed afterwards, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors import base, capture

A, B = "10.203.0.1", "10.203.0.2"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make network namespaces")
    tag = uuid.uuid4().hex[:6]
    a, b = f"tmcap-a-{tag}", f"tmcap-b-{tag}"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
           "netns", b)  # fmt: skip
        sh("ip", "-n", a, "addr", "add", f"{A}/24", "dev", "veth0")
        sh("ip", "-n", b, "addr", "add", f"{B}/24", "dev", "veth1")
        for ns, dev in ((a, "veth0"), (b, "veth1")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


SERVER = """
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("{B}", 5353))
t = socket.socket(); t.bind(("{B}", 8080)); t.listen(1)
print("ready", flush=True)
for _ in range(5):
    data, peer = u.recvfrom(100); u.sendto(b"pong", peer)
c, _ = t.accept(); c.sendall(c.recv(100) * 2); c.close()
"""
CLIENT = """
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("{A}", 40053))
for _ in range(5):
    u.sendto(b"ping", ("{B}", 5353)); u.recvfrom(100)
t = socket.create_connection(("{B}", 8080)); t.sendall(b"hello"); t.recv(100); t.close()
print(t.getsockname()[1] if False else "done", flush=True)
"""


def test_live_capture_sees_the_traffic_that_was_sent(pair: tuple[str, str], tmp_path: Path) -> None:
    a, b = pair
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump not installed (apt-get install tcpdump; .ci/run does)")
    ref = tmp_path / "ref.pcap"
    dump = subprocess.Popen(
        ["ip", "netns", "exec", a, "tcpdump", "-i", "veth0", "-U", "-n", "-w", str(ref),
         "ip and (tcp or udp)"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert dump.stderr is not None
    assert "listening on" in dump.stderr.readline()
    collector = capture.LiveCapture("veth0", netns=a, duration=4.0, bpf="ip")
    collector.check()
    ctx = base.CollectorContext(host="lab", started=datetime.now(UTC))
    got: list[object] = []
    runner = threading.Thread(target=lambda: got.extend(collector.collect(ctx)))
    server = subprocess.Popen(
        ["ip", "netns", "exec", b, "python3", "-c", SERVER.format(B=B)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        runner.start()
        time.sleep(0.5)
        client = subprocess.run(
            ["ip", "netns", "exec", a, "python3", "-c", CLIENT.format(A=A, B=B)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert client.stdout.strip() == "done", client.stderr
        runner.join(timeout=30)
    finally:
        server.kill()
        time.sleep(0.3)
        dump.terminate()
        dump.wait(timeout=10)
    conns = {
        (c.protocol, c.original.sport, c.original.dport): c
        for c in got
        if isinstance(c, capture.model.Connection)
    }
    udp = conns[("udp", 40053, 5353)]
    assert (udp.original.src, udp.original.dst) == (A, B)
    assert (udp.packets_orig, udp.packets_reply, udp.initiator) == (5, 5, "src")
    (tcp,) = [c for key, c in conns.items() if key[0] == "tcp"]
    assert (tcp.original.dst, tcp.original.dport, tcp.initiator) == (B, 8080, "src")
    assert set(conns) == {("udp", 40053, 5353), ("tcp", tcp.original.sport, 8080)}
    agg, _ = capture.read_capture(ref)
    reference = {
        (f.proto, f.sport, f.dport): (f.packets[0], f.bytes[0], f.packets[1], f.bytes[1])
        for f in agg.table.finish()
    }
    assert reference[(6, tcp.original.sport, 8080)] == (
        tcp.packets_orig, tcp.bytes_orig, tcp.packets_reply, tcp.bytes_reply,
    )  # fmt: skip
    assert tcp.packets_orig >= 4 and tcp.packets_reply >= 3  # handshake, data, FIN each way


def _wait_for_packet_socket(netns: str, timeout: float = 30.0) -> None:
    """Until a packet socket is open in ``netns`` (``/proc/net/packet`` lists one per line
    after its header): the capture has started, however long the command took to start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = subprocess.run(
            ["ip", "netns", "exec", netns, "cat", "/proc/net/packet"],
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
        if len(table.splitlines()) > 1:
            time.sleep(0.2)
            return
        time.sleep(0.1)
    raise AssertionError(f"no capture started in {netns} within {timeout} s")


def test_collect_capture_writes_the_flows_of_the_window(
    pair: tuple[str, str], tmp_path: Path
) -> None:
    """The same traffic through ``topomap collect --capture IFACE --netns NS --duration``."""
    import sys

    from topomap import snapshot_io

    a, b = pair
    out = tmp_path / "capture.json"
    collect = subprocess.Popen(
        [sys.executable, "-m", "topomap", "collect", "--capture", "veth0", "--netns", a,
         "--bpf", "ip", "--duration", "8s", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[3],
    )  # fmt: skip
    server = subprocess.Popen(
        ["ip", "netns", "exec", b, "python3", "-c", SERVER.format(B=B)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        _wait_for_packet_socket(a)  # the command's capture is listening from here on
        client = subprocess.run(
            ["ip", "netns", "exec", a, "python3", "-c", CLIENT.format(A=A, B=B)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert client.stdout.strip() == "done", client.stderr
        _, err = collect.communicate(timeout=60)
    finally:
        server.kill()
        if collect.poll() is None:
            collect.kill()
    assert collect.returncode == 0, err
    snap = snapshot_io.load_snapshot(out).snapshot
    assert snap.source == "capture"
    flows = {(c.protocol, c.original.sport, c.original.dport): c for c in snap.connections}
    udp = flows[("udp", 40053, 5353)]
    assert (udp.original.src, udp.original.dst, udp.packets_orig, udp.packets_reply) == (
        A, B, 5, 5,
    )  # fmt: skip
    assert [k for k in flows if k[0] == "tcp" and k[2] == 8080]

"""The conntrack table of real network namespaces, read over netlink, from /proc and as events.

Each test makes its own namespace (``tests/collectors/conntrack_lab.py``), makes real traffic
on its loopback (or inserts entries the way ``conntrack -I`` does) and asserts the exact
entries. The namespace is deleted afterwards, also when the test fails. Needs root.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from collectors.conntrack_netlink import (
    ConntrackEvents,
    dump_conntrack,
    entered_netns,
    netns_path,
    read_conntrack,
    read_proc_conntrack,
)
from collectors.conntrack_text import ConntrackEntry, ConntrackTuple
from collectors.ctnetlink_decode import SCTP_STATES, TCP_STATES
from tests.collectors import conntrack_lab as lab
from topomap.errors import CollectorUnavailable

_REASON = lab.root_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture
def ns() -> Iterator[str]:
    with lab.lab_netns() as name:
        lab.sysctl(name, "net.netfilter.nf_conntrack_acct", "1")
        lab.track(name)
        yield name


def in_ns(name: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket living in the namespace."""
    with entered_netns(netns_path(name)):
        return socket.socket(family, kind, proto)


def tcp_exchange(name: str, family: int, host: str, *, close: bool) -> tuple[int, int]:
    """A TCP connection on the namespace's loopback, one request and answer; (client, server)
    ports. The sockets stay open unless ``close``."""
    server = in_ns(name, family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen()
    client = in_ns(name, family, socket.SOCK_STREAM)
    client.connect((host, server.getsockname()[1]))
    peer, _ = server.accept()
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert peer.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
    peer.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
    assert client.recv(100) == b"HTTP/1.0 200 OK\r\n\r\n"
    ports = client.getsockname()[1], server.getsockname()[1]
    if close:
        client.close()
        peer.close()
        time.sleep(0.2)  # the FIN/ACK exchange
        server.close()
    else:
        _keep.extend([server, client, peer])
    return ports


_keep: list[socket.socket] = []


def udp_exchange(name: str, family: int, host: str) -> tuple[int, int]:
    server = in_ns(name, family, socket.SOCK_DGRAM)
    server.bind((host, 0))
    client = in_ns(name, family, socket.SOCK_DGRAM)
    client.sendto(b"q" * 10, server.getsockname()[:2])
    data, addr = server.recvfrom(100)
    server.sendto(b"a" * 30, addr)
    assert client.recv(100) == b"a" * 30
    ports = client.getsockname()[1], server.getsockname()[1]
    client.close()
    server.close()
    return ports


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping(name: str, family: int, host: str, ident: int) -> None:
    """One ICMP / ICMPv6 echo request and its answer, with a 56-byte payload like ping's."""
    v6 = family == socket.AF_INET6
    sock = in_ns(
        name, family, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    )
    sock.settimeout(5)
    payload = b"p" * 56
    header = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, 1)
    if not v6:  # the kernel computes the ICMPv6 checksum itself
        header = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1)
    sock.sendto(header + payload, (host, 0))
    while True:  # the echo request itself comes back on a raw socket first
        data = sock.recv(200)
        kind = data[0] if v6 else data[(data[0] & 0x0F) * 4]
        if kind == (129 if v6 else 0):
            break
    sock.close()


def by_original(entries: object) -> dict[ConntrackTuple, ConntrackEntry]:
    assert not isinstance(entries, str)
    return {e.original: e for e in entries}  # type: ignore[attr-defined]


def test_dump_real_traffic_ipv4_ipv6_tcp_udp_icmp(ns: str) -> None:
    tcp4 = tcp_exchange(ns, socket.AF_INET, "127.0.0.1", close=False)
    tcp6 = tcp_exchange(ns, socket.AF_INET6, "::1", close=False)
    udp4 = udp_exchange(ns, socket.AF_INET, "127.0.0.1")
    udp6 = udp_exchange(ns, socket.AF_INET6, "::1")
    ping(ns, socket.AF_INET, "127.0.0.1", 4242)
    ping(ns, socket.AF_INET6, "::1", 4343)
    try:
        read = dump_conntrack(ns)
        assert (read.source, read.netns, read.skipped) == ("netlink", f"/run/netns/{ns}", {})
        got = by_original(read.entries)
        assert len(got) == 6
        for (c, s), host, fam in ((tcp4, "127.0.0.1", 4), (tcp6, "::1", 6)):
            e = got[ConntrackTuple(host, host, c, s)]
            assert (e.family, e.protocol, e.state, e.assured, e.unreplied) == (
                fam,
                "tcp",
                "ESTABLISHED",
                True,
                False,
            )
            assert e.reply == ConntrackTuple(host, host, s, c)
            assert (e.mark, e.zone) == (0, 0)
            # SYN, ACK, request, ACK of the answer (4) and SYN-ACK, answer, ACK of request (3),
            # unless delayed ACKs merge: at least 3 each way, and the payloads are in the bytes.
            assert e.packets_orig is not None and e.packets_orig >= 3
            assert e.packets_reply is not None and e.packets_reply >= 2
        for (c, s), host, fam, ip_header in ((udp4, "127.0.0.1", 4, 20), (udp6, "::1", 6, 40)):
            e = got[ConntrackTuple(host, host, c, s)]
            assert e == ConntrackEntry(
                family=fam,
                protocol="udp",
                timeout=e.timeout,
                state=None,
                original=ConntrackTuple(host, host, c, s),
                reply=ConntrackTuple(host, host, s, c),
                packets_orig=1,
                bytes_orig=ip_header + 8 + 10,
                packets_reply=1,
                bytes_reply=ip_header + 8 + 30,
                assured=False,
                unreplied=False,
                mark=0,
                zone=0,
                id=e.id,
            )
            assert e.timeout is not None and 0 < e.timeout <= 30
        for host, fam, proto, ip_header in (("127.0.0.1", 4, "icmp", 20), ("::1", 6, "icmpv6", 40)):
            e = got[ConntrackTuple(host, host, None, None)]
            assert (e.family, e.protocol, e.state, e.unreplied) == (fam, proto, None, False)
            assert (e.packets_orig, e.bytes_orig) == (1, ip_header + 8 + 56)
            assert (e.packets_reply, e.bytes_reply) == (1, ip_header + 8 + 56)

        # The same table through /proc/net/nf_conntrack and the text parser: the same entries
        # (the kernel writes IPv6 in full there, and has no entry id).
        proc = read_proc_conntrack(ns)
        assert proc.skipped == {}
        from_proc = {_canon(e) for e in proc}
        assert from_proc == {_canon(e) for e in read.entries}
        timeouts = {_canon(e).original: e.timeout for e in read.entries}
        for e in proc:
            assert e.timeout is not None and timeouts[_canon(e).original] is not None
            assert abs(e.timeout - timeouts[_canon(e).original]) <= 2  # a second may pass
    finally:
        while _keep:
            _keep.pop().close()


def _canon(e: ConntrackEntry) -> tuple[object, ...]:
    def t(x: ConntrackTuple) -> ConntrackTuple:
        def a(ip: str) -> str:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            return socket.inet_ntop(family, socket.inet_pton(family, ip))

        return ConntrackTuple(a(x.src), a(x.dst), x.sport, x.dport)

    return e._replace(original=t(e.original), reply=t(e.reply), id=None, timeout=None)


def test_every_tcp_and_sctp_state_is_named_as_proc_names_it(ns: str) -> None:
    messages = [
        lab.ct_message(1, "10.0.0.1", "10.0.0.2", 6, 1000 + n, 80, state=n)
        for n in range(len(TCP_STATES))
    ] + [
        lab.ct_message(1, "10.0.0.1", "10.0.0.2", 132, 2000 + n, 36412, state=n)
        for n in range(1, 9)  # SCTP states the kernel accepts from userspace (not NONE)
    ]
    codes = lab.send_messages(ns, messages)
    assert codes == [0] * len(messages)
    netlink = {(e.protocol, e.original.sport): e.state for e in dump_conntrack(ns).entries}
    proc = {(e.protocol, e.original.sport): e.state for e in read_proc_conntrack(ns)}
    assert netlink == proc
    assert [netlink["tcp", 1000 + n] for n in range(len(TCP_STATES))] == list(TCP_STATES)
    assert [netlink["sctp", 2000 + n] for n in range(1, 9)] == list(SCTP_STATES[1:9])


def test_zone_mark_and_dnat_reply(ns: str) -> None:
    codes = lab.send_messages(
        ns,
        [
            lab.ct_message(
                1, "10.244.0.5", "10.96.0.20", 6, 40000, 80, state=3, reply_src="10.244.1.7"
            ),
            lab.ct_message(2, "10.0.0.1", "10.0.0.2", 17, 5000, 53, mark=16384, zone=7),
        ],
    )
    assert codes == [0, 0]
    read = read_conntrack(ns)
    assert (read.source, read.warnings) == ("netlink", ())
    got = by_original(read.entries)
    dnat = got[ConntrackTuple("10.244.0.5", "10.96.0.20", 40000, 80)]
    assert dnat.reply == ConntrackTuple("10.244.1.7", "10.244.0.5", 80, 40000)
    zoned = got[ConntrackTuple("10.0.0.1", "10.0.0.2", 5000, 53)]
    assert (zoned.mark, zoned.zone) == (16384, 7)


def test_pid_namespace_and_unknown_namespace(ns: str) -> None:
    lab.send_messages(ns, [lab.ct_message(1, "10.0.0.1", "10.0.0.2", 17, 1, 2)])
    sleeper = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{sleeper.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        read = dump_conntrack(pid=sleeper.pid)
        assert read.netns == f"/proc/{sleeper.pid}/ns/net"
        assert [e.original for e in read.entries] == [ConntrackTuple("10.0.0.1", "10.0.0.2", 1, 2)]
        proc = read_proc_conntrack(pid=sleeper.pid)
        assert [e.original for e in proc] == [ConntrackTuple("10.0.0.1", "10.0.0.2", 1, 2)]
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.raises(CollectorUnavailable, match="no network namespace at /run/netns/tmct-none"):
        dump_conntrack("tmct-none")
    own = os.readlink("/proc/thread-self/ns/net")
    assert own == os.readlink("/proc/self/ns/net")  # every test left the thread at home


def test_events_catch_a_connection_that_opens_and_closes_between_two_dumps(ns: str) -> None:
    lab.sysctl(ns, "net.netfilter.nf_conntrack_tcp_timeout_time_wait", "1")
    lab.sysctl(ns, "net.netfilter.nf_conntrack_tcp_timeout_close", "1")
    with ConntrackEvents(netns=ns, max_records=100) as events:
        before = dump_conntrack(ns)
        client, server = tcp_exchange(ns, socket.AF_INET, "127.0.0.1", close=True)
        key = ConntrackTuple("127.0.0.1", "127.0.0.1", client, server)
        # The entry expires (TIME_WAIT of 1 s); a dump evicts expired entries, which sends the
        # DESTROY event with the final counters.
        deadline = time.monotonic() + 15
        seen = 0
        while seen < 2:  # NEW, then DESTROY
            assert time.monotonic() < deadline, f"{seen} event(s) in 15 s, expected NEW and DESTROY"
            time.sleep(0.5)
            after = dump_conntrack(ns)
            seen += events.drain(timeout=0.5)
        assert key not in by_original(before.entries)
        assert key not in by_original(after.entries)
        [record] = events.take()
        assert (record.entry.original, record.opened, record.closed) == (key, True, True)
        assert record.first_seen < record.last_seen
        e = record.entry
        assert (e.protocol, e.reply, e.timeout) == (
            "tcp",
            ConntrackTuple(*key[1::-1], server, client),
            None,
        )
        # 3-way handshake, request, answer, FINs: at least 5 packets from the client.
        assert e.packets_orig is not None and e.packets_orig >= 5
        assert e.bytes_orig is not None and e.bytes_orig > 18
        assert events.warnings() == []


def test_events_are_bounded(ns: str) -> None:
    with ConntrackEvents(netns=ns, max_records=3) as events:
        lab.send_messages(
            ns, [lab.ct_message(1, "10.0.0.1", "10.0.0.2", 17, 1000 + n, 53) for n in range(10)]
        )
        events.drain(timeout=2)
        records = events.take()
        assert [r.entry.original.sport for r in records] == [1000, 1001, 1002]
        assert all(r.opened and not r.closed for r in records)
        assert events.dropped == 7
        assert events.warnings() == [
            "conntrack events: 7 event(s) not recorded: more than 3 connections between two polls"
        ]
        assert events.take() == []


def _without(capability: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run Python code as root without one capability (dropped from the bounding set)."""
    return subprocess.run(
        [
            "setpriv",
            f"--inh-caps=-{capability}",
            f"--bounding-set=-{capability}",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )


@pytest.mark.skipif(
    not os.path.exists("/usr/bin/setpriv"), reason="needs setpriv (util-linux) to drop capabilities"
)
def test_without_net_admin_the_proc_fallback_answers(ns: str) -> None:
    lab.send_messages(ns, [lab.ct_message(1, "10.0.0.1", "10.0.0.2", 17, 1, 2)])
    code = (
        "from collectors.conntrack_netlink import read_conntrack, ConntrackEvents\n"
        "from topomap.errors import CollectorUnavailable\n"
        f"r = read_conntrack({ns!r})\n"
        "print(r.source, [(e.original.src, e.original.sport) for e in r.entries])\n"
        "print(r.warnings[0])\n"
        "for call in (lambda: read_conntrack(%r, fallback=False),\n"
        "             lambda: ConntrackEvents(%r).__enter__()):\n"
        "    try:\n"
        "        call()\n"
        "    except CollectorUnavailable as e:\n"
        "        print(e)\n" % (ns, ns)
    )
    out = _without("net_admin", code)
    assert out.returncode == 0, out.stderr
    where = f"network namespace /run/netns/{ns}"
    refused = (
        f"conntrack: the kernel refused the conntrack dump in {where}: "
        "needs CAP_NET_ADMIN in that network namespace"
    )
    assert out.stdout.splitlines() == [
        "proc [('10.0.0.1', 1)]",
        f"netlink not used ({refused}); read /proc/net/nf_conntrack instead",
        refused,
        f"conntrack: cannot subscribe to conntrack events in {where}: needs CAP_NET_ADMIN",
    ]


@pytest.mark.skipif(
    not os.path.exists("/usr/bin/setpriv"), reason="needs setpriv (util-linux) to drop capabilities"
)
def test_without_sys_admin_another_namespace_cannot_be_entered(ns: str) -> None:
    code = (
        "from collectors.conntrack_netlink import read_conntrack\n"
        "from topomap.errors import CollectorUnavailable\n"
        "try:\n"
        f"    read_conntrack({ns!r})\n"
        "except CollectorUnavailable as e:\n"
        "    print(e)\n"
    )
    out = _without("sys_admin", code)
    assert out.returncode == 0, out.stderr
    refused = f"conntrack: cannot enter the network namespace /run/netns/{ns}: needs CAP_SYS_ADMIN"
    assert out.stdout.splitlines() == [f"{refused}; fallback: {refused}"]


def test_the_namespace_is_removed_also_when_the_test_fails() -> None:
    names = []
    with pytest.raises(RuntimeError, match="boom"):
        with lab.lab_netns() as name:
            names.append(name)
            assert os.path.exists(f"/run/netns/{name}")
            raise RuntimeError("boom")
    assert not os.path.exists(f"/run/netns/{names[0]}")
    listed = lab.run("ip", "netns", "list").stdout
    assert f"tmct-{os.getpid()}-" not in listed

"""Throw-away network namespaces with real conntrack tables, for the conntrack tests and benchmark.

:func:`lab_netns` makes a namespace with ``ip netns add`` (loopback up) and always deletes it;
:func:`track` registers conntrack in it with one nft rule (a fresh namespace tracks nothing
until some rule uses conntrack); :func:`insert_entries` fills its table with ``count`` generated
entries in batches of ``IPCTNL_MSG_CT_NEW`` messages (what ``conntrack -I`` sends, one process
per entry, far too slow for 262,144 entries). Everything here needs root.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from collectors.conntrack_netlink import NETLINK_NETFILTER, entered_netns, netns_path

_serial = itertools.count()


def root_reason() -> str | None:
    """Why the namespace tests cannot run here, or ``None`` when they can."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to make network namespaces"
    for tool in ("ip", "nft"):
        if not any(os.access(f"{d}/{tool}", os.X_OK) for d in ("/usr/sbin", "/sbin", "/usr/bin")):
            return f"needs {tool} (apt-get install iproute2 nftables)"
    return None


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=60)


def ns_run(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside the namespace."""
    return run("ip", "netns", "exec", name, *args, check=check)


@contextmanager
def lab_netns(prefix: str = "tmct") -> Iterator[str]:
    """A new network namespace with loopback up; deleted afterwards, also on failure."""
    name = f"{prefix}-{os.getpid()}-{next(_serial)}"
    run("ip", "netns", "add", name)
    try:
        run("ip", "-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        run("ip", "netns", "del", name, check=False)


def sysctl(name: str, key: str, value: str) -> None:
    """Set a per-namespace sysctl (``net.netfilter.*`` are per namespace)."""
    ns_run(name, "sysctl", "-q", "-w", f"{key}={value}")


def track(name: str) -> None:
    """Make the namespace track connections: a rule that uses conntrack registers its hooks."""
    ruleset = (
        "table inet tmct {\n"
        "  chain out { type filter hook output priority 0; ct state new counter; }\n"
        "  chain in { type filter hook input priority 0; ct state new counter; }\n"
        "}\n"
    )
    subprocess.run(
        ["ip", "netns", "exec", name, "nft", "-f", "-"],
        input=ruleset,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- bulk insertion over netlink ------------------------------------------------------------

_NEW = (1 << 8) | 0  # NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW
_FLAGS = 0x1 | 0x4 | 0x400 | 0x200  # REQUEST | ACK | CREATE | EXCL
_NESTED = 0x8000
_SEEN_REPLY_ASSURED = (1 << 1) | (1 << 2) | (1 << 3)  # and CONFIRMED, or EBUSY
_TCP_ESTABLISHED = 3


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    pad = (-len(payload)) % 4
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * pad


def _tuple(kind: int, src: bytes, dst: bytes, proto: int, sport: int, dport: int) -> bytes:
    v6 = len(src) == 16
    ip = attr(3 if v6 else 1, src) + attr(4 if v6 else 2, dst)
    if proto in (1, 58):  # ICMP: id, type, code (echo request)
        l4 = attr(1, bytes([proto]))
        l4 += attr(4, struct.pack(">H", sport)) + attr(5, b"\x08") + attr(6, b"\x00")
    else:
        l4 = attr(1, bytes([proto])) + attr(2, struct.pack(">H", sport))
        l4 += attr(3, struct.pack(">H", dport))
    return attr(kind | _NESTED, attr(1 | _NESTED, ip) + attr(2 | _NESTED, l4))


def ct_message(
    seq: int,
    src: str,
    dst: str,
    proto: int,
    sport: int = 0,
    dport: int = 0,
    *,
    timeout: int = 3600,
    status: int = _SEEN_REPLY_ASSURED,
    state: int | None = None,
    mark: int | None = None,
    zone: int | None = None,
    reply_src: str | None = None,
    counters: tuple[int, int, int, int] | None = None,
    extra: bytes = b"",
) -> bytes:
    """A CT_NEW message (the shape of a dump answer too) for one entry; ``state`` is the TCP or
    SCTP state number; ``counters`` are packets and bytes, original then reply; ``extra`` is
    appended as is (other attributes)."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    s, d = socket.inet_pton(family, src), socket.inet_pton(family, dst)
    r = socket.inet_pton(family, reply_src) if reply_src else d
    body = _tuple(1, s, d, proto, sport, dport) + _tuple(2, r, s, proto, dport, sport)
    body += attr(7, struct.pack(">I", timeout))  # CTA_TIMEOUT
    body += attr(3, struct.pack(">I", status))  # CTA_STATUS
    if state is not None:  # CTA_PROTOINFO { CTA_PROTOINFO_TCP or _SCTP { STATE } }
        inner = attr(1, bytes([state]))
        if proto == 132:
            inner += attr(2, struct.pack(">I", 1)) + attr(3, struct.pack(">I", 2))  # vtags
        body += attr(4 | _NESTED, attr((3 if proto == 132 else 1) | _NESTED, inner))
    if mark is not None:
        body += attr(8, struct.pack(">I", mark))
    if zone is not None:
        body += attr(18, struct.pack(">H", zone))
    if counters is not None:
        po, bo, pr, br = counters
        for kind, packets, octets in ((9, po, bo), (10, pr, br)):
            inner = attr(1, struct.pack(">Q", packets)) + attr(2, struct.pack(">Q", octets))
            body += attr(kind | _NESTED, inner)
    body += extra
    nfgen = struct.pack("=BBH", family, 0, 0)
    return struct.pack("=IHHII", 16 + 4 + len(body), _NEW, _FLAGS, seq, 0) + nfgen + body


def entry_message(seq: int, index: int) -> bytes:
    """A CT_NEW message for generated entry ``index``: 70% TCP, 15% UDP, 5% ICMP, 10% IPv6 TCP.

    Addresses are in 10.0.0.0/8 and fd00::/64, unique per index, so no two collide.
    """
    kind = index % 20
    hi, lo = divmod(index, 65536)
    sport = 1024 + lo % 60000
    if kind < 2:
        return ct_message(seq, f"fd00::1:{hi:x}:{lo:x}", "fd00::2", 6, sport, 443, state=3)
    src = f"10.{1 + hi % 200}.{lo >> 8}.{lo & 0xFF}"
    dst = f"10.250.0.{1 + kind}"
    if kind < 16:
        return ct_message(seq, src, dst, 6, sport, 443, state=3)
    if kind < 19:
        return ct_message(seq, src, dst, 17, sport, 53)
    return ct_message(seq, src, dst, 1, sport)


def send_messages(name: str, messages: list[bytes], *, batch: int = 256) -> list[int]:
    """Send CT_NEW messages into the namespace's table; the error code of each (0 = created)."""
    with entered_netns(netns_path(name)):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    codes: list[int] = []
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.bind((0, 0))
        for first in range(0, len(messages), batch):
            chunk = messages[first : first + batch]
            sock.send(b"".join(chunk))
            want = len(codes) + len(chunk)
            while len(codes) < want:
                data = sock.recv(1 << 16)
                offset = 0
                while offset < len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind == 2:  # NLMSG_ERROR: an ack (0) or an error
                        codes.append(-struct.unpack_from("=i", data, offset + 16)[0])
                    offset += (length + 3) & ~3
    finally:
        sock.close()
    return codes


def insert_entries(name: str, count: int, *, batch: int = 256) -> int:
    """Insert ``count`` generated entries into the namespace's table; how many were refused."""
    refused = 0
    for first in range(0, count, 8192):
        last = min(first + 8192, count)
        messages = [entry_message(i + 1, i) for i in range(first, last)]
        refused += sum(1 for code in send_messages(name, messages, batch=batch) if code)
    return refused

"""Who the observing host is: its name, machine id and own addresses, read from /proc and /etc.

Addresses come from the kernel's routing tables of the collector's network namespace:
``/proc/net/fib_trie`` (IPv4: every ``/32 host LOCAL`` entry) and ``/proc/net/if_inet6``
(IPv6), so no netlink privilege or external command is needed. Loopback addresses are left out:
they say nothing about the host to anyone else.
"""

from __future__ import annotations

import socket
from pathlib import Path


def host_name() -> str:
    """The host name as the kernel knows it (``uname -n``)."""
    return socket.gethostname()


def machine_id(etc: Path = Path("/etc")) -> str | None:
    """``/etc/machine-id`` when present (stable across reboots, unique per installation)."""
    try:
        text = (etc / "machine-id").read_text().strip()
    except OSError:
        return None
    return text or None


def ipv4_local(fib_trie: str) -> list[str]:
    """Addresses marked ``/32 host LOCAL`` in ``/proc/net/fib_trie`` text, without loopback.

    >>> ipv4_local("  |-- 10.0.0.5\\n   /32 host LOCAL\\n  |-- 127.0.0.1\\n   /32 host LOCAL\\n")
    ['10.0.0.5']
    """
    found: set[str] = set()
    last = ""
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|-- "):
            last = text[4:]
        elif text == "/32 host LOCAL" and last and not last.startswith("127."):
            found.add(last)
    return sorted(found, key=socket.inet_aton)


def ipv6_local(if_inet6: str) -> list[str]:
    """Global and unique-local addresses in ``/proc/net/if_inet6`` text (not loopback/link-local).

    >>> ipv6_local("fd000000000000000000000000000005 02 40 00 80 eth0\\n"
    ...            "00000000000000000000000000000001 01 80 10 80 lo\\n")
    ['fd00::5']
    """
    found: list[str] = []
    for line in if_inet6.splitlines():
        fields = line.split()
        if len(fields) < 6 or len(fields[0]) != 32:
            continue
        scope = int(fields[3], 16)
        if scope in (0x10, 0x20):  # host (loopback) and link scope
            continue
        packed = bytes.fromhex(fields[0])
        found.append(socket.inet_ntop(socket.AF_INET6, packed))
    return sorted(set(found))


def local_addresses(proc: Path = Path("/proc")) -> list[str]:
    """This namespace's own IPv4 then IPv6 addresses (empty where a file cannot be read)."""
    addresses: list[str] = []
    try:
        addresses += ipv4_local((proc / "net" / "fib_trie").read_text())
    except OSError:
        pass
    try:
        addresses += ipv6_local((proc / "net" / "if_inet6").read_text())
    except OSError:
        pass
    return addresses

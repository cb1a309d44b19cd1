"""Address classification: the one table that says which zone an IP address belongs to.

Every address topomap sees is classified here and nowhere else. The table is explicit on purpose:
``ipaddress.is_private`` changed meaning between Python patch releases (3.11.10 and 3.12.4 moved
several ranges), so we never ask it. The most specific matching prefix wins, which lets the
cluster's own CIDRs and the policy file refine the defaults (a pod CIDR inside 10/8 becomes
``cluster-pod`` instead of ``private``).

This module owns parsing too: :func:`parse_ip` folds IPv4-mapped IPv6 (``::ffff:1.2.3.4``) to
IPv4 and drops a scope id (``fe80::1%eth0``), so the same host always gets the same node id.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from topomap.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Zone(StrEnum):
    """Where an address lives, from the point of view of a boundary review."""

    LOOPBACK = "loopback"
    UNSPECIFIED = "unspecified"
    LINK_LOCAL = "link-local"
    METADATA = "metadata"
    PRIVATE = "private"
    CGNAT = "cgnat"
    ULA = "ula"
    MULTICAST = "multicast"
    BROADCAST = "broadcast"
    DOCUMENTATION = "documentation"
    RESERVED = "reserved"
    PUBLIC = "public"
    # Refinements: never in the default table, added from cluster data or the policy file.
    CLUSTER_POD = "cluster-pod"
    CLUSTER_SERVICE = "cluster-service"
    CLUSTER_NODE = "cluster-node"
    INTERNAL = "internal"


#: Zones whose addresses are routable beyond the organisation's own networks.
EXTERNAL_ZONES = frozenset({Zone.PUBLIC, Zone.DOCUMENTATION})

#: The default table. Order does not matter: the longest matching prefix wins.
#: Sources: RFC 1122 (loopback, unspecified), RFC 1918 (private), RFC 6598 (CGNAT),
#: RFC 3927 / RFC 4291 (link-local), RFC 4193 (ULA), RFC 5737 / RFC 3849 (documentation),
#: RFC 5771 / RFC 4291 (multicast), RFC 6890 (special purpose), and the cloud metadata
#: endpoints of AWS (169.254.169.254, fd00:ec2::254), GCP and Azure (169.254.169.254),
#: AWS ECS task metadata (169.254.170.2) and EKS Pod Identity (169.254.170.23).
DEFAULT_TABLE: tuple[tuple[str, Zone], ...] = (
    ("0.0.0.0/32", Zone.UNSPECIFIED),
    ("0.0.0.0/8", Zone.RESERVED),
    ("10.0.0.0/8", Zone.PRIVATE),
    ("100.64.0.0/10", Zone.CGNAT),
    ("127.0.0.0/8", Zone.LOOPBACK),
    ("169.254.0.0/16", Zone.LINK_LOCAL),
    ("169.254.169.254/32", Zone.METADATA),
    ("169.254.170.2/32", Zone.METADATA),
    ("169.254.170.23/32", Zone.METADATA),
    ("172.16.0.0/12", Zone.PRIVATE),
    ("192.0.0.0/24", Zone.RESERVED),
    ("192.0.2.0/24", Zone.DOCUMENTATION),
    ("192.168.0.0/16", Zone.PRIVATE),
    ("198.18.0.0/15", Zone.RESERVED),
    ("198.51.100.0/24", Zone.DOCUMENTATION),
    ("203.0.113.0/24", Zone.DOCUMENTATION),
    ("224.0.0.0/4", Zone.MULTICAST),
    ("240.0.0.0/4", Zone.RESERVED),
    ("255.255.255.255/32", Zone.BROADCAST),
    ("::/128", Zone.UNSPECIFIED),
    ("::1/128", Zone.LOOPBACK),
    ("100::/64", Zone.RESERVED),
    ("2001:db8::/32", Zone.DOCUMENTATION),
    ("fc00::/7", Zone.ULA),
    ("fd00:ec2::254/128", Zone.METADATA),
    ("fe80::/10", Zone.LINK_LOCAL),
    ("ff00::/8", Zone.MULTICAST),
)


_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET


def parse_ip(text: str) -> IPAddress:
    """Parse an address, folding IPv4-mapped IPv6 to IPv4 and dropping any scope id.

    Raises
    ------
    ValueError
        When ``text`` is not an IP address.

    Examples
    --------
    >>> str(parse_ip("::ffff:8.8.8.8"))
    '8.8.8.8'
    >>> str(parse_ip("fe80::1%eth0"))
    'fe80::1'
    """
    if ":" not in text:  # IPv4: the C parser, five times faster than ipaddress's own
        try:
            return ipaddress.IPv4Address(_inet_pton(_AF_INET, text))
        except (OSError, UnicodeError, ValueError):
            pass  # not a plain dotted quad: ipaddress decides (and words the error)
    addr = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@lru_cache(maxsize=1 << 16)
def canonical_ip(text: str) -> str:
    """The one spelling of an address used in node ids (``external:<canonical_ip>``)."""
    return str(parse_ip(text))


@dataclass(frozen=True)
class ZoneTable:
    """A prefix table: the defaults plus refinements (cluster CIDRs, declared internal ranges)."""

    entries: tuple[tuple[IPNetwork, Zone], ...]

    _by_version: dict[int, tuple[tuple[int, dict[int, Zone]], ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_len: dict[tuple[int, int], dict[int, Zone]] = {}
        for net, zone in self.entries:
            bucket = by_len.setdefault((net.version, net.prefixlen), {})
            bucket[int(net.network_address)] = zone
        ordered = dict(sorted(by_len.items(), key=lambda item: -item[0][1]))
        # Per address family, longest prefix first: (bits below the prefix, network -> zone).
        by_version = {
            version: tuple(
                ((32 if v == 4 else 128) - plen, bucket)
                for (v, plen), bucket in ordered.items()
                if v == version
            )
            for version in (4, 6)
        }
        object.__setattr__(self, "_by_version", by_version)

    @classmethod
    def build(cls, extra: Iterable[tuple[str, Zone]] = ()) -> ZoneTable:
        """The default table refined by ``extra`` (CIDR, zone) pairs; later entries win ties."""
        merged: dict[IPNetwork, Zone] = {}
        for cidr, zone in (*DEFAULT_TABLE, *extra):
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise InputError(f"invalid CIDR {cidr!r} for zone {zone.value}: {exc}") from exc
            merged[net] = Zone(zone)
        return cls(tuple(sorted(merged.items(), key=lambda item: (item[0].version, str(item[0])))))

    def classify(self, ip: str | IPAddress) -> Zone:
        """The zone of ``ip``: the zone of the longest matching prefix, else public."""
        addr = parse_ip(ip) if isinstance(ip, str) else ip
        value = int(addr)
        for shift, bucket in self._by_version[addr.version]:
            zone = bucket.get(value >> shift << shift)
            if zone is not None:
                return zone
        return Zone.PUBLIC


DEFAULT = ZoneTable.build()


@lru_cache(maxsize=1 << 16)
def classify(ip: str) -> Zone:
    """Classify ``ip`` with the default table (cached: the same peers recur constantly).

    Examples
    --------
    >>> classify("169.254.169.254").value
    'metadata'
    >>> classify("::ffff:10.1.2.3").value
    'private'
    """
    return DEFAULT.classify(ip)


def is_external(zone: Zone) -> bool:
    """Whether a zone lies outside every network the organisation runs."""
    return zone in EXTERNAL_ZONES

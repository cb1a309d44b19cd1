"""The zone table, address by address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topomap import zones
from topomap.errors import InputError
from topomap.zones import Zone

TABLE = [
    ("127.0.0.1", Zone.LOOPBACK),
    ("127.255.255.254", Zone.LOOPBACK),
    ("::1", Zone.LOOPBACK),
    ("0.0.0.0", Zone.UNSPECIFIED),
    ("::", Zone.UNSPECIFIED),
    ("0.1.2.3", Zone.RESERVED),
    ("10.0.0.1", Zone.PRIVATE),
    ("10.255.255.255", Zone.PRIVATE),
    ("172.16.0.1", Zone.PRIVATE),
    ("172.31.255.1", Zone.PRIVATE),
    ("172.32.0.1", Zone.PUBLIC),  # just outside 172.16/12
    ("192.168.49.2", Zone.PRIVATE),
    ("100.64.0.1", Zone.CGNAT),
    ("100.127.255.254", Zone.CGNAT),
    ("100.128.0.1", Zone.PUBLIC),  # just outside 100.64/10
    ("169.254.1.1", Zone.LINK_LOCAL),
    ("169.254.169.254", Zone.METADATA),
    ("169.254.170.2", Zone.METADATA),
    ("169.254.170.23", Zone.METADATA),
    ("fd00:ec2::254", Zone.METADATA),
    ("fd00:ec2::253", Zone.ULA),
    ("fd12:3456:789a::1", Zone.ULA),
    ("fc00::1", Zone.ULA),
    ("fe80::1", Zone.LINK_LOCAL),
    ("fe80::1%eth0", Zone.LINK_LOCAL),
    ("224.0.0.251", Zone.MULTICAST),
    ("239.255.255.250", Zone.MULTICAST),
    ("ff02::fb", Zone.MULTICAST),
    ("255.255.255.255", Zone.BROADCAST),
    ("240.0.0.1", Zone.RESERVED),
    ("198.18.0.1", Zone.RESERVED),
    ("192.0.2.10", Zone.DOCUMENTATION),
    ("198.51.100.23", Zone.DOCUMENTATION),
    ("203.0.113.7", Zone.DOCUMENTATION),
    ("2001:db8::1", Zone.DOCUMENTATION),
    ("8.8.8.8", Zone.PUBLIC),
    ("54.187.174.169", Zone.PUBLIC),
    ("2606:4700:4700::1111", Zone.PUBLIC),
    ("::ffff:8.8.8.8", Zone.PUBLIC),
    ("::ffff:10.1.2.3", Zone.PRIVATE),
    ("::ffff:169.254.169.254", Zone.METADATA),
    ("::ffff:127.0.0.1", Zone.LOOPBACK),
]


@pytest.mark.parametrize("ip, zone", TABLE)
def test_default_table(ip: str, zone: Zone) -> None:
    assert zones.classify(ip) is zone


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 25


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("fe80::1%eth0", "fe80::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_canonical_ip(text: str, canonical: str) -> None:
    assert zones.canonical_ip(text) == canonical


def test_refinement_is_more_specific_than_default() -> None:
    table = zones.ZoneTable.build(
        [("10.244.0.0/16", Zone.CLUSTER_POD), ("10.96.0.0/12", Zone.CLUSTER_SERVICE)]
    )
    assert table.classify("10.244.3.4") is Zone.CLUSTER_POD
    assert table.classify("10.96.0.10") is Zone.CLUSTER_SERVICE
    assert table.classify("10.1.0.1") is Zone.PRIVATE
    assert table.classify("169.254.169.254") is Zone.METADATA


def test_refinement_can_override_a_default_prefix() -> None:
    table = zones.ZoneTable.build([("100.64.0.0/10", Zone.CLUSTER_POD)])
    assert table.classify("100.100.1.1") is Zone.CLUSTER_POD


def test_invalid_cidr_names_it() -> None:
    with pytest.raises(InputError, match="'10.0.0.0/33'"):
        zones.ZoneTable.build([("10.0.0.0/33", Zone.INTERNAL)])


def test_not_an_address() -> None:
    with pytest.raises(ValueError):
        zones.parse_ip("example.com")


@pytest.mark.parametrize("zone", list(Zone))
def test_external_zones(zone: Zone) -> None:
    assert zones.is_external(zone) == (zone in {Zone.PUBLIC, Zone.DOCUMENTATION})


def _reference_parse(text: str) -> object:
    """parse_ip as ipaddress alone would give it (the definition the fast path must match)."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])  # noqa: TID251 - the reference
    except ValueError:
        return ValueError
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _parsed(text: str) -> object:
    try:
        return zones.parse_ip(text)
    except ValueError:
        return ValueError


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789.", max_size=17),
        st.builds(
            lambda parts, sep: sep.join(parts),
            st.lists(st.integers(0, 300).map(str), min_size=3, max_size=5),
            st.sampled_from([".", ". ", ".."]),
        ),
        st.text(max_size=20),
        st.ip_addresses(v=4).map(str),
    )
)
def test_the_ipv4_fast_path_parses_exactly_as_ipaddress(text: str) -> None:
    assert _parsed(text) == _reference_parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "010.1.1.1",
        "1.2.3.04",
        "1.2.3",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.256",
        "1.2.3.4%eth0",
        "١.٢.٣.٤",
        "0.0.0.0",
        "255.255.255.255",
        "1.2.3.4\n",
        "",
    ],
)
def test_the_ipv4_fast_path_at_the_edges(text: str) -> None:
    assert _parsed(text) == _reference_parse(text)

"""ConnSet: canonical form, algebra and both netpol-analyzer spellings."""

from __future__ import annotations

import pytest

from topomap.policy.connset import ALL, EMPTY, ConnSet


def test_canonical_ranges_merge_touching_and_overlapping() -> None:
    s = ConnSet({"TCP": [(80, 80), (81, 90), (85, 100), (200, 300)]})
    assert s.ranges("TCP") == ((80, 100), (200, 300))
    assert s == ConnSet({"TCP": [(200, 300), (80, 100)]})
    assert hash(s) == hash(ConnSet({"TCP": [(200, 300), (80, 100)]}))


def test_algebra() -> None:
    a = ConnSet({"TCP": [(1, 100)], "UDP": [(53, 53)]})
    b = ConnSet({"TCP": [(50, 150)]})
    assert (a & b) == ConnSet.of("TCP", 50, 100)
    assert (a - b) == ConnSet({"TCP": [(1, 49)], "UDP": [(53, 53)]})
    assert (a | b) == ConnSet({"TCP": [(1, 150)], "UDP": [(53, 53)]})
    assert not (a & EMPTY) and (a | EMPTY) == a
    assert (ALL - ALL) == EMPTY and (ALL & a) == a
    assert a.contains("tcp", 7) and not a.contains("udp", 54)


@pytest.mark.parametrize(
    "conns, txt, explain",
    [
        (ALL, "All Connections", "All Connections"),
        (ConnSet.of("TCP", 8080), "TCP 8080", "TCP:[8080]"),
        (
            ConnSet({"UDP": [(53, 53)], "TCP": [(9090, 9090)]}),
            "TCP 9090,UDP 53",
            "TCP:[9090], UDP:[53]",
        ),
        (
            ALL - ConnSet({"SCTP": [(9003, 9003)], "TCP": [(80, 80)], "UDP": [(53, 53)]}),
            "SCTP 1-9002,9004-65535,TCP 1-79,81-65535,UDP 1-52,54-65535",
            "TCP:[1-79,81-65535], UDP:[1-52,54-65535], SCTP:[1-9002,9004-65535]",
        ),
        (ConnSet.all_ports("TCP") | ConnSet.of("UDP", 53), "TCP 1-65535,UDP 53", "TCP, UDP:[53]"),
        (EMPTY, "No Connections", ""),
    ],
)
def test_spellings(conns: ConnSet, txt: str, explain: str) -> None:
    assert conns.txt() == txt
    assert conns.explain() == explain

"""Every capture of tcpdump's test suite: read without a crash, and flows exactly as tshark's.

tshark (``-q -z conv,tcp -z conv,udp``) runs once per file in a thread pool, in a session
fixture; its tables are cached in pytest's cache by the file's digest and tshark's version, so a
rerun only reads. The comparison is exact (5-tuple, frames and bytes each way, rows counted
with multiplicity) except for the differences listed in docs/capture.md, which are encoded in
:data:`DIFFERENCES` row by row: each listed file must differ by exactly those rows.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from collectors import capture
from tests.collectors.capture import tshark_ref as T

CORPUS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "pcap").resolve()
FILES = CORPUS / "tcpdump-tests"
ABSENT = "../shared/corpus/pcap/tcpdump-tests not present (reference corpus; see DESIGN.md)"

# Rows are (proto, A, port A, B, port B, frames A->B, bytes A->B, frames B->A, bytes B->A).
_UNSUPPORTED = "link type not decoded by topomap"
DIFFERENCES: dict[str, tuple[str, list[T.Row], list[T.Row]]] = {
    # file: (reason, rows only tshark has, rows only topomap has)
    "afs.pcap": (
        "IP fragments: topomap counts every fragment, tshark the reassembled datagram once",
        [("udp", "131.151.32.21", 7001, "131.151.1.146", 7000, 41, "4223 bytes", 59, "65 kB")],
        [("udp", "131.151.32.21", 7001, "131.151.1.146", 7000, 41, "4223 bytes", 208, "291 kB")],
    ),
    "arcnet-rfc1051-arp-icmp-http.pcap": (
        _UNSUPPORTED + " (129, ARCNET)",
        [
            ("udp", "10.80.131.1", 1024, "10.80.3.254", 53, 2, "141 bytes", 2, "193 bytes"),
            ("tcp", "10.80.131.1", 1026, "146.190.240.163", 80, 7, "601 bytes", 7, "820 bytes"),
        ],
        [],
    ),
    "arcnet-rfc1201-arp-icmp-http.pcap": (
        _UNSUPPORTED + " (129, ARCNET)",
        [
            ("udp", "10.80.131.1", 1024, "10.80.3.254", 53, 2, "147 bytes", 2, "199 bytes"),
            ("tcp", "10.80.131.1", 1027, "146.190.240.163", 80, 7, "622 bytes", 7, "841 bytes"),
        ],
        [],
    ),
    "bgp-aigp.pcap": (
        _UNSUPPORTED + " (178, Juniper Ethernet)",
        [("tcp", "172.16.20.5", 59631, "172.16.20.3", 179, 1, "218 bytes", 0, "0 bytes")],
        [],
    ),
    "ieee802.11_htc.pcap": (
        _UNSUPPORTED + " (127, 802.11 radiotap)",
        [("udp", "0.0.0.0", 68, "255.255.255.255", 67, 1, "426 bytes", 0, "0 bytes")],
        [],
    ),
    "ipoib.pcap": (_UNSUPPORTED + " (242, IP over InfiniBand)", "all", []),  # type: ignore[dict-item]
    "mptcp-dss-oobr.pcap": (
        "malformed MPTCP option: tshark's dissector fails after the ports were read",
        [],
        [("tcp", "127.0.0.1", 57370, "127.0.0.1", 23, 1, "74 bytes", 0, "0 bytes")],
    ),
    "of13_ericsson.pcapng": (
        "a packet carried as data inside OpenFlow messages is not traffic on this wire",
        [("udp", "192.168.1.1", 1234, "192.168.1.2", 5678, 3, "580 bytes", 0, "0 bytes")],
        [],
    ),
}
_BIGTCP = "IPv6 payload length 0 without a jumbo option (Linux BIG TCP): tshark reads no payload"
_V6 = ("2604:1380:4091:ce00::b", "2604:1380:4091:ce00::d")
for _name, _inner, _outer in [
    ("bigtcp-ipv6.pcap", ("2604:1380:4091:ce00::b", 43267, "2604:1380:4091:ce00::d", 41219), None),
    (
        "bigtcp-ipv6-geneve-ipv4.pcap",
        ("192.168.1.2", 43959, "192.168.1.1", 39887),
        (_V6[0], 55411, _V6[1], 6081),
    ),
    (
        "bigtcp-ipv6-geneve-ipv6.pcap",
        ("fd00::1", 38339, "fd00::2", 43997),
        (_V6[1], 23733, _V6[0], 6081),
    ),
    (
        "bigtcp-ipv6-vxlan-ipv4.pcap",
        ("192.168.1.1", 41873, "192.168.1.2", 38131),
        (_V6[1], 52238, _V6[0], 4789),
    ),
    (
        "bigtcp-ipv6-vxlan-ipv6.pcap",
        ("fd00::1", 40007, "fd00::2", 40607),
        (_V6[1], 37059, _V6[0], 4789),
    ),
]:
    _rows: list[T.Row] = [("tcp", *_inner, 1, "80 kB", 0, "0 bytes")]
    if _outer is not None:
        _rows.append(("udp", *_outer, 1, "80 kB", 0, "0 bytes"))
    DIFFERENCES[_name] = (_BIGTCP, [], _rows)


def _files() -> list[Path]:
    return sorted(p for p in FILES.glob("*") if p.suffix in (".pcap", ".pcapng"))


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> dict[str, Counter[T.Row]]:
    """tshark's table for every corpus file (cached by content digest and tshark version)."""
    if not FILES.exists():
        pytest.skip(ABSENT)
    if T.TSHARK is None:
        pytest.skip("tshark not installed (apt-get install tshark; .ci/run does)")
    version = subprocess.run(
        [T.TSHARK, "-v"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    cache: Any = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    files = _files()

    def one(path: Path) -> tuple[str, str]:
        digest = hashlib.sha256(path.read_bytes() + version.encode()).hexdigest()
        key = f"topomap/tshark-conv/{digest}"
        text = cache.get(key, None) if cache is not None else None
        if text is None:
            text = T.run(path)
            if cache is not None:
                cache.set(key, text)
        return path.name, text

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return {name: T.parse(text) for name, text in pool.map(one, files)}


def _read(path: Path) -> capture.Aggregator:
    agg, _ = capture.read_capture(path)
    return agg


def test_every_file_is_read_and_flows_equal_tsharks(
    reference: dict[str, Counter[T.Row]],
) -> None:
    files = _files()
    assert len(files) == 830
    mismatches: list[str] = []
    seen_differences = set()
    compared = 0
    for path in files:
        agg = _read(path)
        mine, outer = T.ours(agg)
        theirs = reference[path.name]
        # VXLAN/Geneve outer UDP flows are recorded on the inner flows (not reported as flows):
        # they are compared too, from the table that counts them
        both = mine + outer
        only_theirs, only_mine = theirs - both, both - theirs
        if theirs:
            compared += 1
        if path.name in DIFFERENCES:
            seen_differences.add(path.name)
            _reason, want_theirs, want_mine = DIFFERENCES[path.name]
            if want_theirs == "all":
                want_theirs, only_theirs = [], only_theirs - theirs
            if only_theirs != Counter(want_theirs) or only_mine != Counter(want_mine):
                mismatches.append(f"{path.name}: tshark only {only_theirs}, ours only {only_mine}")
        elif only_theirs or only_mine:
            mismatches.append(f"{path.name}: tshark only {only_theirs}, ours only {only_mine}")
    assert not mismatches, "\n".join(mismatches)
    assert seen_differences == set(DIFFERENCES)
    assert compared > 300  # files where tshark found TCP or UDP over IP


def test_unsupported_link_types_are_counted_as_skipped() -> None:
    if not FILES.exists():
        pytest.skip(ABSENT)
    agg = _read(FILES / "ieee802.11_htc.pcap")
    assert agg.skipped == Counter({"unsupported link type 127": 1})
    assert T.ours(agg)[0] == Counter()

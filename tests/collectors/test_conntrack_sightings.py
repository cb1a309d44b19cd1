"""The conntrack collector's fold of repeated sightings gives what Merger gives for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.conntrack import Sightings
from collectors.conntrack_text import ConntrackEntry, ConntrackTuple, to_connection
from collectors.merge import Merger

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
_COUNTER = st.none() | st.integers(min_value=0, max_value=10**12)


@st.composite
def sightings(draw: st.DrawFn) -> tuple[ConntrackEntry, datetime, datetime]:
    """A sighting of one of a few connections, with any state, counters, zone and mark."""
    port = draw(st.sampled_from([1000, 1001, 1002]))
    reply_src = draw(st.sampled_from(["10.0.0.2", "10.0.0.9"]))  # DNAT to one of two backends
    entry = ConntrackEntry(
        family=4,
        protocol=draw(st.sampled_from(["tcp", "udp"])),
        timeout=draw(st.none() | st.integers(min_value=0, max_value=500)),
        state=draw(st.sampled_from([None, "SYN_SENT", "ESTABLISHED", "TIME_WAIT"])),
        original=ConntrackTuple("10.0.0.1", "10.96.0.1", port, 80),
        reply=ConntrackTuple(reply_src, "10.0.0.1", 80, port),
        packets_orig=draw(_COUNTER),
        bytes_orig=draw(_COUNTER),
        packets_reply=draw(_COUNTER),
        bytes_reply=draw(_COUNTER),
        assured=draw(st.booleans()),
        unreplied=draw(st.booleans()),
        mark=draw(st.sampled_from([None, 0, 7])),
        zone=draw(st.sampled_from([None, 0, 3])),
    )
    first = T0 + timedelta(seconds=draw(st.integers(min_value=0, max_value=100)))
    last = first + timedelta(seconds=draw(st.integers(min_value=0, max_value=100)))
    return entry, first, last


@settings(max_examples=300, deadline=None)
@given(st.lists(sightings(), max_size=30))
def test_sightings_fold_like_merger(seen: list[tuple[ConntrackEntry, datetime, datetime]]) -> None:
    folded = Sightings("4026531840")
    merger = Merger()
    for entry, first, last in seen:
        folded.add(entry, first, last)
        merger.add(to_connection(entry, first_seen=first, last_seen=last, netns="4026531840"))
    assert len(folded) == len(merger)
    assert list(folded.connections()) == merger.items()
    assert len(folded) == 0  # consumed: its rows were freed as the Connections were made

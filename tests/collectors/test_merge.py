"""Merger: repeated sightings fold into one record; memory follows distinct things."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.merge import Merger
from topomap import model

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def conn(
    at: int,
    *,
    sport: int = 40000,
    packets: int | None = None,
    state: str = "ESTABLISHED",
    side: model.Side | None = "src",
) -> model.Connection:
    return model.Connection(
        protocol="tcp",
        original=model.FlowTuple(src="10.0.0.1", dst="10.0.0.2", sport=sport, dport=80),
        state=state,
        packets_orig=packets,
        first_seen=T0 + timedelta(seconds=at),
        last_seen=T0 + timedelta(seconds=at),
        observed_by="procnet",
        process=model.ProcessRef(pid=10, start_ticks=5),
        process_side=side,
    )


def test_same_connection_over_many_polls_is_one_record_with_its_window() -> None:
    merged = Merger()
    for at in range(1000):
        merged.add(
            conn(
                at, packets=at if at % 2 else None, state="TIME_WAIT" if at > 990 else "ESTABLISHED"
            )
        )
    assert len(merged) == 1
    (only,) = merged.items()
    assert isinstance(only, model.Connection)
    assert (only.first_seen, only.last_seen) == (T0, T0 + timedelta(seconds=999))
    assert only.packets_orig == 999 and only.state == "TIME_WAIT"


def test_distinct_connections_and_ends_stay_apart_in_first_seen_order() -> None:
    merged = Merger()
    merged.extend(
        [conn(0, sport=2), conn(1, sport=1), conn(2, sport=2, side="dst"), conn(3, sport=1)]
    )
    assert [(c.original.sport, c.process_side) for c in merged.items()] == [  # type: ignore[union-attr]
        (2, "src"),
        (1, "src"),
        (2, "dst"),
    ]


def test_hosts_unite_addresses_processes_keep_latest() -> None:
    merged = Merger()
    merged.add(model.Host(name="n", ips=("10.0.0.1",)))
    merged.add(model.Host(name="n", ips=("10.0.0.2", "10.0.0.1")))
    merged.add(model.Process(host="n", pid=1, start_ticks=1, comm="a"))
    merged.add(model.Process(host="n", pid=1, start_ticks=1, comm="b"))
    merged.add(model.Process(host="n", pid=1, start_ticks=2, comm="c"))  # pid reused
    assert merged.items() == [
        model.Host(name="n", ips=("10.0.0.1", "10.0.0.2")),
        model.Process(host="n", pid=1, start_ticks=1, comm="b"),
        model.Process(host="n", pid=1, start_ticks=2, comm="c"),
    ]

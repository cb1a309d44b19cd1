"""Generated snapshots for store tests: large host snapshots and time-shifted sample sets."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from tests import factories as f
from topomap import model


def big_snapshot(connections: int, *, seed: int, start: datetime = f.T0) -> model.Snapshot:
    """A host snapshot with ``connections`` distinct client/server address pairs (no inventory,
    so each pair stays its own edge: a large write)."""
    conns = []
    for n in range(connections):
        client = f"10.{seed}.{n // 250 % 250}.{n % 250 + 1}"
        server = f"198.18.{n // 250 % 250}.{n % 250 + 1}"
        conns.append(
            model.Connection(
                protocol="tcp",
                original=model.FlowTuple(src=client, dst=server, sport=40000, dport=443),
                first_seen=start,
                last_seen=start + timedelta(seconds=30),
                observed_by="conntrack",
            )
        )
    return model.Snapshot(
        snapshot_id=f"big-{seed}-{connections}",
        source="host",
        observer=f"host-{seed}",
        window=model.Window(start=start, end=start + timedelta(minutes=1)),
        connections=tuple(conns),
    )


def shifted(snapshot: model.Snapshot, delta: timedelta, suffix: str) -> model.Snapshot:
    """The same snapshot collected ``delta`` later (every time moved, a new id)."""

    def move(value: object) -> object:
        if isinstance(value, datetime):
            return value + delta
        if isinstance(value, tuple):
            return tuple(move(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(
                value,  # type: ignore[arg-type]
                **{
                    field.name: move(getattr(value, field.name))
                    for field in dataclasses.fields(value)
                },
            )
        return value

    moved = move(snapshot)
    assert isinstance(moved, model.Snapshot)
    return dataclasses.replace(moved, snapshot_id=f"{snapshot.snapshot_id}-{suffix}")

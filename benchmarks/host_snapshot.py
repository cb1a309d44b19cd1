"""One generated host's Snapshot, as the benchmarks' generators assemble it.

graph_build.py and analyze.py generate hosts differently (processes, pods, traffic) but write
them out the same way: the conntrack and procfs collector runs with their counts, the host
record, and the lists, in one ``model.Snapshot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import topomap
from topomap import model


class GeneratedHost(Protocol):
    """What both generators' host records carry."""

    index: int
    name: str
    ip: str
    processes: list[model.Process]
    containers: list[model.Container]
    listeners: list[model.Listener]
    connections: list[model.Connection]


def host_snapshot(
    *,
    snapshot_id: str,
    host: GeneratedHost,
    times: Sequence[datetime],
    dns: tuple[model.DnsAnswer, ...],
) -> model.Snapshot:
    """The Snapshot of ``host`` observed from ``times[0]`` to ``times[-1]``."""
    version = topomap.__version__
    return model.Snapshot(
        snapshot_id=snapshot_id,
        source="host",
        observer=host.name,
        window=model.Window(start=times[0], end=times[-1]),
        collectors=(
            model.CollectorRun(
                name="conntrack",
                version=version,
                status="ok",
                counts={"connections": len(host.connections)},
            ),
            model.CollectorRun(
                name="procfs",
                version=version,
                status="ok",
                counts={"processes": len(host.processes)},
            ),
        ),
        hosts=(model.Host(name=host.name, ips=(host.ip,), machine_id=f"{host.index:032x}"),),
        processes=tuple(host.processes),
        containers=tuple(host.containers),
        listeners=tuple(host.listeners),
        connections=tuple(host.connections),
        dns=dns,
    )

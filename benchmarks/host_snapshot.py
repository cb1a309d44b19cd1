"""One generated host's Snapshot, as the benchmarks' generators assemble it.

graph_build.py and analyze.py generate hosts differently (processes, pods, traffic) but write
them out the same way: the conntrack and procfs collector runs with their counts, the host
record, and the lists, in one ``model.Snapshot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import topomap
from topomap import model


def host_snapshot(
    *,
    snapshot_id: str,
    name: str,
    ip: str,
    index: int,
    times: Sequence[datetime],
    processes: Sequence[model.Process],
    containers: Sequence[model.Container],
    listeners: Sequence[model.Listener],
    connections: Sequence[model.Connection],
    dns: tuple[model.DnsAnswer, ...],
) -> model.Snapshot:
    """The Snapshot of host number ``index`` observed from ``times[0]`` to ``times[-1]``."""
    version = topomap.__version__
    return model.Snapshot(
        snapshot_id=snapshot_id,
        source="host",
        observer=name,
        window=model.Window(start=times[0], end=times[-1]),
        collectors=(
            model.CollectorRun(
                name="conntrack",
                version=version,
                status="ok",
                counts={"connections": len(connections)},
            ),
            model.CollectorRun(
                name="procfs", version=version, status="ok", counts={"processes": len(processes)}
            ),
        ),
        hosts=(model.Host(name=name, ips=(ip,), machine_id=f"{index:032x}"),),
        processes=tuple(processes),
        containers=tuple(containers),
        listeners=tuple(listeners),
        connections=tuple(connections),
        dns=dns,
    )

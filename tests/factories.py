"""Factories with sane defaults for building snapshots in tests (in the spirit of mp's tflow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from topomap import model

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def flow(src: str, sport: int | None, dst: str, dport: int | None) -> model.FlowTuple:
    return model.FlowTuple(src=src, sport=sport, dst=dst, dport=dport)


def conn(
    src: str,
    sport: int | None,
    dst: str,
    dport: int | None,
    *,
    reply: tuple[str, int | None, str, int | None] | None = None,
    protocol: model.Protocol = "tcp",
    start: float = 0,
    end: float = 10,
    counters: tuple[int, int, int, int] | None = None,
    by: str = "conntrack",
    **extra: Any,
) -> model.Connection:
    """A connection; ``counters`` is (packets_orig, bytes_orig, packets_reply, bytes_reply)."""
    packets_orig, bytes_orig, packets_reply, bytes_reply = counters or (None, None, None, None)
    return model.Connection(
        protocol=protocol,
        original=flow(src, sport, dst, dport),
        reply=flow(*reply) if reply else None,
        first_seen=at(start),
        last_seen=at(end),
        observed_by=by,
        packets_orig=packets_orig,
        bytes_orig=bytes_orig,
        packets_reply=packets_reply,
        bytes_reply=bytes_reply,
        **extra,
    )


def pod(
    name: str,
    ip: str,
    *,
    ns: str = "shop",
    node: str = "node-a",
    app: str | None = None,
    workload: str | None = None,
    **extra: Any,
) -> model.Pod:
    app = app or name.split("-")[0]
    return model.Pod(
        namespace=ns,
        name=name,
        node=node,
        ips=(ip,),
        labels={"app": app},
        workload=model.ObjectRef(kind="Deployment", name=workload or app),
        **extra,
    )


def service(
    name: str, cluster_ip: str, port: int, target: int, *, ns: str = "shop", app: str | None = None
) -> model.Service:
    return model.Service(
        namespace=ns,
        name=name,
        cluster_ips=(cluster_ip,),
        ports=(model.ServicePort(port=port, target_port=target),),
        selector={"app": app or name},
    )


def snapshot(
    observer: str = "node-a",
    *,
    source: model.SourceKind = "host",
    start: float = 0,
    end: float = 60,
    **parts: Any,
) -> model.Snapshot:
    return model.Snapshot(
        snapshot_id=f"{observer}-{start}",
        source=source,
        observer=observer,
        window=model.Window(start=at(start), end=at(end)),
        **{k: tuple(v) if isinstance(v, list) else v for k, v in parts.items()},
    )


def listener(
    host: str, port: int, pid: int, ticks: int, *, ip: str = "0.0.0.0", protocol: str = "tcp"
) -> model.Listener:
    """A listening socket owned by process (pid, ticks)."""
    return model.Listener(
        host=host,
        protocol=protocol,  # type: ignore[arg-type]
        ip=ip,
        port=port,
        process=model.ProcessRef(pid=pid, start_ticks=ticks),
    )

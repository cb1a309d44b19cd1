"""``topomap ingest``, ``topomap store`` and ``topomap history``: the history store's CLI.

Thin click commands over :mod:`topomap.store`. Every command takes ``--store PATH`` (default
:func:`topomap.store.schema.default_path`). Registered on the main group by :func:`register`.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import Any

import click
import orjson

from topomap import findings, model, snapshot_io
from topomap.diff.sides import parse_time
from topomap.errors import InputError
from topomap.files import emit, snapshot_files
from topomap.store import history, ingest, query, schema

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, what: str) -> int:
    """Seconds of ``400d``, ``12h``, ``30m``, ``2w`` or ``90s``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(
            f"{text!r}: expected a number and a unit, e.g. 400d", param_hint=what
        )
    return int(match[1]) * _UNITS[match[2]]


def _store_option(func: Any) -> Any:
    return click.option(
        "--store",
        "store_path",
        metavar="PATH",
        default=None,
        help="History store file [default: $XDG_DATA_HOME/topomap/history.sqlite3].",
    )(func)


def _path(store_path: str | None) -> str:
    return store_path or str(schema.default_path())


@click.command("ingest")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@_store_option
def ingest_command(files: tuple[str, ...], store_path: str | None) -> None:
    """Store snapshots and findings reports (files or directories) in the history store.

    Every file is checked before anything is written. Each snapshot is stored whole or not at
    all; one already stored (same id or same sha256) is skipped. Several processes may ingest
    into the same store at once. Host snapshots are resolved against the cluster inventory
    given with them, else the one in the store nearest before them.
    """
    snapshots: list[snapshot_io.LoadedSnapshot] = []
    reports: list[tuple[str, str, findings.Report]] = []
    for path in snapshot_files(files):
        document, digest = snapshot_io.read_json(path)
        block = document.get("topomap") if isinstance(document, dict) else None
        if isinstance(block, dict) and block.get("kind") == "findings":
            report = findings.report_from_document(document, origin=str(path))
            ingest.report_window(report, str(path))
            reports.append((str(path), digest, report))
        elif isinstance(block, dict):
            raise InputError(
                f"{path}: a {block.get('kind') or 'graph'} file; ingest takes "
                "snapshots and findings reports"
            )
        else:
            snap = snapshot_io.snapshot_from_document(document, origin=str(path))
            snapshots.append(snapshot_io.LoadedSnapshot(str(path), digest, snap))
    inventories: list[model.Snapshot] = [
        s.snapshot for s in snapshots if ingest.has_inventory(s.snapshot)
    ]
    conn = schema.connect(_path(store_path))
    try:
        items = [ingest.Item(s.snapshot, s.sha256, s.path) for s in snapshots]
        for done in ingest.ingest_snapshots(conn, items, context=inventories):
            _report(done)
        for origin, digest, report in reports:
            _report(ingest.ingest_report(conn, report, digest, origin=origin))
    finally:
        conn.close()


def _report(done: ingest.Ingested) -> None:
    if done.stored:
        unit = "edges" if done.kind == "snapshot" else "findings"
        text = f"{done.origin}: stored {done.kind} ({done.rows} {unit})"
    else:
        text = f"{done.origin}: skipped: {done.note}"
    if done.stored and done.note:
        text += f"; warning: {done.note}"
    click.echo(text)


@click.group("store")
def store_group() -> None:
    """The history store: what it holds, and retention."""


@store_group.command("info")
@_store_option
def info_command(store_path: str | None) -> None:
    """What the store holds: counts, covered time, schema version (JSON)."""
    conn = schema.connect(_path(store_path), create=False)
    try:
        data = {"path": _path(store_path), **query.info(conn)}
    finally:
        conn.close()
    emit(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE), "-")


@store_group.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="Forget what ended more than this long ago: 400d, 12w, 36h.",
)
@click.option("--as-of", "as_of", metavar="TIME", help="Count from this time [default: now].")
@_store_option
def prune_command(older_than: str, as_of: str | None, store_path: str | None) -> None:
    """Forget snapshots and findings reports older than DURATION (one transaction).

    Edges keep their first/last seen from the sightings that remain.
    """
    now = parse_time(as_of, what="--as-of") if as_of else int(time.time())
    cutoff = now - parse_duration(older_than, what="--older-than")
    conn = schema.connect(_path(store_path), create=False)
    try:
        counts = query.prune(conn, cutoff)
    finally:
        conn.close()
    removed = ", ".join(f"{n} {what}" for what, n in counts.items())
    click.echo(f"pruned everything that ended before {query.iso(cutoff)}: removed {removed}")


def _edge_arg(text: str) -> tuple[str, str, tuple[str, int | None] | None]:
    source, arrow, rest = text.partition("->")
    parts = rest.split()
    if not arrow or not source.strip() or len(parts) not in (1, 2):
        raise click.BadParameter(
            f"{text!r}: expected 'SOURCE -> TARGET' or 'SOURCE -> TARGET PROTOCOL/PORT'",
            param_hint="--edge",
        )
    service = None
    if len(parts) == 2:
        protocol, _, port = parts[1].partition("/")
        if port and not port.isdigit():
            raise click.BadParameter(f"{parts[1]!r}: expected PROTOCOL/PORT", param_hint="--edge")
        service = (protocol, int(port) if port else None)
    return source.strip(), parts[0], service


@click.command("history")
@click.option("--from", "start", metavar="TIME", help="Start (date or UTC time) [default: all].")
@click.option("--to", "end", metavar="TIME", help="End, exclusive [default: all].")
@click.option(
    "--by",
    "by",
    type=click.Choice(sorted(history.BUCKETS)),
    default="day",
    show_default=True,
    help="Bucket size for the counts.",
)
@click.option("--node", metavar="ID", help="Periods one node was seen (normalised id).")
@click.option("--edge", metavar="'SRC -> DST [PROTO/PORT]'", help="Periods one edge was seen.")
@click.option(
    "--gap",
    default="2h",
    show_default=True,
    metavar="DURATION",
    help="With --node/--edge: a longer pause starts a new period.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True
)
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
@_store_option
def history_command(
    start: str | None,
    end: str | None,
    by: str,
    node: str | None,
    edge: str | None,
    gap: str,
    fmt: str,
    output: str,
    store_path: str | None,
) -> None:
    """Per day (or hour): edges, external peers and findings by severity; or, with --node or
    --edge, the periods one node or edge was seen."""
    lo = parse_time(start, what="--from") if start else None
    hi = parse_time(end, what="--to") if end else None
    conn = schema.connect(_path(store_path), create=False)
    try:
        if node or edge:
            data = _periods(conn, node, edge, parse_duration(gap, what="--gap"), lo, hi)
        else:
            covered = history.span(conn)
            if covered is None:
                raise InputError(f"{_path(store_path)}: the store is empty")
            buckets = history.history(
                conn,
                covered[0] if lo is None else lo,
                covered[1] if hi is None else hi,
                history.BUCKETS[by],
            )
            data = {"by": by, "buckets": [asdict(b) for b in buckets]}
    finally:
        conn.close()
    if fmt == "json":
        emit(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE), output)
    else:
        emit(_text(data), output)


def _periods(
    conn: Any, node: str | None, edge: str | None, gap: int, lo: int | None, hi: int | None
) -> dict[str, Any]:
    if node and edge:
        raise click.UsageError("give --node or --edge, not both")
    if node:
        periods = query.node_periods(conn, node, gap, lo, hi)
        subject: dict[str, Any] = {"node": node}
    else:
        assert edge is not None
        source, target, service = _edge_arg(edge)
        periods = query.edge_periods(conn, source, target, gap, lo, hi, service)
        subject = {"edge": edge, "edges": query.edge_span(conn, source, target)}
    return {
        **subject,
        "gap_seconds": gap,
        "periods": [
            {"start": query.iso(p.start), "end": query.iso(p.end), "sightings": p.sightings}
            for p in periods
        ],
    }


def _text(data: dict[str, Any]) -> str:
    if "buckets" in data:
        lines = [f"{'start':<21} {'snapshots':>9} {'edges':>7} {'external':>8}  findings"]
        for b in data["buckets"]:
            found = " ".join(f"{k}={v}" for k, v in b["findings"].items() if v) or "-"
            lines.append(
                f"{b['start']:<21} {b['snapshots']:>9} {b['edges']:>7} "
                f"{b['external_peers']:>8}  {found}"
            )
        return "\n".join(lines) + "\n"
    subject = data.get("node") or data.get("edge")
    lines = [f"{subject}: seen in {len(data['periods'])} period(s)"]
    lines += [
        f"  {p['start']} .. {p['end']}  ({p['sightings']} sightings)" for p in data["periods"]
    ]
    for e in data.get("edges", []):
        port = "" if e["port"] is None else f"/{e['port']}"
        lines.append(
            f"  {e['protocol']}{port}: first seen {e['first_seen']}, last seen {e['last_seen']}"
        )
    return "\n".join(lines) + "\n"


def register(group: click.Group) -> None:
    """Add ``ingest``, ``store`` and ``history`` to the main command group."""
    group.add_command(ingest_command)
    group.add_command(store_group)
    group.add_command(history_command)

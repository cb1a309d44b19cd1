"""Ingesting into the history store: snapshots and findings reports, each all or nothing.

A snapshot is stored as what it showed at the ``workload`` view, normalised
(:mod:`topomap.diff.normalize`): its nodes (``presence``) and its edges (``sightings``, with
first/last seen and connections), each edge's history-wide first/last seen widened. Everything
of one snapshot is written in one ``BEGIN IMMEDIATE`` transaction: a killed ingest leaves the
whole snapshot or none of it. Identity is the snapshot id *and* the sha256 of its bytes: a
snapshot already stored under either is skipped, so ingesting the same file twice (or two
processes racing on it) stores it once.

A host snapshot knows addresses, not pods: it is resolved against a cluster inventory (its
*context*): a snapshot with pods, workloads or services given in the same call (the one
nearest in time), else the inventory stored in the store nearest before it (else the first
after it). Snapshots that carry an inventory store it (without connections, compressed,
deduplicated by content) for later host snapshots. Without any context, pod addresses stay
unresolved (``external:`` nodes) and the result says so.

A findings report is stored with its window (when it applies) and each finding's fingerprint,
rule, severity and whole record, so ``topomap history`` can count them and ``topomap diff``
can compare them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from topomap import findings, graph, model, snapshot_io
from topomap.diff import normalize
from topomap.errors import InputError

#: The view the store records.
STORE_VIEW = "workload"
#: ``edges.port`` for edges without a port (ICMP).
NO_PORT = -1


@dataclass(frozen=True, slots=True)
class Ingested:
    """What one ingest did."""

    origin: str
    """The file (or snapshot id) ingested."""
    stored: bool
    """False when it was already in the store (nothing written)."""
    kind: str
    """``snapshot`` or ``findings``."""
    rows: int = 0
    """Edges (for a snapshot) or findings (for a report) it holds."""
    note: str = ""
    """Anything the user should know (already stored as what; no cluster context)."""


def epoch(value: datetime | str) -> int:
    """Seconds since the epoch (UTC) of a datetime or an ISO 8601 string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return int(value.timestamp())


def snapshot_sha256(snapshot: model.Snapshot) -> str:
    """sha256 of a snapshot's canonical JSON (for snapshots that do not come from a file)."""
    return hashlib.sha256(snapshot_io.dumps_snapshot(snapshot)).hexdigest()


def has_inventory(snapshot: model.Snapshot) -> bool:
    """Whether a snapshot knows pods, workloads or services (a cluster inventory)."""
    return bool(snapshot.pods or snapshot.workloads or snapshot.services)


def inventory_of(snapshot: model.Snapshot) -> model.Snapshot:
    """The snapshot without what it observed on the wire: the context other snapshots need."""
    return dataclasses.replace(
        snapshot, connections=(), listeners=(), processes=(), containers=(), dns=()
    )


def _nearest(snapshot: model.Snapshot, candidates: Sequence[model.Snapshot]) -> model.Snapshot:
    before = [c for c in candidates if c.window.start <= snapshot.window.end]
    if before:
        return max(before, key=lambda c: c.window.start)
    return min(candidates, key=lambda c: c.window.start)


def _stored_context(conn: sqlite3.Connection, when: int) -> tuple[str, model.Snapshot] | None:
    row = (
        conn.execute(
            "SELECT sha256, body FROM contexts WHERE window_start <= ? "
            "ORDER BY window_start DESC LIMIT 1",
            (when,),
        ).fetchone()
        or conn.execute(
            "SELECT sha256, body FROM contexts ORDER BY window_start LIMIT 1"
        ).fetchone()
    )
    if row is None:
        return None
    document = orjson.loads(zlib.decompress(row[1]))
    return row[0], snapshot_io.snapshot_from_document(document, origin=f"store context {row[0]}")


def _already(conn: sqlite3.Connection, snapshot_id: str, sha256: str) -> str | None:
    row = conn.execute(
        "SELECT snapshot_id, sha256 FROM snapshots WHERE snapshot_id = ? OR sha256 = ?",
        (snapshot_id, sha256),
    ).fetchone()
    if row is None:
        return None
    if row[1] == sha256:
        return "already stored (same sha256)"
    return f"already stored as snapshot {row[0]} (same id, other bytes: sha256 {row[1][:16]})"


def ingest_snapshot(
    conn: sqlite3.Connection,
    snapshot: model.Snapshot,
    sha256: str,
    *,
    origin: str | None = None,
    context: Sequence[model.Snapshot] = (),
) -> Ingested:
    """Store one snapshot (all or nothing); skip it if its id or sha256 is already stored.

    Parameters
    ----------
    conn
        An open store (:func:`topomap.store.schema.connect`).
    snapshot
        The snapshot.
    sha256
        Digest of its file's bytes (:func:`snapshot_sha256` for one built in memory).
    origin
        How to name it in messages (its path); defaults to the snapshot id.
    context
        Snapshots with a cluster inventory given together with this one.
    """
    name = origin or snapshot.snapshot_id
    seen = _already(conn, snapshot.snapshot_id, sha256)
    if seen:
        return Ingested(name, False, "snapshot", note=seen)
    note = ""
    inventory: model.Snapshot | None = None
    context_sha: str | None = None
    resolve_with: list[model.Snapshot] = [snapshot]
    if has_inventory(snapshot):
        inventory = inventory_of(snapshot)
        context_sha = hashlib.sha256(snapshot_io.dumps_snapshot(inventory)).hexdigest()
    elif snapshot.connections:
        given = [c for c in context if has_inventory(c) and c is not snapshot]
        if given:
            chosen = inventory_of(_nearest(snapshot, given))
            context_sha = hashlib.sha256(snapshot_io.dumps_snapshot(chosen)).hexdigest()
            resolve_with.append(chosen)
        else:
            stored = _stored_context(conn, epoch(snapshot.window.end))
            if stored is None:
                note = "no cluster inventory in the store or the call: pod addresses unresolved"
            else:
                context_sha = stored[0]
                resolve_with.append(stored[1])
    side = normalize.normalize(graph.build_graph(resolve_with), STORE_VIEW)
    body = zlib.compress(snapshot_io.dumps_snapshot(inventory)) if inventory else None
    conn.execute("BEGIN IMMEDIATE")
    try:
        seen = _already(conn, snapshot.snapshot_id, sha256)  # another process was quicker
        if seen:
            conn.execute("ROLLBACK")
            return Ingested(name, False, "snapshot", note=seen)
        _write(conn, snapshot, sha256, side, context_sha, body)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Ingested(name, True, "snapshot", rows=len(side.edges), note=note)


def _write(
    conn: sqlite3.Connection,
    snapshot: model.Snapshot,
    sha256: str,
    side: normalize.Side,
    context_sha: str | None,
    body: bytes | None,
) -> None:
    start, end = epoch(snapshot.window.start), epoch(snapshot.window.end)
    if body is not None and context_sha is not None:
        conn.execute(
            "INSERT OR IGNORE INTO contexts(sha256, window_start, window_end, body) "
            "VALUES (?, ?, ?, ?)",
            (context_sha, start, end, body),
        )
    cur = conn.execute(
        "INSERT INTO snapshots(snapshot_id, sha256, observer, source, window_start, window_end, "
        "ingested_at, connections, edges, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            snapshot.snapshot_id,
            sha256,
            snapshot.observer,
            snapshot.source,
            start,
            end,
            int(time.time()),
            len(snapshot.connections),
            len(side.edges),
            context_sha,
        ),
    )
    row = cur.lastrowid
    conn.executemany(
        "INSERT INTO nodes(node, kind, label, namespace, ip, names, zone) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(node) DO UPDATE SET "
        "label = excluded.label, names = excluded.names, zone = excluded.zone "
        "WHERE (nodes.label, nodes.names, nodes.zone) "
        "IS NOT (excluded.label, excluded.names, excluded.zone)",
        [
            (n.id, n.kind, n.label, n.namespace, n.ip, orjson.dumps(list(n.names)).decode(), n.zone)
            for n in side.nodes.values()
        ],
    )
    wanted = sorted(side.nodes.keys() | {e[0] for e in side.edges} | {e[1] for e in side.edges})
    ids = dict(
        conn.execute(
            "SELECT n.node, n.id FROM json_each(?) j JOIN nodes n ON n.node = j.value",
            (orjson.dumps(wanted).decode(),),
        ).fetchall()
    )
    missing = [n for n in wanted if n not in ids]
    if missing:  # an edge end the view has no node for (kept, with what its id says)
        conn.executemany(
            "INSERT OR IGNORE INTO nodes(node, kind, label) VALUES (?, ?, ?)",
            [(n, n.partition(":")[0], n.partition(":")[2]) for n in missing],
        )
        ids.update(
            conn.execute(
                "SELECT n.node, n.id FROM json_each(?) j JOIN nodes n ON n.node = j.value",
                (orjson.dumps(missing).decode(),),
            ).fetchall()
        )
    conn.executemany(
        "INSERT INTO presence(snapshot, node) VALUES (?, ?)",
        [(row, ids[n]) for n in side.nodes],
    )
    times: dict[str, int] = {}

    def at(text: str) -> int:
        found = times.get(text)
        if found is None:
            found = times[text] = epoch(text)
        return found

    rows = [
        (
            ids[u],
            ids[v],
            protocol,
            NO_PORT if port is None else port,
            at(stats.first_seen),
            at(stats.last_seen),
            stats.connections,
        )
        for (u, v, protocol, port), stats in side.edges.items()
    ]
    conn.executemany(
        "INSERT INTO edges(src, dst, protocol, port, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(src, dst, protocol, port) DO UPDATE SET "
        "first_seen = min(edges.first_seen, excluded.first_seen), "
        "last_seen = max(edges.last_seen, excluded.last_seen)",
        [r[:6] for r in rows],
    )
    conn.execute(
        "INSERT INTO sightings(snapshot, edge, first_seen, last_seen, connections) "
        "SELECT ?, e.id, j.value ->> 4, j.value ->> 5, j.value ->> 6 FROM json_each(?) j "
        "JOIN edges e ON e.src = j.value ->> 0 AND e.dst = j.value ->> 1 "
        "AND e.protocol = j.value ->> 2 AND e.port = j.value ->> 3",
        (row, orjson.dumps(rows).decode()),
    )


def report_window(report: findings.Report, origin: str) -> tuple[int, int]:
    """The window a findings report applies to (its ``topomap.window``)."""
    window = report.topomap.window
    try:
        return epoch(window["start"]), epoch(window.get("end") or window["start"])
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"{origin}: /topomap/window: needs a 'start' (and 'end') time to place the "
            "findings in the history"
        ) from exc


def ingest_report(
    conn: sqlite3.Connection, report: findings.Report, sha256: str, *, origin: str
) -> Ingested:
    """Store one findings report (all or nothing); skip it if its sha256 is already stored."""
    start, end = report_window(report, origin)
    rows = [
        (
            f.fingerprint,
            f.rule,
            f.severity,
            int(f.active),
            orjson.dumps(dataclasses.asdict(f), option=orjson.OPT_UTC_Z).decode(),
        )
        for f in findings.by_fingerprint(report.findings).values()
    ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM reports WHERE sha256 = ?", (sha256,)).fetchone():
            conn.execute("ROLLBACK")
            return Ingested(origin, False, "findings", note="already stored (same sha256)")
        cur = conn.execute(
            "INSERT INTO reports(sha256, graph_sha256, window_start, window_end, ingested_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (sha256, report.topomap.graph_sha256, start, end, int(time.time())),
        )
        conn.executemany(
            "INSERT INTO findings(report, fingerprint, rule, severity, active, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(cur.lastrowid, *r) for r in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Ingested(origin, True, "findings", rows=len(rows))

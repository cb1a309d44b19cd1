"""Ingesting into the history store: snapshots and findings reports, each all or nothing.

A snapshot is stored as what it showed at the ``workload`` view, normalised
(:mod:`topomap.diff.normalize`): its nodes (``presence``) and its edges (``sightings``, with
first/last seen and connections), each edge's history-wide first/last seen widened.

Snapshots are ingested by *collection round*: those given together whose windows overlap (the
hosts' and the cluster API's snapshots of one collection) are merged into one graph, exactly as
``topomap graph`` merges them, so a connection seen from both ends or through NAT on two nodes
resolves once and the same way; each edge is then recorded as sighted by the snapshots whose
observer saw it (its ``observed_by``), its connections counted once. A round is written in one
``BEGIN IMMEDIATE`` transaction: a killed ingest leaves each snapshot whole or absent.

Identity is the snapshot id *and* the sha256 of its bytes: a snapshot already stored under
either is skipped, so the same file ingested twice (or by two racing processes) is stored once.

A round without a cluster inventory (host snapshots only) is resolved against one: a snapshot
with pods, workloads or services given in the same call (nearest in time), else the inventory
stored nearest before it (else the first after it). Snapshots with an inventory store it
(without what they observed on the wire, compressed, deduplicated by content) for later rounds.
Without any, pod addresses stay unresolved (``external:`` nodes) and the result says so.

A findings report is stored with its window and each finding's fingerprint, rule, severity and
whole record, so ``topomap history`` can count them and ``topomap diff`` compare them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from topomap import findings, graph, model, snapshot_io
from topomap.diff import normalize
from topomap.errors import InputError

#: The view the store records.
STORE_VIEW = "workload"
#: ``edges.port`` for edges without a port (ICMP).
NO_PORT = -1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


#: Decoded inventories by sha256 (a few: host snapshots of one period share one).
_CONTEXTS: dict[str, model.Snapshot] = {}


def _stored_context(conn: sqlite3.Connection, when: int) -> tuple[str, model.Snapshot] | None:
    row = (
        conn.execute(
            "SELECT sha256 FROM contexts WHERE window_start <= ? "
            "ORDER BY window_start DESC LIMIT 1",
            (when,),
        ).fetchone()
        or conn.execute("SELECT sha256 FROM contexts ORDER BY window_start LIMIT 1").fetchone()
    )
    if row is None:
        return None
    found = _CONTEXTS.get(row[0])
    if found is None:
        (body,) = conn.execute("SELECT body FROM contexts WHERE sha256 = ?", row).fetchone()
        document = orjson.loads(zlib.decompress(body))
        found = snapshot_io.snapshot_from_document(document, origin=f"store context {row[0]}")
        if len(_CONTEXTS) >= 4:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        _CONTEXTS[row[0]] = found
    return row[0], found


def inventory_digest(inventory: model.Snapshot) -> str:
    """Content digest of an inventory: the same pods, services... give the same digest,
    whichever snapshot (id, window, collectors) carried them."""
    bare = dataclasses.replace(
        inventory,
        snapshot_id="inventory",
        window=model.Window(start=_EPOCH, end=_EPOCH),
        collectors=(),
    )
    return hashlib.sha256(snapshot_io.dumps_snapshot(bare)).hexdigest()


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


@dataclass(frozen=True, slots=True)
class Item:
    """A snapshot to ingest, with the digest of its bytes and how to name it."""

    snapshot: model.Snapshot
    """The snapshot."""
    sha256: str
    """Digest of its file's bytes (:func:`snapshot_sha256` for one built in memory)."""
    origin: str
    """How to name it in messages (its path)."""


def rounds(items: Sequence[Item]) -> list[list[Item]]:
    """Items grouped into collection rounds: snapshots whose windows overlap, by start time."""
    groups: list[list[Item]] = []
    end = None
    for item in sorted(items, key=lambda i: (i.snapshot.window.start, i.origin)):
        window = item.snapshot.window
        if groups and end is not None and window.start <= end:
            groups[-1].append(item)
            end = max(end, window.end)
        else:
            groups.append([item])
            end = window.end
    return groups


def ingest_snapshot(
    conn: sqlite3.Connection,
    snapshot: model.Snapshot,
    sha256: str,
    *,
    origin: str | None = None,
    context: Sequence[model.Snapshot] = (),
) -> Ingested:
    """Store one snapshot (all or nothing); skip it if its id or sha256 is already stored.

    ``context``: snapshots with a cluster inventory to resolve it against (see the module
    docstring). Returns what was done.
    """
    item = Item(snapshot, sha256, origin or snapshot.snapshot_id)
    return ingest_round(conn, [item], context=context)[0]


def ingest_snapshots(
    conn: sqlite3.Connection, items: Sequence[Item], *, context: Sequence[model.Snapshot] = ()
) -> list[Ingested]:
    """Store snapshots round by round (:func:`rounds`): each round in one transaction."""
    done: list[Ingested] = []
    for group in rounds(items):
        done.extend(ingest_round(conn, group, context=context))
    return done


def _context_for(
    conn: sqlite3.Connection, group: Sequence[Item], context: Sequence[model.Snapshot]
) -> tuple[list[model.Snapshot], str | None, str]:
    """The inventory to resolve a round without one against: (snapshots, its sha256, note)."""
    first = group[0].snapshot
    given = [c for c in context if has_inventory(c)]
    if given:
        chosen = inventory_of(_nearest(first, given))
        return [chosen], inventory_digest(chosen), ""
    stored = _stored_context(conn, epoch(max(i.snapshot.window.end for i in group)))
    if stored is None:
        return [], None, "no cluster inventory in the store or the call: pod addresses unresolved"
    return [stored[1]], stored[0], ""


def ingest_round(
    conn: sqlite3.Connection, group: Sequence[Item], *, context: Sequence[model.Snapshot] = ()
) -> list[Ingested]:
    """Store the snapshots of one collection round together, in one transaction.

    The round's snapshots are merged into one graph (so a connection seen from both ends, or
    through NAT on two nodes, resolves as it does in ``topomap graph``), and each edge is
    recorded as sighted by the snapshots whose observer saw it. Snapshots already stored are
    skipped; if another process stores one of them meanwhile, the round is redone without it.
    """
    pending = list(group)
    done: list[Ingested] = []
    while pending:
        fresh = []
        for item in pending:
            seen = _already(conn, item.snapshot.snapshot_id, item.sha256)
            if seen:
                done.append(Ingested(item.origin, False, "snapshot", note=seen))
            else:
                fresh.append(item)
        if not fresh:
            break
        snaps = [i.snapshot for i in fresh]
        extra: list[model.Snapshot] = []
        context_sha, note = None, ""
        if not any(has_inventory(s) for s in snaps):
            if any(s.connections for s in snaps):
                extra, context_sha, note = _context_for(conn, fresh, context)
        side = normalize.normalize(graph.build_graph([*snaps, *extra]), STORE_VIEW, observers=True)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if any(_already(conn, i.snapshot.snapshot_id, i.sha256) for i in fresh):
                conn.execute("ROLLBACK")  # another process was quicker: redo without them
                continue
            counts = _write(conn, fresh, side, context_sha)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done.extend(
            Ingested(i.origin, True, "snapshot", rows=counts[i.snapshot.snapshot_id], note=note)
            for i in fresh
        )
        break
    order = {item.origin: n for n, item in enumerate(group)}
    return sorted(done, key=lambda d: order.get(d.origin, 0))


def _write(
    conn: sqlite3.Connection,
    items: Sequence[Item],
    side: normalize.Side,
    context_sha: str | None,
) -> dict[str, int]:
    """Insert one round; return the number of edges sighted by each snapshot id."""
    rows: dict[str, int] = {}
    for item in items:
        snap = item.snapshot
        start, end = epoch(snap.window.start), epoch(snap.window.end)
        own_context = context_sha
        if has_inventory(snap):
            inventory = inventory_of(snap)
            own_context = inventory_digest(inventory)
            known = conn.execute("SELECT 1 FROM contexts WHERE sha256 = ?", (own_context,))
            if known.fetchone() is None:
                body = zlib.compress(snapshot_io.dumps_snapshot(inventory))
                conn.execute(
                    "INSERT INTO contexts(sha256, window_start, window_end, body) "
                    "VALUES (?, ?, ?, ?)",
                    (own_context, start, end, body),
                )
            else:  # the same inventory seen again: it is the current one from now on
                conn.execute(
                    "UPDATE contexts SET window_start = max(window_start, ?), "
                    "window_end = max(window_end, ?) WHERE sha256 = ?",
                    (start, end, own_context),
                )
        cur = conn.execute(
            "INSERT INTO snapshots(snapshot_id, sha256, observer, source, window_start, "
            "window_end, ingested_at, connections, edges, context) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                snap.snapshot_id,
                item.sha256,
                snap.observer,
                snap.source,
                start,
                end,
                int(time.time()),
                len(snap.connections),
                0,
                own_context,
            ),
        )
        rows[snap.snapshot_id] = 0
        rows[f"#{snap.snapshot_id}"] = int(cur.lastrowid or 0)
    ids = _node_ids(conn, side)
    snapshot_rows = [rows[f"#{i.snapshot.snapshot_id}"] for i in items]
    conn.executemany(
        "INSERT INTO presence(snapshot, node) VALUES (?, ?)",
        [(row, ids[n]) for row in snapshot_rows for n in side.nodes],
    )
    by_observer: dict[str, list[Item]] = {}
    for item in items:
        by_observer.setdefault(item.snapshot.observer, []).append(item)
    times: dict[str, int] = {}

    def at(text: str) -> int:
        found = times.get(text)
        if found is None:
            found = times[text] = epoch(text)
        return found

    edge_rows = []
    sightings = []
    for (u, v, protocol, port), stats in side.edges.items():
        first, last = at(stats.first_seen), at(stats.last_seen)
        edge_rows.append((ids[u], ids[v], protocol, NO_PORT if port is None else port, first, last))
        hosts = sorted({o.rpartition("@")[2] for o in stats.observed_by or ()})
        seers = [i for h in hosts for i in by_observer.get(h, ())] or [items[0]]
        for n, item in enumerate(seers):  # connections counted once, on the first seer
            sightings.append(
                (
                    rows[f"#{item.snapshot.snapshot_id}"],
                    ids[u],
                    ids[v],
                    protocol,
                    NO_PORT if port is None else port,
                    first,
                    last,
                    stats.connections if n == 0 else 0,
                )
            )
            rows[item.snapshot.snapshot_id] += 1
    conn.executemany(
        "INSERT INTO edges(src, dst, protocol, port, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(src, dst, protocol, port) DO UPDATE SET "
        "first_seen = min(edges.first_seen, excluded.first_seen), "
        "last_seen = max(edges.last_seen, excluded.last_seen)",
        edge_rows,
    )
    conn.execute(
        "INSERT INTO sightings(snapshot, edge, first_seen, last_seen, connections) "
        "SELECT j.value ->> 0, e.id, j.value ->> 5, j.value ->> 6, j.value ->> 7 "
        "FROM json_each(?) j JOIN edges e ON e.src = j.value ->> 1 AND e.dst = j.value ->> 2 "
        "AND e.protocol = j.value ->> 3 AND e.port = j.value ->> 4",
        (orjson.dumps(sightings).decode(),),
    )
    conn.executemany(
        "UPDATE snapshots SET edges = ? WHERE id = ?",
        [(rows[i.snapshot.snapshot_id], rows[f"#{i.snapshot.snapshot_id}"]) for i in items],
    )
    return {i.snapshot.snapshot_id: rows[i.snapshot.snapshot_id] for i in items}


def _node_ids(conn: sqlite3.Connection, side: normalize.Side) -> dict[str, int]:
    """Upsert the side's nodes (and any edge end without one); their row ids by node id."""
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
    ends = {e[0] for e in side.edges} | {e[1] for e in side.edges}
    conn.executemany(  # an edge end the view has no node for: kept with what its id says
        "INSERT OR IGNORE INTO nodes(node, kind, label) VALUES (?, ?, ?)",
        [(n, n.partition(":")[0], n.partition(":")[2]) for n in sorted(ends - side.nodes.keys())],
    )
    wanted = sorted(side.nodes.keys() | ends)
    return dict(
        conn.execute(
            "SELECT n.node, n.id FROM json_each(?) j JOIN nodes n ON n.node = j.value",
            (orjson.dumps(wanted).decode(),),
        ).fetchall()
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

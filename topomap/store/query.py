"""Reading the history store: a time window as a graph, the periods one edge or node was seen,
what the store holds, and retention.

A *window* is ``[start, end)`` in seconds since the epoch (UTC); ``None`` leaves a side open.
A sighting belongs to a window when its ``[first_seen, last_seen]`` overlaps it, and a node when
a snapshot whose window overlaps it saw the node.

:func:`window_graph` gives the window as a workload-view graph (the store's view), the same
shape :func:`topomap.views.project` gives, so ``topomap diff`` compares it like any other side;
:func:`window_findings` the findings of the reports that overlap the window.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import networkx as nx
import orjson

from topomap import findings, typed_json
from topomap.inventory import format_time
from topomap.store.ingest import NO_PORT, STORE_VIEW

_FAR = 2**62
_decode_finding = typed_json.decoder_for(findings.Finding)


def iso(seconds: int) -> str:
    """UTC ISO 8601 of an epoch time."""
    return format_time(datetime.fromtimestamp(seconds, UTC))


def _bounds(start: int | None, end: int | None) -> tuple[int, int]:
    return (-_FAR if start is None else start, _FAR if end is None else end)


@dataclass(frozen=True, slots=True)
class WindowEdge:
    """One stored edge as seen in a window."""

    source: str
    """Normalised id of the client end."""
    target: str
    """Normalised id of the server end."""
    protocol: str
    """Transport protocol."""
    port: int | None
    """Server port (``None`` for ICMP)."""
    first_seen: int
    """First sighting inside the window (epoch seconds)."""
    last_seen: int
    """Last sighting inside the window."""
    connections: int
    """Connections summed over the window's sightings (each observer's records)."""
    sightings: int
    """How many snapshots saw it in the window."""


_WINDOW_SNAPSHOTS = "n.window_start < :end AND n.window_end >= :start"
# Queries over a window start from the snapshots in it (index on window_start) and reach
# their sightings by primary key: ``CROSS JOIN`` fixes that order in SQLite, whose planner
# would otherwise walk every sighting through the (edge, first_seen) index for the GROUP BY.


def window_edges(conn: sqlite3.Connection, start: int | None, end: int | None) -> list[WindowEdge]:
    """Every edge sighted in ``[start, end)`` with its times, connections and sightings."""
    lo, hi = _bounds(start, end)
    rows = conn.execute(
        "SELECT a.node, b.node, e.protocol, e.port, w.first, w.last, w.connections, w.seen "
        "FROM (SELECT s.edge AS edge, min(s.first_seen) AS first, max(s.last_seen) AS last, "
        "sum(s.connections) AS connections, count(*) AS seen FROM snapshots n "
        f"CROSS JOIN sightings s ON s.snapshot = n.id WHERE {_WINDOW_SNAPSHOTS} "
        "AND s.last_seen >= :start AND s.first_seen < :end GROUP BY s.edge) w "
        "JOIN edges e ON e.id = w.edge JOIN nodes a ON a.id = e.src JOIN nodes b ON b.id = e.dst",
        {"start": lo, "end": hi},
    ).fetchall()
    return [
        WindowEdge(u, v, protocol, None if port == NO_PORT else port, first, last, conns, seen)
        for u, v, protocol, port, first, last, conns, seen in rows
    ]


def _node_attrs(row: tuple[Any, ...]) -> dict[str, Any]:
    node, kind, label, namespace, ip, names, zone = row
    attrs: dict[str, Any] = {"kind": kind, "label": label}
    if namespace is not None:
        attrs["namespace"] = namespace
    if kind == "external":
        attrs.update(ip=ip, dns_names=orjson.loads(names), zone=zone)
    return attrs


def window_graph(conn: sqlite3.Connection, start: int | None, end: int | None) -> nx.MultiDiGraph:
    """The window as a workload-view graph: the nodes seen in it and its edges.

    Edges are keyed by protocol with their ``ports`` list, like
    :func:`topomap.views.project` at a coarse view; ``first_seen``/``last_seen`` are the
    window's sightings, ``connections`` their sum, ``sightings`` how many snapshots saw them.
    """
    lo, hi = _bounds(start, end)
    edges = window_edges(conn, start, end)
    present = conn.execute(
        "SELECT DISTINCT p.node FROM snapshots n CROSS JOIN presence p ON p.snapshot = n.id "
        f"WHERE {_WINDOW_SNAPSHOTS}",
        {"start": lo, "end": hi},
    ).fetchall()
    wanted = {row[0] for row in present}
    names = {e.source for e in edges} | {e.target for e in edges}
    rows = conn.execute(
        "SELECT node, kind, label, namespace, ip, names, zone FROM nodes "
        "WHERE id IN (SELECT value FROM json_each(:ids)) "
        "OR node IN (SELECT value FROM json_each(:names))",
        {
            "ids": orjson.dumps(sorted(wanted)).decode(),
            "names": orjson.dumps(sorted(names)).decode(),
        },
    ).fetchall()
    result = nx.MultiDiGraph()
    span = _span(conn, lo, hi)
    result.graph.update(
        {
            "view": STORE_VIEW,
            "window": {
                "start": iso(max(lo, span[0])) if span else None,
                "end": iso(min(hi, span[1])) if span else None,
            },
        }
    )
    result.add_nodes_from((row[0], _node_attrs(row)) for row in sorted(rows))
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in edges:
        attrs = grouped.get((e.source, e.target, e.protocol))
        if attrs is None:
            grouped[(e.source, e.target, e.protocol)] = {
                "protocol": e.protocol,
                "ports": [] if e.port is None else [e.port],
                "first_seen": e.first_seen,
                "last_seen": e.last_seen,
                "connections": e.connections,
                "sightings": e.sightings,
            }
            continue
        if e.port is not None:
            attrs["ports"].append(e.port)
        attrs["first_seen"] = min(attrs["first_seen"], e.first_seen)
        attrs["last_seen"] = max(attrs["last_seen"], e.last_seen)
        attrs["connections"] += e.connections
        attrs["sightings"] = max(attrs["sightings"], e.sightings)
    for (u, v, protocol), attrs in sorted(grouped.items()):
        ports = sorted(attrs["ports"])
        attrs.update(
            ports=ports,
            port=ports[0] if len(ports) == 1 else None,
            first_seen=iso(attrs["first_seen"]),
            last_seen=iso(attrs["last_seen"]),
        )
        result.add_edge(u, v, protocol, **attrs)
    return result


def _span(conn: sqlite3.Connection, lo: int, hi: int) -> tuple[int, int] | None:
    row = conn.execute(
        f"SELECT min(n.window_start), max(n.window_end) FROM snapshots n WHERE {_WINDOW_SNAPSHOTS}",
        {"start": lo, "end": hi},
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


def window_findings(
    conn: sqlite3.Connection, start: int | None, end: int | None
) -> tuple[findings.Finding, ...] | None:
    """Findings of the reports overlapping the window (the latest report's record of each);
    ``None`` when no report overlaps it."""
    lo, hi = _bounds(start, end)
    reports = conn.execute(
        "SELECT id FROM reports WHERE window_start < :end AND window_end >= :start "
        "ORDER BY window_end, id",
        {"start": lo, "end": hi},
    ).fetchall()
    if not reports:
        return None
    latest: dict[str, findings.Finding] = {}
    for (report,) in reports:
        for (body,) in conn.execute("SELECT body FROM findings WHERE report = ?", (report,)):
            finding: findings.Finding = _decode_finding(orjson.loads(body))
            latest[finding.fingerprint] = finding
    return tuple(sorted(latest.values(), key=findings.sort_key))


# --- periods of one edge or node ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of time something was seen without a gap longer than the tolerance."""

    start: int
    """First sighting (epoch seconds)."""
    end: int
    """Last sighting."""
    sightings: int
    """Snapshots that saw it in this stretch."""


def merge_periods(intervals: Iterable[tuple[int, int]], gap: int) -> list[Period]:
    """Intervals joined where the pause between them is at most ``gap`` seconds.

    >>> merge_periods([(0, 10), (15, 20), (100, 110)], gap=10)
    [Period(start=0, end=20, sightings=2), Period(start=100, end=110, sightings=1)]
    """
    periods: list[Period] = []
    for first, last in sorted(intervals):
        if periods and first - periods[-1].end <= gap:
            top = periods[-1]
            periods[-1] = Period(top.start, max(top.end, last), top.sightings + 1)
        else:
            periods.append(Period(first, last, 1))
    return periods


def node_periods(
    conn: sqlite3.Connection, node: str, gap: int, start: int | None, end: int | None
) -> list[Period]:
    """When ``node`` (a normalised id) was seen: the windows of the snapshots that saw it."""
    lo, hi = _bounds(start, end)
    rows = conn.execute(
        "SELECT n.window_start, n.window_end FROM presence p "
        "JOIN snapshots n ON n.id = p.snapshot JOIN nodes x ON x.id = p.node "
        f"WHERE x.node = :node AND {_WINDOW_SNAPSHOTS}",
        {"node": node, "start": lo, "end": hi},
    ).fetchall()
    return merge_periods(rows, gap)


def edge_periods(
    conn: sqlite3.Connection,
    source: str,
    target: str,
    gap: int,
    start: int | None,
    end: int | None,
    service: tuple[str, int | None] | None = None,
) -> list[Period]:
    """When the edge ``source -> target`` (any, or one ``(protocol, port)``) was seen."""
    lo, hi = _bounds(start, end)
    protocol, port = service or (None, None)
    rows = conn.execute(
        "SELECT s.first_seen, s.last_seen FROM sightings s JOIN edges e ON e.id = s.edge "
        "JOIN nodes a ON a.id = e.src JOIN nodes b ON b.id = e.dst "
        "WHERE a.node = :source AND b.node = :target "
        "AND (:protocol IS NULL OR e.protocol = :protocol) AND (:port IS NULL OR e.port = :port) "
        "AND s.last_seen >= :start AND s.first_seen < :end",
        {
            "source": source,
            "target": target,
            "protocol": protocol,
            "port": NO_PORT if protocol is not None and port is None else port,
            "start": lo,
            "end": hi,
        },
    ).fetchall()
    return merge_periods(rows, gap)


def edge_span(conn: sqlite3.Connection, source: str, target: str) -> list[dict[str, Any]]:
    """Every stored edge between two nodes with its first and last sighting over all history."""
    rows = conn.execute(
        "SELECT e.protocol, e.port, e.first_seen, e.last_seen FROM edges e "
        "JOIN nodes a ON a.id = e.src JOIN nodes b ON b.id = e.dst "
        "WHERE a.node = ? AND b.node = ? ORDER BY e.protocol, e.port",
        (source, target),
    ).fetchall()
    return [
        {
            "protocol": protocol,
            "port": None if port == NO_PORT else port,
            "first_seen": iso(first),
            "last_seen": iso(last),
        }
        for protocol, port, first, last in rows
    ]


# --- what the store holds, and retention -----------------------------------------------------


def info(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts, the covered time span, and the schema version."""

    def one(sql: str) -> Any:
        return conn.execute(sql).fetchone()[0]

    span = conn.execute("SELECT min(window_start), max(window_end) FROM snapshots").fetchone()
    return {
        "schema_version": one("PRAGMA user_version"),
        "snapshots": one("SELECT count(*) FROM snapshots"),
        "contexts": one("SELECT count(*) FROM contexts"),
        "nodes": one("SELECT count(*) FROM nodes"),
        "edges": one("SELECT count(*) FROM edges"),
        "sightings": one("SELECT count(*) FROM sightings"),
        "reports": one("SELECT count(*) FROM reports"),
        "findings": one("SELECT count(*) FROM findings"),
        "window": {
            "start": iso(span[0]) if span[0] is not None else None,
            "end": iso(span[1]) if span[1] is not None else None,
        },
    }


def prune(conn: sqlite3.Connection, cutoff: int) -> dict[str, int]:
    """Forget everything that ended before ``cutoff``, in one transaction.

    Snapshots (with their sightings and presence) and findings reports whose window ended
    before the cutoff go; so do inventory contexts, except the newest one (later host
    snapshots may still need it). Each remaining edge's first/last seen is recomputed from
    the sightings left, and edges and nodes nothing refers to any more are removed.
    """
    counts: dict[str, int] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        counts["snapshots"] = conn.execute(
            "DELETE FROM snapshots WHERE window_end < ?", (cutoff,)
        ).rowcount
        counts["reports"] = conn.execute(
            "DELETE FROM reports WHERE window_end < ?", (cutoff,)
        ).rowcount
        counts["contexts"] = conn.execute(
            "DELETE FROM contexts WHERE window_end < ? AND sha256 != "
            "(SELECT sha256 FROM contexts ORDER BY window_start DESC LIMIT 1)",
            (cutoff,),
        ).rowcount
        counts["edges"] = conn.execute(
            "DELETE FROM edges WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE s.edge = edges.id)"
        ).rowcount
        conn.execute(
            "UPDATE edges SET first_seen = (SELECT min(first_seen) FROM sightings s "
            "WHERE s.edge = edges.id) WHERE first_seen < ?",
            (cutoff,),
        )
        counts["nodes"] = conn.execute(
            "DELETE FROM nodes WHERE NOT EXISTS (SELECT 1 FROM presence p WHERE p.node = nodes.id) "
            "AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.src = nodes.id OR e.dst = nodes.id)"
        ).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return counts

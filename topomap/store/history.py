"""History aggregation: per day (or hour), what the store saw over a period.

For each bucket ``[t, t + size)`` (aligned on UTC midnight or the hour): how many snapshots
covered it, how many distinct edges and external peers were sighted in it, and how many
distinct active findings of each severity the overlapping findings reports held. A bucket with
no snapshot is a gap in collection, not a quiet network: the counts say ``snapshots: 0``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from topomap import findings
from topomap.store.query import iso

BUCKETS = {"hour": 3600, "day": 86400}


@dataclass(frozen=True, kw_only=True, slots=True)
class Bucket:
    """One day or hour of history."""

    start: str
    """Start of the bucket (UTC ISO 8601)."""
    snapshots: int
    """Snapshots whose window overlaps it."""
    edges: int
    """Distinct edges sighted in it."""
    external_peers: int
    """Distinct external peers among those edges' ends."""
    findings: dict[str, int] = field(default_factory=dict)
    """Distinct active findings by severity, from the reports overlapping it."""


def span(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """The time the store covers: earliest start and latest end of snapshots and reports."""
    row = conn.execute(
        "SELECT min(s), max(e) FROM (SELECT min(window_start) AS s, max(window_end) AS e "
        "FROM snapshots UNION ALL SELECT min(window_start), max(window_end) FROM reports)"
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


def history(conn: sqlite3.Connection, start: int, end: int, size: int) -> list[Bucket]:
    """Buckets of ``size`` seconds covering ``[start, end)``.

    Parameters
    ----------
    conn
        An open store.
    start, end
        The period, in epoch seconds; buckets are aligned to multiples of ``size``.
    size
        Bucket length in seconds (:data:`BUCKETS`).
    """
    first, last = start // size, (end - 1) // size
    window = {"start": first * size, "end": (last + 1) * size, "size": size}
    edge_sets: dict[int, set[int]] = {}
    ends: dict[int, tuple[int, int]] = {}
    rows = conn.execute(
        "SELECT DISTINCT s.first_seen / :size, s.last_seen / :size, s.edge FROM snapshots n "
        "CROSS JOIN sightings s ON s.snapshot = n.id "
        "WHERE n.window_start < :end AND n.window_end >= :start "
        "AND s.last_seen >= :start AND s.first_seen < :end",
        window,
    )
    for b_first, b_last, edge in rows:
        for bucket in range(max(b_first, first), min(b_last, last) + 1):
            edge_sets.setdefault(bucket, set()).add(edge)
    external = {row[0] for row in conn.execute("SELECT id FROM nodes WHERE kind = 'external'")}
    if external and edge_sets:
        ends = {
            edge: (src, dst)
            for edge, src, dst in conn.execute(
                "SELECT id, src, dst FROM edges WHERE id IN (SELECT DISTINCT s.edge "
                "FROM snapshots n CROSS JOIN sightings s ON s.snapshot = n.id "
                "WHERE n.window_start < :end AND n.window_end >= :start)",
                window,
            )
        }
    covered: dict[int, int] = {}
    for w_start, w_end in conn.execute(
        "SELECT window_start, window_end FROM snapshots "
        "WHERE window_start < :end AND window_end >= :start",
        window,
    ):
        for bucket in range(max(w_start // size, first), min(w_end // size, last) + 1):
            covered[bucket] = covered.get(bucket, 0) + 1
    severities: dict[int, dict[str, str]] = {}
    for r_start, r_end, fingerprint, severity in conn.execute(
        "SELECT r.window_start, r.window_end, f.fingerprint, f.severity FROM findings f "
        "JOIN reports r ON r.id = f.report WHERE f.active = 1 "
        "AND r.window_start < :end AND r.window_end >= :start ORDER BY r.window_end, r.id",
        window,
    ):
        for bucket in range(max(r_start // size, first), min(r_end // size, last) + 1):
            severities.setdefault(bucket, {})[fingerprint] = severity
    result = []
    for bucket in range(first, last + 1):
        edges = edge_sets.get(bucket, set())
        peers = {end for edge in edges for end in ends.get(edge, ()) if end in external}
        counts: dict[str, int] = {name: 0 for name in findings.SEVERITIES}
        for severity in severities.get(bucket, {}).values():
            counts[severity] += 1
        result.append(
            Bucket(
                start=iso(bucket * size),
                snapshots=covered.get(bucket, 0),
                edges=len(edges),
                external_peers=len(peers),
                findings=counts,
            )
        )
    return result

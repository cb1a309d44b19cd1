"""The history store: idempotent ingest, windows, periods, history, prune, migrations."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from tests.diff import shop_sets
from tests.store.generated import shifted
from topomap import findings, model, snapshot_io
from topomap.diff import compare, normalize
from topomap.errors import InputError, SchemaVersionError
from topomap.store import history, ingest, query, schema

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "shop"
FRONTEND = "workload:shop/Deployment/frontend"
ADSERVICE = "workload:shop/Deployment/adservice"
DAY = 86400


def topomap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args], cwd=REPO, text=True, capture_output=True
    )


def items(snapshots: dict[str, model.Snapshot]) -> list[ingest.Item]:
    return [
        ingest.Item(s, ingest.snapshot_sha256(s), name) for name, s in sorted(snapshots.items())
    ]


def count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_same_snapshot_twice_is_stored_once(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    first = topomap("ingest", "--store", str(store), str(SAMPLES))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"{SAMPLES}/cluster.json: stored snapshot (0 edges)",
        f"{SAMPLES}/node-a.json: stored snapshot (31 edges)",
        f"{SAMPLES}/node-b.json: stored snapshot (32 edges)",
    ]
    conn = schema.connect(store)
    before = {t: count(conn, t) for t in ("snapshots", "edges", "sightings", "presence", "nodes")}
    conn.close()
    again = topomap("ingest", "--store", str(store), str(SAMPLES / "node-a.json"))
    assert again.stdout == f"{SAMPLES}/node-a.json: skipped: already stored (same sha256)\n"
    gz = tmp_path / "node-a.json.gz"  # the same snapshot, other bytes
    snapshot_io.dump_snapshot(snapshot_io.load_snapshot(SAMPLES / "node-a.json").snapshot, gz)
    other = topomap("ingest", "--store", str(store), str(gz))
    assert other.returncode == 0
    assert "skipped: already stored as snapshot " in other.stdout
    conn = schema.connect(store)
    after = {t: count(conn, t) for t in before}
    conn.close()
    assert after == before and before["snapshots"] == 3


def test_a_store_window_diffs_clean_against_its_snapshots(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    topomap("ingest", "--store", str(store), str(SAMPLES / "cluster.json"))
    # host snapshots in a later call: resolved against the stored inventory
    topomap(
        "ingest", "--store", str(store), str(SAMPLES / "node-b.json"), str(SAMPLES / "node-a.json")
    )
    spec = f"store:{store}@2026-11-28..2026-11-29"
    result = topomap("diff", str(SAMPLES), spec, "--format", "text", "--fail-on-new", "edges")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "no change"
    empty = topomap("diff", str(SAMPLES), f"store:{store}@2026-12-01..", "-o", "/dev/null")
    assert empty.returncode == 1
    assert "the store holds no snapshot in this window" in empty.stderr
    pod = topomap("diff", str(SAMPLES), spec, "--view", "pod")
    assert pod.returncode == 1 and "keeps the workload view only" in pod.stderr


def test_window_graph_matches_topomap_graph_counts(tmp_path: Path) -> None:
    conn = schema.connect(tmp_path / "h.sqlite3")
    ingest.ingest_snapshots(conn, items(shop_sets.baseline()))
    g = query.window_graph(conn, None, None)
    assert (g.number_of_nodes(), g.number_of_edges()) == (35, 35)
    (attrs,) = g.get_edge_data(FRONTEND, ADSERVICE).values()
    assert (attrs["ports"], attrs["connections"], attrs["sightings"]) == ([9555], 6, 2)


def test_history_keeps_an_edge_the_latest_snapshot_missed(tmp_path: Path) -> None:
    """Like a monthly cron job: frontend -> adservice seen in November only."""
    conn = schema.connect(tmp_path / "h.sqlite3")
    ingest.ingest_snapshots(conn, items(shop_sets.baseline()))
    later = {k: shifted(v, timedelta(days=30), "december") for k, v in shop_sets.current().items()}
    ingest.ingest_snapshots(conn, items(later))
    spans = query.edge_span(conn, FRONTEND, ADSERVICE)
    assert spans == [
        {
            "protocol": "tcp",
            "port": 9555,
            "first_seen": "2026-11-28T10:00:00Z",
            "last_seen": "2026-11-28T10:05:00Z",
        }
    ]
    december = int(query.window_graph(conn, None, None).graph["window"]["end"][8:10])
    assert december == 28  # the store spans to 2026-12-28
    dec = query.window_graph(conn, *_days(conn, "2026-12-28"))
    assert not dec.has_edge(FRONTEND, ADSERVICE)
    periods = query.edge_periods(conn, FRONTEND, ADSERVICE, 7200, None, None)
    assert [(query.iso(p.start), query.iso(p.end), p.sightings) for p in periods] == [
        ("2026-11-28T10:00:00Z", "2026-11-28T10:05:00Z", 2)
    ]
    node = query.node_periods(conn, ADSERVICE, 7200, None, None)
    assert [(query.iso(p.start)[:10], query.iso(p.end)[:10]) for p in node] == [
        ("2026-11-28", "2026-11-28"),
        ("2026-12-28", "2026-12-28"),
    ]
    buckets = history.history(conn, *_days(conn, "2026-11-28", days=31), DAY)
    counted = [
        (b.start[:10], b.snapshots, b.edges, b.external_peers) for b in buckets if b.snapshots
    ]
    assert counted == [("2026-11-28", 3, 35, 7), ("2026-12-28", 3, 35, 8)]
    assert sum(1 for b in buckets if not b.snapshots) == 29  # gaps in collection, said as such


def _days(conn: sqlite3.Connection, day: str, days: int = 1) -> tuple[int, int]:
    from topomap.diff.sides import parse_time

    start = parse_time(day, what="test")
    return start, start + days * DAY


def test_findings_reports_are_counted_by_severity(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    finding = findings.Finding(
        rule="TM-EXT-EGRESS", title="t", severity="high", controls=("CC6.6",),
        subject=("workload:shop/Deployment/recommendationservice", "external:185.220.101.47"),
        message="m", remediation="r",
        fingerprint=findings.fingerprint("TM-EXT-EGRESS", "rec", "185.220.101.47"),
    )  # fmt: skip
    meta = findings.ReportMeta(
        tool_version="t", window={"start": "2026-11-28T10:00:00Z", "end": "2026-11-28T10:05:00Z"}
    )
    report = tmp_path / "findings.json"
    report.write_bytes(findings.dumps_report(findings.make_report([finding], meta)))
    result = topomap("ingest", "--store", str(store), str(SAMPLES), str(report))
    assert result.stdout.splitlines()[-1] == f"{report}: stored findings (1 findings)"
    hist = orjson.loads(topomap("history", "--store", str(store)).stdout)
    assert hist["buckets"] == [
        {
            "start": "2026-11-28T00:00:00Z",
            "snapshots": 3,
            "edges": 35,
            "external_peers": 7,
            "findings": {"info": 0, "low": 0, "medium": 0, "high": 1, "critical": 0},
        }
    ]
    hourly = topomap("history", "--store", str(store), "--by", "hour", "--format", "text")
    assert hourly.stdout.splitlines()[1].split() == [
        "2026-11-28T10:00:00Z",
        "3",
        "35",
        "7",
        "high=1",
    ]
    conn = schema.connect(store)
    assert query.window_findings(conn, None, None) == (finding,)
    diff = compare.compare(
        normalize.normalize(query.window_graph(conn, None, None)),
        normalize.normalize(query.window_graph(conn, None, None)),
        (),
        query.window_findings(conn, None, None),
    )
    assert [c.status for c in diff.findings] == ["new"]
    again = topomap("ingest", "--store", str(store), str(report))
    assert again.stdout == f"{report}: skipped: already stored (same sha256)\n"


def test_history_edge_and_node_periods_from_the_cli(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    topomap("ingest", "--store", str(store), str(SAMPLES))
    edge = f"{FRONTEND} -> {ADSERVICE} tcp/9555"
    result = topomap("history", "--store", str(store), "--edge", edge, "--format", "text")
    assert result.stdout.splitlines() == [
        f"{edge}: seen in 1 period(s)",
        "  2026-11-28T10:00:00Z .. 2026-11-28T10:05:00Z  (2 sightings)",
        "  tcp/9555: first seen 2026-11-28T10:00:00Z, last seen 2026-11-28T10:05:00Z",
    ]
    bad = topomap("history", "--store", str(store), "--edge", "nonsense")
    assert bad.returncode == 2


def test_prune_forgets_old_snapshots_and_recomputes_first_seen(tmp_path: Path) -> None:
    conn = schema.connect(tmp_path / "h.sqlite3")
    ingest.ingest_snapshots(conn, items(shop_sets.baseline()))
    later = {k: shifted(v, timedelta(days=30), "dec") for k, v in shop_sets.current().items()}
    ingest.ingest_snapshots(conn, items(later))
    edges_before = count(conn, "edges")
    cutoff = _days(conn, "2026-12-01")[0]
    removed = query.prune(conn, cutoff)
    assert removed["snapshots"] == 3 and removed["contexts"] == 1
    assert count(conn, "snapshots") == 3
    assert query.edge_span(conn, FRONTEND, ADSERVICE) == []  # only seen in November
    assert removed["edges"] == edges_before - count(conn, "edges") == 1
    first = conn.execute("SELECT min(first_seen) FROM edges").fetchone()[0]
    assert query.iso(first).startswith("2026-12-28")
    conn.close()
    cli = topomap(
        "store", "prune", "--store", str(tmp_path / "h.sqlite3"),
        "--older-than", "400d", "--as-of", "2026-12-29",
    )  # fmt: skip
    assert cli.returncode == 0
    assert cli.stdout.startswith("pruned everything that ended before 2025-11-24T00:00:00Z")


def test_migration_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    schema.migrate(raw, origin=str(path), target=1)
    raw.execute(
        "INSERT INTO snapshots(snapshot_id, sha256, observer, source, window_start, window_end, "
        "ingested_at, connections, edges) VALUES ('s1', 'ab', 'node-a', 'host', 1, 2, 3, 0, 0)"
    )
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    raw.close()
    conn = schema.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 2
    assert conn.execute("SELECT snapshot_id FROM snapshots").fetchall() == [("s1",)]
    assert count(conn, "reports") == 0  # the version-2 tables exist
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError, match=r"old.sqlite3: store schema version 99 is newer"):
        schema.connect(path)


def test_not_a_store_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(InputError, match="a SQLite file, but not a topomap history store"):
        schema.connect(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all " * 100)
    with pytest.raises(InputError, match=r"notes.txt: cannot open the history store"):
        schema.connect(text)
    with pytest.raises(InputError, match=r"missing.sqlite3: no history store here"):
        schema.connect(tmp_path / "missing.sqlite3", create=False)


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert schema.default_path() == tmp_path / "topomap" / "history.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert schema.default_path() == tmp_path / "home" / ".local/share/topomap/history.sqlite3"


def test_a_bad_file_stops_the_ingest_before_anything_is_written(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "snapshot_id": 5}')
    result = topomap("ingest", "--store", str(store), str(SAMPLES / "node-a.json"), str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"topomap: error: {bad}: /")
    assert not store.exists() or count(schema.connect(store), "snapshots") == 0


def test_window_queries_start_from_the_snapshots_in_the_window(tmp_path: Path) -> None:
    """A year-long store must not be walked sighting by sighting for a one-month window
    (the planner's own choice for the GROUP BY was that: 14 s on the benchmark's store)."""
    conn = schema.connect(tmp_path / "h.sqlite3")
    ingest.ingest_snapshots(conn, items(shop_sets.baseline()))
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    query.window_edges(conn, 0, 2**40)
    history.history(conn, *_days(conn, "2026-11-28"), 86400)
    conn.set_trace_callback(None)
    scans = []
    for sql in statements:
        if "sightings s" not in sql:
            continue
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert any("USING INDEX snapshots_window" in step for step in plan), plan
        scans += [step for step in plan if step.startswith("SCAN s")]
    assert len([s for s in statements if "sightings s" in s]) == 3
    assert scans == []

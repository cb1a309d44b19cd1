"""Real processes against one store: a SIGKILL mid-ingest, and four ingesters at once.

No mocks: ``python -m topomap ingest`` runs in child processes on a real SQLite file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.store.generated import big_snapshot
from topomap import snapshot_io
from topomap.store import schema

REPO = Path(__file__).resolve().parents[2]


def ingest(store: Path, *files: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "topomap", "ingest", "--store", str(store), *map(str, files)],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stored(store: Path) -> dict[str, int]:
    """snapshot id -> its sightings, read by a plain sqlite3 connection."""
    conn = sqlite3.connect(store)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            "SELECT n.snapshot_id, n.edges, (SELECT count(*) FROM sightings s "
            "WHERE s.snapshot = n.id) FROM snapshots n"
        ).fetchall()
    finally:
        conn.close()
    for snapshot_id, edges, sightings in rows:
        assert edges == sightings, snapshot_id  # the row and its sightings came together
    return {snapshot_id: sightings for snapshot_id, _, sightings in rows}


def test_sigkill_during_a_large_ingest_leaves_all_or_nothing(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite3"
    small, big = tmp_path / "small.json", tmp_path / "big.json"
    snapshot_io.dump_snapshot(big_snapshot(50, seed=1), small)
    snapshot_io.dump_snapshot(big_snapshot(30_000, seed=2), big)
    assert ingest(store, small).wait(timeout=120) == 0
    conn = schema.connect(store)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    wal = Path(f"{store}-wal")
    child = ingest(store, big)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if wal.exists() and wal.stat().st_size > 512 * 1024:  # the transaction is writing
            break
        time.sleep(0.005)
    running = child.poll() is None
    assert running, f"the ingest ended before it could be killed: {child.communicate()}"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    after = stored(store)
    assert after.get("big-1-50") == 50  # what was written before is intact
    assert after.get("big-2-30000") in (None, 30_000)  # all or nothing
    assert "big-2-30000" not in after  # killed while the transaction was open: nothing
    again = ingest(store, big)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert out.startswith(f"{big}: stored snapshot (30000 edges)")
    assert stored(store) == {"big-1-50": 50, "big-2-30000": 30_000}


def test_four_processes_ingest_at_once(tmp_path: Path) -> None:
    store = tmp_path / "new" / "h.sqlite3"  # not there yet: they race to create it too
    files = []
    for seed in range(4):
        path = tmp_path / f"snap-{seed}.json"
        snapshot_io.dump_snapshot(big_snapshot(2000, seed=10 + seed), path)
        files.append(path)
    children = [ingest(store, path) for path in files]
    results = [child.communicate(timeout=300) for child in children]
    for child, path, (out, err) in zip(children, files, results, strict=True):
        assert child.returncode == 0, err
        assert out.startswith(f"{path}: stored snapshot (2000 edges)")
    assert stored(store) == {f"big-{10 + s}-2000": 2000 for s in range(4)}

"""The history store's SQLite file: where it lives, how it is opened, and its schema versions.

One SQLite file (default ``$XDG_DATA_HOME/topomap/history.sqlite3``, else
``~/.local/share/topomap/history.sqlite3``). Opening it:

* sets WAL journaling and a busy timeout, so several processes can ingest at once (writers
  queue for the write lock; readers never block them) and a killed writer leaves the last
  committed state; ``synchronous=NORMAL`` (in WAL mode a crash of the process never loses a
  committed transaction; a power cut may lose the last ones, never corrupt the file);
* marks the file with an application id, and refuses a SQLite file that is not a topomap store;
* brings the schema to :data:`SCHEMA_VERSION` through :data:`MIGRATIONS`, one version at a time,
  all steps in one transaction (``PRAGMA user_version`` records the version), and refuses a
  store written by a newer topomap.

Tables (version 2): ``snapshots`` (one row per ingested snapshot: id, sha256, observer,
window), ``contexts`` (the cluster inventories host snapshots are resolved against),
``nodes`` and ``edges`` (normalised, workload view; each edge with its first and last sighting
over the whole history), ``sightings`` (which snapshot saw which edge, when, how many
connections), ``presence`` (which snapshot saw which node), ``reports`` and ``findings``
(ingested findings reports). ``docs/store.md`` describes them.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from topomap.errors import InputError, SchemaVersionError

#: Version of the store schema written by this topomap.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of a topomap store ("tpmp").
APPLICATION_ID = 0x74706D70
#: How long a writer waits for another process's write transaction, in milliseconds.
BUSY_TIMEOUT_MS = 120_000

_V1 = (
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        snapshot_id TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL UNIQUE,
        observer TEXT NOT NULL,
        source TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        ingested_at INTEGER NOT NULL,
        connections INTEGER NOT NULL,
        edges INTEGER NOT NULL,
        context TEXT
    )""",
    "CREATE INDEX snapshots_window ON snapshots(window_start)",
    """CREATE TABLE contexts (
        sha256 TEXT PRIMARY KEY,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX contexts_window ON contexts(window_start)",
    """CREATE TABLE nodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        label TEXT NOT NULL,
        namespace TEXT,
        ip TEXT,
        names TEXT NOT NULL DEFAULT '[]',
        zone TEXT
    )""",
    """CREATE TABLE edges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        src INTEGER NOT NULL REFERENCES nodes(id),
        dst INTEGER NOT NULL REFERENCES nodes(id),
        protocol TEXT NOT NULL,
        port INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        UNIQUE (src, dst, protocol, port)
    )""",
    """CREATE TABLE sightings (
        snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        edge INTEGER NOT NULL REFERENCES edges(id),
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        connections INTEGER NOT NULL,
        PRIMARY KEY (snapshot, edge)
    ) WITHOUT ROWID""",
    "CREATE INDEX sightings_edge ON sightings(edge, first_seen)",
    """CREATE TABLE presence (
        snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        node INTEGER NOT NULL REFERENCES nodes(id),
        PRIMARY KEY (snapshot, node)
    ) WITHOUT ROWID""",
    "CREATE INDEX presence_node ON presence(node)",
)
_V2 = (
    """CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256 TEXT NOT NULL UNIQUE,
        graph_sha256 TEXT,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        ingested_at INTEGER NOT NULL
    )""",
    "CREATE INDEX reports_window ON reports(window_start)",
    """CREATE TABLE findings (
        report INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        active INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (report, fingerprint)
    ) WITHOUT ROWID""",
)

#: ``{n: statements}`` turning a version-``n`` store into version ``n + 1`` (0: an empty file).
MIGRATIONS: dict[int, tuple[str, ...]] = {0: _V1, 1: _V2}


def default_path() -> Path:
    """``$XDG_DATA_HOME/topomap/history.sqlite3``, else under ``~/.local/share``."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "topomap" / "history.sqlite3"


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, origin: str, target: int = SCHEMA_VERSION) -> int:
    """Bring the store to version ``target``; return the version it had before.

    Every step runs in one ``BEGIN IMMEDIATE`` transaction, so two processes opening a new
    store at once cannot both create it, and a failed step leaves the old version intact.
    """
    before = _version(conn)
    if before > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{origin}: store schema version {before} is newer than the supported version "
            f"{SCHEMA_VERSION}; upgrade topomap to use it"
        )
    if before >= target:
        return before
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = before = _version(conn)  # another process may have migrated meanwhile
        if version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            if tables and app != APPLICATION_ID:
                raise InputError(f"{origin}: a SQLite file, but not a topomap history store")
        while version < target:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return before


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and create or migrate) the store at ``path``.

    Raises
    ------
    InputError
        The file does not exist and ``create`` is false, cannot be opened, or is not a store.
    SchemaVersionError
        The store was written by a newer topomap.
    """
    target = Path(path)
    if not target.exists():
        if not create:
            raise InputError(f"{target}: no history store here (ingest snapshots first)")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{target.parent}: cannot create: {exc.strerror or exc}") from exc
    try:
        conn = sqlite3.connect(
            target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise InputError(f"{target}: cannot use WAL journaling (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, origin=str(target))
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{target}: cannot open the history store: {exc}") from exc
    return conn

"""The history store: every snapshot of an audit period in one SQLite file, queried by time.

:mod:`~topomap.store.schema` opens the file (WAL, busy timeout, schema migrations),
:mod:`~topomap.store.ingest` stores snapshots and findings reports (idempotent, all or nothing),
:mod:`~topomap.store.query` reads windows, periods and retention, :mod:`~topomap.store.history`
aggregates per day or hour, and :mod:`~topomap.store.commands` is the CLI. ``docs/store.md``
is the user guide.
"""

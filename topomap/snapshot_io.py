"""Reading and writing Snapshot files: validation on load, version migration, atomic writes.

A Snapshot file is JSON (optionally gzip-compressed, recognised by its magic bytes, whatever the
name) holding one :class:`topomap.model.Snapshot`. Loading checks ``schema_version`` first:

* newer than this topomap: refused with :class:`SchemaVersionError` saying to upgrade;
* older: migrated one version at a time through :data:`MIGRATIONS`, each step a pure function
  ``dict -> dict`` that returns the next version's shape;
* current: decoded field by field; the first problem is reported as ``FILE: /json/pointer: what``.

Writing goes to a temporary file in the same directory and is renamed into place, so a crash or a
full disk never leaves a half-written snapshot where a good one was.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from topomap import model, typed_json
from topomap.errors import InputError, SchemaVersionError
from topomap.gcpause import paused_gc

Migration = Callable[[dict[str, Any]], dict[str, Any]]

#: ``{n: step}`` where ``step`` turns a version-``n`` document into version ``n + 1``.
#: Version 1 is the first published format, so there is nothing to migrate yet; the next format
#: change adds ``{1: _v1_to_v2}`` here and a note in docs/snapshot.md.
MIGRATIONS: dict[int, Migration] = {}

_decode_snapshot = typed_json.decoder_for(model.Snapshot)

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SORT_KEYS


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    """A snapshot together with where it came from, for provenance in graph JSON."""

    path: str
    """The path as given by the user."""
    sha256: str
    """Digest of the file's bytes as read."""
    snapshot: model.Snapshot
    """The decoded (and, if needed, migrated) snapshot."""


def read_json(path: str | Path) -> tuple[Any, str]:
    """Parse a JSON (or gzip JSON) file; return the document and the sha256 of its bytes.

    Raises
    ------
    InputError
        Unreadable file, bad gzip stream, or invalid JSON (with line and column).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: corrupt or truncated gzip data: {exc}") from exc
    try:
        return orjson.loads(raw), digest
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def migrate(document: dict[str, Any], *, origin: str) -> dict[str, Any]:
    """Bring a snapshot document to :data:`model.SCHEMA_VERSION`, one version at a time."""
    version = document.get("schema_version")
    if type(version) is not int or version < 1:
        raise InputError(
            f"{origin}: /schema_version: expected a positive integer, found {version!r}"
        )
    if version > model.SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{origin}: snapshot schema version {version} is newer than the supported "
            f"version {model.SCHEMA_VERSION}; upgrade topomap to read it"
        )
    while version < model.SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaVersionError(
                f"{origin}: no migration from snapshot schema version {version}"
            )
        document = step(document)
        if document.get("schema_version") != version + 1:
            raise SchemaVersionError(
                f"{origin}: migration from version {version} did not produce version {version + 1}"
            )
        version += 1
    return document


def snapshot_from_document(document: Any, *, origin: str) -> model.Snapshot:
    """Validate and decode an already-parsed snapshot document (migrating it if older)."""
    if type(document) is not dict:
        raise InputError(f"{origin}: /: expected a JSON object (a topomap snapshot)")
    document = migrate(document, origin=origin)
    try:
        with paused_gc():
            snapshot: model.Snapshot = _decode_snapshot(document)
    except typed_json.DecodeError as exc:
        raise InputError(f"{origin}: {exc.pointer or '/'}: {exc.message}") from exc
    return snapshot


def load_snapshot(path: str | Path) -> LoadedSnapshot:
    """Read, validate and migrate one snapshot file.

    Raises
    ------
    InputError
        The message names the file and the JSON pointer of the first problem.
    SchemaVersionError
        The file is from a newer topomap.
    """
    document, digest = read_json(path)
    return LoadedSnapshot(str(path), digest, snapshot_from_document(document, origin=str(path)))


def dumps_snapshot(snapshot: model.Snapshot) -> bytes:
    """The canonical JSON bytes of a snapshot (fields in model order, UTC ``Z`` times, one line)."""
    # orjson appends the newline itself: "+ b'\\n'" would copy the whole document once more.
    return orjson.dumps(snapshot, option=JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename: all or nothing."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        try:  # mkstemp makes 0600 files: keep the replaced file's mode, else honour the umask
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_snapshot(snapshot: model.Snapshot, path: str | Path) -> None:
    """Write ``snapshot`` to ``path`` atomically; gzip-compressed when the name ends in .gz."""
    write_snapshot_bytes(dumps_snapshot(snapshot), path)


def write_snapshot_bytes(data: bytes, path: str | Path) -> None:
    """Write a snapshot's bytes (from :func:`dumps_snapshot`) as :func:`dump_snapshot` does."""
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_atomic(path, data)


def snapshot_schema() -> dict[str, Any]:
    """The published JSON Schema of the Snapshot format (``docs/snapshot.schema.json``)."""
    return typed_json.json_schema(
        model.Snapshot,
        schema_id=f"https://topomap.dev/schema/snapshot-v{model.SCHEMA_VERSION}.json",
        title=f"topomap Snapshot, schema version {model.SCHEMA_VERSION}",
    )

"""Files in and out for command modules: inputs expanded, outputs written to stdout or a file.

``snapshot_files`` takes paths as given and expands directories to the snapshot files inside
them (``*.json``, ``*.json.gz``, recursively, sorted); ``emit`` writes bytes to stdout (``-``)
or atomically to a file, so a failed run never replaces a good output. No click here: the
diff side loader uses it too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from topomap import snapshot_io
from topomap.errors import InputError

SNAPSHOT_SUFFIXES = (".json", ".json.gz")


def snapshot_files(paths: Iterable[str]) -> list[Path]:
    """Files as given; directories expanded to their snapshot files, recursively and sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith(SNAPSHOT_SUFFIXES)
            )
            if not inside:
                raise InputError(f"{raw}: directory holds no *.json or *.json.gz snapshot")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{raw}: no such file or directory")
    return found


def emit(data: bytes | str, output: str) -> None:
    """Write ``data`` to stdout (``output == "-"``) or atomically to the file ``output``."""
    payload = data.encode() if isinstance(data, str) else data
    if output == "-":
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    try:
        snapshot_io.write_atomic(output, payload)
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from exc

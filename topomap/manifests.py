"""Reading Kubernetes objects from files: the part every manifest reader shares.

This module owns everything between files on disk and plain object dicts: finding the
``.yaml``/``.yml``/``.json`` files (directories are read recursively, in sorted order), splitting
YAML streams into documents as Kubernetes' own reader does, reading ``kubectl get -o json``
output (one object, a ``List``, or several JSON values in a row), unpacking ``List`` kinds, and
:class:`Where`, the typed access to parsed fields that fails with one line naming the file, the
object and the field path. The policy loader (:mod:`topomap.policy.loader`) and the Kubernetes
converter (:mod:`topomap.kube`) read their inputs through it. It knows no object kinds.

Unreadable files raise :class:`~topomap.errors.InputError` naming the file and the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import yaml

from topomap.errors import InputError

__all__ = [
    "SUFFIXES",
    "Doc",
    "Where",
    "describe",
    "file_documents",
    "get",
    "list_files",
    "read_documents",
]

SUFFIXES = (".yaml", ".yml", ".json")
_MIN_PORT, _MAX_PORT = 1, 65535

# k8s.io/apimachinery's YAMLReader: a line starting with "---" and then only blanks or a comment.
_SEPARATOR = re.compile(r"---[ \t]*(?:#.*)?\r?")
_LEADING_TABS = re.compile(r"^[ \t]+", re.MULTILINE)
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_documents(
    paths: Sequence[str | Path], warnings: list[str], *, keep_going: bool = False
) -> Iterator[Doc]:
    """Every Kubernetes object in the files and directories (recursively) named by ``paths``.

    ``List`` kinds are unpacked; documents that are not Kubernetes objects are skipped with a
    warning appended to ``warnings``. With ``keep_going``, a YAML/JSON syntax error does not
    raise: the documents before it are kept and a warning says the rest of the file is skipped.
    """
    for path in list_files(paths, warnings):
        yield from file_documents(path, warnings, keep_going)


# ---------------------------------------------------------------------------------------------
# Files and documents


@dataclass(frozen=True, slots=True)
class Doc:
    """One object and where it was read: ``file`` and the line its document starts on."""

    file: str
    line: int  # where the document (or the List holding it) starts, 1-based
    obj: dict[str, Any]


def list_files(paths: Sequence[str | Path], warnings: list[str]) -> Iterator[Path]:
    """The files named by ``paths``, directories expanded recursively (sorted); a directory
    without any manifest file is a warning, a missing path an :class:`InputError`."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()),
                key=lambda p: p.relative_to(path).parts,
            )
            if not found:
                warnings.append(f"{path}: no {', '.join(SUFFIXES)} files")
            yield from found
        elif path.is_file():
            yield path
        else:
            raise InputError(f"{path}: no such file or directory")


def file_documents(path: Path, warnings: list[str], keep_going: bool = False) -> Iterator[Doc]:
    """The Kubernetes objects in one file (see :func:`read_documents`)."""
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" and stripped[:1] in ("{", "["):
        parsed = _json_values(file, text, warnings, keep_going)
    else:
        parsed = _yaml_values(file, text, warnings, keep_going)
    for line, value in parsed:
        yield from _objects(file, line, value, warnings)


def _json_values(
    file: str, text: str, warnings: list[str], keep_going: bool
) -> list[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    values: list[tuple[int, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            message = f"{file}: line {exc.lineno}: {exc.msg}"
            if not keep_going:
                raise InputError(message) from exc
            warnings.append(f"{message}; the rest of the file is skipped")
            return values
        values.append((text.count("\n", 0, pos) + 1, value))
        pos = end


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split a YAML stream on ``---`` lines, as Kubernetes' reader does: (first line, text)."""
    lines = text.split("\n")
    start = 0
    for index, line in enumerate(lines):
        if _SEPARATOR.fullmatch(line):
            yield start + 1, "\n".join(lines[start:index])
            start = index + 1
    yield start + 1, "\n".join(lines[start:])


def _yaml_values(
    file: str, text: str, warnings: list[str], keep_going: bool
) -> list[tuple[int, Any]]:
    values: list[tuple[int, Any]] = []
    for first_line, chunk in _chunks(text):
        if not chunk.strip():
            continue
        try:
            docs = _load_chunk(chunk)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = first_line + (mark.line if mark is not None else 0)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            message = f"{file}: line {line}: {problem}"
            if not keep_going:
                raise InputError(message) from exc
            warnings.append(f"{message}; the rest of the file is skipped")
            return values
        values.extend((first_line, doc) for doc in docs)
    return values


def _load_chunk(chunk: str) -> list[Any]:
    """One ``---`` section: libyaml when it can, else PyYAML (stable messages), tabs retried.

    Go's YAML parser accepts a TAB in places where PyYAML does not (an indented flow sequence
    item, for one); replacing TABs in indentation with spaces changes no meaning there.
    """
    try:
        return list(yaml.load_all(chunk, Loader=_FAST_LOADER))
    except yaml.YAMLError:
        pass
    try:
        return list(yaml.load_all(chunk, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        if "\t" not in chunk:
            raise
        first = exc
    untabbed = _LEADING_TABS.sub(lambda m: m.group(0).replace("\t", " "), chunk)
    try:
        return list(yaml.load_all(untabbed, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        raise first from None


def _objects(
    file: str, line: int, value: Any, warnings: list[str], where: str = ""
) -> Iterator[Doc]:
    if value is None:
        return
    where = where or f"{file}: document at line {line}"
    if not isinstance(value, dict):
        warnings.append(f"{where} is {describe(value)}, not a Kubernetes object; skipped")
        return
    kind, api_version = value.get("kind"), value.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str) or not api_version:
        warnings.append(f"{where} has no kind or apiVersion, not a Kubernetes object; skipped")
        return
    items = value.get("items")
    if kind.endswith("List") and (items is None or isinstance(items, list)):
        item_kind = kind.removesuffix("List")
        for index, item in enumerate(items or []):
            if isinstance(item, dict) and item_kind:
                # As UnstructuredList does: items of a typed list may leave out kind/apiVersion.
                item = {"kind": item_kind, "apiVersion": api_version, **item}
            yield from _objects(file, line, item, warnings, f"{where}: items[{index}]")
        return
    yield Doc(file, line, value)


# ---------------------------------------------------------------------------------------------
# Typed access to parsed YAML, failing with the field path


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value})".lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string {value!r}"
    if isinstance(value, int):
        return f"an integer {value}"
    return f"a {type(value).__name__} {value!r}"


@dataclass(frozen=True, slots=True)
class Where:
    """The object being read, for messages: ``<file>: <Kind> <ns/name>: <path>: <problem>``."""

    file: str
    header: str

    def fail(self, path: str, problem: str) -> NoReturn:
        raise InputError(f"{self.file}: {self.header}: {path}: {problem}")

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        self.fail(path, f"expected a mapping, found {describe(value)}")

    def need_mapping(self, value: Any, path: str) -> dict[str, Any]:
        got = self.mapping(value, path)
        if got is None:
            self.fail(path, "missing")
        return got

    def seq(self, value: Any, path: str) -> list[Any] | None:
        if value is None or isinstance(value, list):
            return value
        self.fail(path, f"expected a list, found {describe(value)}")

    def text(self, value: Any, path: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self.fail(path, f"expected a string, found {describe(value)}")

    def need_text(self, value: Any, path: str) -> str:
        got = self.text(value, path)
        if not got:
            self.fail(path, "missing")
        return got

    def integer(self, value: Any, path: str) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self.fail(path, f"expected an integer, found {describe(value)}")

    def port(self, value: Any, path: str) -> int:
        number = self.integer(value, path)
        if number is None:
            self.fail(path, "missing")
        if not _MIN_PORT <= number <= _MAX_PORT:
            self.fail(path, f"{number} is not a port number ({_MIN_PORT}-{_MAX_PORT})")
        return number

    def labels(self, value: Any, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, val in (self.mapping(value, path) or {}).items():
            if not isinstance(key, str):
                self.fail(path, f"label key {key!r} is not a string")
            if val is None:
                val = ""
            elif type(val) is date:  # an unquoted 2024-01-01: Go's YAML reader keeps the text
                val = val.isoformat()
            if not isinstance(val, str):
                self.fail(f"{path}.{key}", f"expected a string, found {describe(val)}")
            out[key] = val
        return out


def get(obj: dict[str, Any], *keys: str) -> Any:
    value: Any = obj
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value

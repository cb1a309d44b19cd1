"""Decode JSON into frozen dataclasses, and describe those dataclasses as JSON Schema.

The dataclasses in :mod:`topomap.model` are the one definition of the Snapshot format. This
module turns them into two things that must never disagree:

* a decoder, compiled once per class into plain closures, that validates while it converts and
  reports the JSON pointer of the first problem (``/connections/3/original/dport``);
* a JSON Schema (draft 2020-12) for the docs and for other tools, with each field's description
  taken from the attribute docstring under it in the source.

Supported annotations: ``int``, ``float``, ``str``, ``bool``, ``date`` (ISO 8601 ``YYYY-MM-DD``),
``datetime`` (RFC 3339 with an offset), ``Literal[...]`` of strings, ``X | None``,
``int | str``, ``tuple[X, ...]``, ``dict[str, X]``, ``Any`` (any JSON value, kept as parsed) and
nested dataclasses. Unknown keys are errors: a typo must not pass silently.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args, get_origin, get_type_hints

Decoder = Callable[[Any], Any]


class DecodeError(ValueError):
    """A value does not match its declared type; ``pointer`` says where (RFC 6901)."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer

    def under(self, segment: str | int) -> DecodeError:
        """The same error, one level further out."""
        escaped = str(segment).replace("~", "~0").replace("/", "~1")
        return DecodeError(self.message, f"/{escaped}{self.pointer}")

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _decode_int(value: Any) -> int:
    if type(value) is not int:
        raise DecodeError(f"expected integer, found {_type_name(value)} {_describe(value)}")
    return value


def _decode_float(value: Any) -> float:
    if type(value) not in (int, float):
        raise DecodeError(f"expected number, found {_type_name(value)} {_describe(value)}")
    return float(value)


def _decode_str(value: Any) -> str:
    if type(value) is not str:
        raise DecodeError(f"expected string, found {_type_name(value)} {_describe(value)}")
    return value


def _decode_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise DecodeError(f"expected boolean, found {_type_name(value)} {_describe(value)}")
    return value


#: RFC 3339 date-time, the only time spelling accepted (ISO 8601 allows many more).
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_rfc3339 = re.compile(RFC3339).match


def _decode_datetime(value: Any) -> datetime:
    if type(value) is not str:
        raise DecodeError(f"expected RFC 3339 time string, found {_type_name(value)}")
    if not _rfc3339(value):
        if _rfc3339(value + "Z"):
            raise DecodeError(f"time {_describe(value)} has no UTC offset; append 'Z'")
        raise DecodeError(
            f"expected RFC 3339 time like 2026-11-28T10:00:00Z, found {_describe(value)}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DecodeError(f"expected RFC 3339 time, found {_describe(value)}") from None
    if parsed.tzinfo is None:
        raise DecodeError(f"time {_describe(value)} has no UTC offset; append 'Z'")
    return parsed.astimezone(UTC)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$").match


def _decode_date(value: Any) -> date:
    if type(value) is date:  # YAML reads 2026-12-31 as a date already
        return value
    if type(value) is not str or not _ISO_DATE(value):
        raise DecodeError(f"expected a date like 2026-12-31, found {_describe(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DecodeError(f"expected a date like 2026-12-31, found {_describe(value)}") from None


_SCALARS: dict[Any, Decoder] = {
    date: _decode_date,
    int: _decode_int,
    float: _decode_float,
    str: _decode_str,
    bool: _decode_bool,
    datetime: _decode_datetime,
}


def _with_bounds(decode: Decoder, meta: typing.Mapping[str, Any]) -> Decoder:
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is None and high is None:
        return decode

    def bounded(value: Any) -> Any:
        result = decode(value)
        if result is not None and (
            (low is not None and result < low) or (high is not None and result > high)
        ):
            raise DecodeError(f"{result} is outside [{low}, {high}]")
        return result

    return bounded


def _decode_json(value: Any) -> Any:
    """``Any`` in the model: any JSON value, kept as parsed (it came from a JSON parser)."""
    return value


def _compile(tp: Any, cache: dict[Any, Decoder]) -> Decoder:
    if tp is Any:
        return _decode_json
    if tp in _SCALARS:
        return _SCALARS[tp]
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _compile_dataclass(tp, cache)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        allowed = frozenset(args)
        shown = ", ".join(sorted(map(str, args)))

        def literal(value: Any) -> Any:
            if value not in allowed or type(value) is not str:
                raise DecodeError(f"expected one of [{shown}], found {_describe(value)}")
            return value

        return literal
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        nullable = len(options) < len(args)
        if len(options) == 1:
            inner = _compile(options[0], cache)
            if not nullable:
                return inner
            return lambda value: None if value is None else inner(value)
        if set(options) == {int, str}:

            def int_or_str(value: Any) -> Any:
                if value is None and nullable:
                    return None
                if type(value) not in (int, str):
                    raise DecodeError(f"expected integer or string, found {_type_name(value)}")
                return value

            return int_or_str
        raise TypeError(f"unsupported union {tp!r}")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _compile(args[0], cache)

        def sequence(value: Any) -> tuple[Any, ...]:
            if type(value) is not list:
                raise DecodeError(f"expected array, found {_type_name(value)}")
            out = []
            for index, element in enumerate(value):
                try:
                    out.append(item(element))
                except DecodeError as exc:
                    raise exc.under(index) from None
            return tuple(out)

        return sequence
    if origin is dict and args[0] is str:
        item = _compile(args[1], cache)

        def mapping(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise DecodeError(f"expected object, found {_type_name(value)}")
            out = {}
            for key, element in value.items():
                try:
                    out[key] = item(element)
                except DecodeError as exc:
                    raise exc.under(key) from None
            return out

        return mapping
    raise TypeError(f"unsupported annotation {tp!r}")


def _compile_dataclass(cls: type, cache: dict[Any, Decoder]) -> Decoder:
    if cls in cache:
        return cache[cls]
    fields_: list[tuple[str, Decoder, bool]] = []

    def decode(value: Any) -> Any:
        if type(value) is not dict:
            raise DecodeError(f"expected object ({cls.__name__}), found {_type_name(value)}")
        kwargs = {}
        for name, field_decode, required in fields_:
            if name in value:
                try:
                    kwargs[name] = field_decode(value[name])
                except DecodeError as exc:
                    raise exc.under(name) from None
            elif required:
                unknown = sorted(set(value) - known)
                if unknown:  # a misspelt required field: name the typo, not the absence
                    raise DecodeError(f"unknown field {unknown[0]!r} in {cls.__name__}").under(
                        unknown[0]
                    )
                raise DecodeError(f"missing required field {name!r} ({cls.__name__})")
        if len(kwargs) != len(value):
            unknown = sorted(set(value) - known)
            raise DecodeError(f"unknown field {unknown[0]!r} in {cls.__name__}").under(unknown[0])
        return cls(**kwargs)

    cache[cls] = decode  # before compiling fields: recursive types refer back to it
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        required = bool(f.metadata.get("required")) or (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        fields_.append((f.name, _with_bounds(_compile(hints[f.name], cache), f.metadata), required))
    known = frozenset(name for name, _, _ in fields_)
    return decode


def decoder_for(cls: type) -> Decoder:
    """A function ``dict -> cls`` that validates as it converts; raises :class:`DecodeError`."""
    return _compile_dataclass(cls, {})


# --- JSON Schema ---------------------------------------------------------------------------


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under each attribute in ``cls``'s source (PEP 257 style)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for current, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(current, ast.AnnAssign)
            and isinstance(current.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[current.target.id] = " ".join(following.value.value.split())
    return docs


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    simple = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if tp is Any:
        return {}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is datetime:
        return {"type": "string", "format": "date-time", "pattern": RFC3339}
    if tp is date:
        return {"type": "string", "format": "date"}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placeholder for recursion
            defs[tp.__name__] = _dataclass_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_for(a, defs) for a in args]}
    if tp is type(None):
        return {"type": "null"}
    if origin is tuple:
        return {"type": "array", "items": _schema_for(args[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_for(args[1], defs)}
    raise TypeError(f"unsupported annotation {tp!r}")


def _dataclass_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    docs = attribute_docs(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = _schema_for(hints[f.name], defs)
        bounds = {k: f.metadata[k] for k in ("minimum", "maximum") if k in f.metadata}
        if bounds:  # numeric keywords ignore null, so they sit beside anyOf safely
            prop = {**prop, **bounds}
        if f.name in docs:
            prop = {**prop, "description": docs[f.name]}
        properties[f.name] = prop
        if f.metadata.get("required") or (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ):
            required.append(f.name)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    if required:
        schema["required"] = required
    return schema


def json_schema(cls: type, *, schema_id: str, title: str) -> dict[str, Any]:
    """A JSON Schema (2020-12) document describing ``cls`` and everything it contains."""
    defs: dict[str, Any] = {}
    root = _dataclass_schema(cls, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        **root,
        "$defs": dict(sorted(defs.items())),
    }

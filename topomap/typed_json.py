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
import functools
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
            if type(value) is not str or value not in allowed:  # a list is unhashable
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
    """A function ``dict -> cls`` that validates as it converts; raises :class:`DecodeError`.

    Two decoders stand behind it: a generated one (:func:`_fast_dataclass`) that only tells
    valid documents from invalid ones, and the closures above, which say exactly where a
    document is wrong. A document is decoded by the first; when it finds any problem, the
    second decodes the same document again and raises the error with its pointer (or, should
    the first have been stricter, returns the value). So both always give the same values and
    errors (a property test checks it on mangled documents), and valid documents, the common
    case, pay only for the fast one.
    """
    precise = _compile_dataclass(cls, {})
    fast = _fast_dataclass(cls, {})

    def decode(value: Any) -> Any:
        try:
            return fast(value)
        except (_Mismatch, DecodeError, TypeError, ValueError):
            pass
        return precise(value)

    return decode


# --- the fast path: generated decoders that only tell valid from invalid ---------------------


class _Mismatch(Exception):
    """Raised by a fast decoder at the first problem; the precise decoder then says what."""


_MISSING = object()


@functools.lru_cache(maxsize=1 << 16)
def _cached_datetime(value: str) -> datetime:
    # Times repeat (every connection of one poll has the same last_seen): parse each once.
    return _decode_datetime(value)


def _fast(tp: Any, cache: dict[Any, Decoder]) -> Decoder:
    """A decoder of ``tp`` for valid values, raising at any problem (see :func:`decoder_for`)."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _fast_dataclass(tp, cache)
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        inner = _fast(next(a for a in args if a is not type(None)), cache)
        return lambda value: None if value is None else inner(value)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _fast(args[0], cache)

        def sequence(value: Any) -> tuple[Any, ...]:
            if type(value) is not list:
                raise _Mismatch
            return tuple([item(element) for element in value])

        return sequence
    if origin is dict and args[0] is str:
        item = _fast(args[1], cache)

        def mapping(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _Mismatch
            return {key: item(element) for key, element in value.items()}

        return mapping
    return _compile(tp, {})  # scalars and the rest: the precise decoder, raising DecodeError


#: Plain scalars checked inline (``bool`` is not ``int`` here, as in :func:`_decode_int`).
_INLINE_TYPES = {
    int: "type({x}) is not int",
    str: "type({x}) is not str",
    bool: "type({x}) is not bool",
}


def _fast_dataclass(cls: type, cache: dict[Any, Decoder]) -> Decoder:
    """Generate the straight-line decoder of one dataclass (as :mod:`dataclasses` generates
    ``__init__``): per field a dictionary lookup, an inline type check for plain scalars and
    ``Literal`` strings, a call for anything nested; the object is made without ``__init__``
    when that only sets slots, each slot set once. The source is built from the class's own
    field names and types, never from a document."""
    if cls in cache:
        return cache[cls]
    scope: dict[str, Any] = {
        "MISSING": _MISSING,
        "MISMATCH": _Mismatch,  # the class: a shared instance would collect tracebacks
        "new": object.__new__,
        "cls": cls,
        "dt": _cached_datetime,
    }
    lines = ["def decode(value):", "    if type(value) is not dict:", "        raise MISMATCH"]
    lines.append("    get = value.get")
    lines.append("    missing = 0")
    fields = dataclasses.fields(cls)
    hints = get_type_hints(cls)
    nested = []
    direct = not hasattr(cls, "__post_init__") and all(
        f.init and isinstance(cls.__dict__.get(f.name), types.MemberDescriptorType) for f in fields
    )
    for i, f in enumerate(fields):
        x = f"v{i}"
        tp = hints[f.name]
        required = bool(f.metadata.get("required")) or (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        lines.append(f"    {x} = get({f.name!r}, MISSING)")
        lines.append(f"    if {x} is MISSING:")
        if required:
            lines.append("        raise MISMATCH")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"factory{i}"] = f.default_factory
            lines += ["        missing += 1", f"        {x} = factory{i}()"]
        else:
            scope[f"default{i}"] = f.default
            lines += ["        missing += 1", f"        {x} = default{i}"]
        origin, args = get_origin(tp), get_args(tp)
        nullable = origin in (typing.Union, types.UnionType) and type(None) in args
        base: Any = tp
        if nullable:  # X | None: X checked inline below; wider unions go to a nested decoder
            base = next(a for a in args if a is not type(None)) if len(args) == 2 else None
        guard = f"{x} is not None and " if nullable else ""
        if base in _INLINE_TYPES:
            check = _INLINE_TYPES[base].format(x=x)
            lines += [f"    elif {guard}{check}:", "        raise MISMATCH"]
        elif base is datetime:
            lines += [f"    elif {guard}type({x}) is str:", f"        {x} = dt({x})"]
            lines += [f"    elif {x} is not None:" if nullable else "    else:"]
            lines += ["        raise MISMATCH"]
        elif get_origin(base) is Literal and all(type(a) is str for a in get_args(base)):
            scope[f"allowed{i}"] = frozenset(get_args(base))
            lines += [
                f"    elif {guard}(type({x}) is not str or {x} not in allowed{i}):",
                "        raise MISMATCH",
            ]
        else:
            lines += ["    else:", f"        {x} = sub{i}({x})"]
            nested.append((i, tp))
        low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
        bounds = [f"{x} < {low!r}"] if low is not None else []
        bounds += [f"{x} > {high!r}"] if high is not None else []
        if bounds:
            lines += [
                f"    if {x} is not None and ({' or '.join(bounds)}):",
                "        raise MISMATCH",
            ]
        if direct:
            scope[f"set{i}"] = cls.__dict__[f.name].__set__
    # Every key was a field: any other key makes the count differ.
    lines += [f"    if len(value) + missing != {len(fields)}:", "        raise MISMATCH"]
    if direct:
        lines.append("    obj = new(cls)")
        lines += [f"    set{i}(obj, v{i})" for i in range(len(fields))]
        lines.append("    return obj")
    else:
        arguments = ", ".join(f"{f.name}=v{i}" for i, f in enumerate(fields))
        lines.append(f"    return cls({arguments})")
    exec("\n".join(lines), scope)  # noqa: S102 - see the docstring
    decode: Decoder = scope["decode"]
    cache[cls] = decode  # before the nested decoders: recursive types refer back to it
    for i, tp in nested:
        scope[f"sub{i}"] = _fast(tp, cache)
    return decode


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

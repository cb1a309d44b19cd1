"""YAML read with the line of every value, so errors can name the line a user must fix.

:func:`load_yaml` parses one YAML document and returns the plain value together with a map
from JSON pointer (``/allowed_egress/2/ports``) to the 1-based line where that value starts.
A decoder that reports a JSON pointer (:mod:`topomap.typed_json`) then turns into an error
line ``topomap.yaml:14: /allowed_egress/2/ports/0: expected integer``.
"""

from __future__ import annotations

from typing import Any

import yaml

from topomap.errors import InputError


def _escape(segment: str | int) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def _lines(node: yaml.Node, pointer: str, out: dict[str, int]) -> None:
    out[pointer] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{pointer}/{_escape(key.value)}"
            _lines(value, child, out)
            out.setdefault(child, key.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, f"{pointer}/{index}", out)


def load_yaml(text: str, *, origin: str) -> tuple[Any, dict[str, int]]:
    """The document's value and its pointer -> line map; one-line :class:`InputError` if bad.

    >>> value, lines = load_yaml("a:\\n  - 1\\n  - x: 2\\n", origin="f.yaml")
    >>> value, lines["/a/1/x"]
    ({'a': [1, {'x': 2}]}, 3)
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{origin}{where}: not valid YAML: {problem}") from None
    lines: dict[str, int] = {}
    if node is not None:
        _lines(node, "", lines)
    return value, lines


def line_of(lines: dict[str, int], pointer: str) -> int | None:
    """The line of ``pointer``, or of its nearest ancestor that has one."""
    while True:
        if pointer in lines:
            return lines[pointer]
        if not pointer:
            return None
        pointer = pointer.rpartition("/")[0]

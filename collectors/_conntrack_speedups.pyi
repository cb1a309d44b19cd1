"""Types of the optional C parser of conntrack text (collectors/_conntrack_speedups.c)."""

from typing import Any

def scan(text: str, /) -> tuple[int, list[tuple[int, str]]] | None: ...
def build(
    text: str,
    pos: int,
    line: int,
    limit: int,
    barrier: int,
    entry_type: type[tuple[Any, ...]],
    tuple_type: type[tuple[Any, ...]],
    protocols: tuple[str, str, str, str, str],
    /,
) -> tuple[list[Any], int, int, bool]: ...

"""Sets of connections: for each protocol (TCP, UDP, SCTP), a set of port ranges.

The unit the policy engine computes with: a rule allows a ConnSet, directions intersect,
precedence layers subtract. Immutable and hashable, kept canonical (ranges maximal, disjoint,
ascending; empty protocols dropped) so equal sets compare equal and print the same.

Two spellings, both netpol-analyzer's: :meth:`ConnSet.txt` (``All Connections``,
``SCTP 1-9002,TCP 80``) for connlist output and :meth:`ConnSet.explain` (``TCP:[8080]``,
protocols in the order TCP, UDP, SCTP) for explanations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from topomap.policy.objects import PROTOCOLS, Proto

MIN_PORT, MAX_PORT = 1, 65535
Ranges = tuple[tuple[int, int], ...]


def _normalise(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        lo, hi = max(lo, MIN_PORT), min(hi, MAX_PORT)
        if lo > hi:
            continue
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        cur = lo
        for blo, bhi in b:
            if bhi < cur or blo > hi:
                continue
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


class ConnSet:
    """An immutable set of (protocol, port) pairs, stored as ranges per protocol."""

    __slots__ = ("_by_proto", "_hash")

    def __init__(self, by_proto: Mapping[Proto, Iterable[tuple[int, int]]] | None = None):
        items = {}
        for proto, ranges in (by_proto or {}).items():
            normal = _normalise(ranges)
            if normal:
                items[proto] = normal
        self._by_proto: dict[Proto, Ranges] = dict(sorted(items.items()))
        self._hash = hash(tuple(self._by_proto.items()))

    @classmethod
    def of(cls, protocol: Proto, start: int = MIN_PORT, end: int | None = None) -> ConnSet:
        """One protocol, ports ``start``..``end`` (one port when ``end`` is omitted)."""
        return cls({protocol: [(start, start if end is None else end)]})

    @classmethod
    def all_ports(cls, protocol: Proto) -> ConnSet:
        return cls({protocol: [(MIN_PORT, MAX_PORT)]})

    def __or__(self, other: ConnSet) -> ConnSet:
        merged: dict[Proto, list[tuple[int, int]]] = {}
        for source in (self._by_proto, other._by_proto):
            for proto, ranges in source.items():
                merged.setdefault(proto, []).extend(ranges)
        return ConnSet(merged)

    def __and__(self, other: ConnSet) -> ConnSet:
        return ConnSet(
            {
                proto: _intersect(ranges, other._by_proto[proto])
                for proto, ranges in self._by_proto.items()
                if proto in other._by_proto
            }
        )

    def __sub__(self, other: ConnSet) -> ConnSet:
        return ConnSet(
            {
                proto: _subtract(ranges, other._by_proto.get(proto, ()))
                for proto, ranges in self._by_proto.items()
            }
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnSet) and self._by_proto == other._by_proto

    def __hash__(self) -> int:
        return self._hash

    def __bool__(self) -> bool:
        return bool(self._by_proto)

    def __repr__(self) -> str:
        return f"ConnSet({self.txt()!r})"

    def contains(self, protocol: str, port: int) -> bool:
        """Whether one connection (protocol in any case, port) is in the set."""
        ranges = self._by_proto.get(protocol.upper())  # type: ignore[call-overload]
        return bool(ranges) and any(lo <= port <= hi for lo, hi in ranges)

    @property
    def is_all(self) -> bool:
        return self == ALL

    def ranges(self, protocol: Proto) -> Ranges:
        return self._by_proto.get(protocol, ())

    def txt(self) -> str:
        """netpol-analyzer's connlist spelling."""
        if self.is_all:
            return "All Connections"
        if not self:
            return "No Connections"
        return ",".join(
            f"{proto} " + ",".join(_span(lo, hi) for lo, hi in self._by_proto[proto])
            for proto in PROTOCOLS
            if proto in self._by_proto
        )

    def explain(self) -> str:
        """netpol-analyzer's explain spelling: ``TCP:[8080], UDP`` (a bare name = all ports)."""
        if self.is_all:
            return "All Connections"
        parts: list[str] = []
        order: tuple[Proto, ...] = ("TCP", "UDP", "SCTP")
        for proto in order:
            ranges = self._by_proto.get(proto)
            if not ranges:
                continue
            if ranges == ((MIN_PORT, MAX_PORT),):
                parts.append(proto)
            else:
                parts.append(f"{proto}:[" + ",".join(_span(lo, hi) for lo, hi in ranges) + "]")
        return ", ".join(parts)


def _span(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


EMPTY = ConnSet()
ALL = ConnSet({proto: [(MIN_PORT, MAX_PORT)] for proto in PROTOCOLS})

"""The connectivity diff between two clusters, as netpol-analyzer's ``diff`` command reports it.

Both clusters' connectivity lists (:func:`topomap.policy.connlist.connlist`) are compared pair
by pair. Their IP blocks differ in general (each side cuts ``0.0.0.0/0`` by its own CIDRs), so
every IP block on a line is first split at the union of both sides' block boundaries; a piece
keeps the connections of the block it came from. Pairs then compare as:

* ``changed``: allowed in both, with different connections;
* ``added``: allowed only in the second cluster;
* ``removed``: allowed only in the first cluster;
* unchanged pairs are not reported.

Afterwards, IP pieces that touch and share the same key (the other, non-IP end, its side, and
both connection sets) are merged back into maximal ranges, so a diff's IP ranges need not be
blocks of either connectivity list. An added or removed line names, in ``workloads-diff-info``,
the endpoint workloads that exist in only one of the clusters (IP blocks and
``{ingress-controller}`` never count).

Output order (all formats): lines whose source is not ``{ingress-controller}`` first, then
those whose source is; each part in the order changed, added, removed; inside each of those six
groups the formatted lines are sorted as strings, byte-wise. No differences give empty output,
without a header, in every format. The two connection columns are labelled ``ref1``/``ref2``
(netpol-analyzer's library) unless other labels are given (its CLI uses ``dir1``/``dir2``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from topomap.policy.connlist import connlist
from topomap.policy.connset import EMPTY, ConnSet
from topomap.policy.engine import IngressController, IPRange, Peer, PolicyEngine

DiffType = Literal["changed", "added", "removed"]
Labels = tuple[str, str]
DEFAULT_LABELS: Labels = ("ref1", "ref2")

_TYPE_ORDER: tuple[DiffType, ...] = ("changed", "added", "removed")
_TXT_HEADER = "Connectivity diff:"
_CSV_HEADER = ("diff-type", "source", "destination", "{0}", "{1}", "workloads-diff-info")
# netpol-analyzer writes a fixed separator row, whatever the labels.
_MD_SEPARATOR = "|-----------|--------|-------------|------|------|---------------------|"


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One difference in connectivity from ``src`` to ``dst``.

    ``conns1`` / ``conns2`` are the connections in the first / second cluster (``EMPTY`` when
    the pair has none there). ``src_only_one_side`` / ``dst_only_one_side`` mark an endpoint
    workload that exists in only one cluster: new for ``added``, gone for ``removed``.
    """

    diff_type: DiffType
    src: Peer
    dst: Peer
    conns1: ConnSet
    conns2: ConnSet
    src_only_one_side: bool = False
    dst_only_one_side: bool = False

    @property
    def workloads_diff_info(self) -> str:
        """``workload A [and B] added|removed``, or ``""`` when both endpoints persist."""
        names = [
            peer.display
            for peer, flag in (
                (self.src, self.src_only_one_side),
                (self.dst, self.dst_only_one_side),
            )
            if flag
        ]
        if not names:
            return ""
        return f"workload {' and '.join(names)} {self.diff_type}"

    @property
    def from_ingress_controller(self) -> bool:
        return isinstance(self.src, IngressController)

    def fields(self) -> tuple[str, str, str, str, str, str]:
        """diff-type, source, destination, conns 1, conns 2, workloads-diff-info."""
        return (
            self.diff_type,
            self.src.display,
            self.dst.display,
            self.conns1.txt(),
            self.conns2.txt(),
            self.workloads_diff_info,
        )

    def txt(self, labels: Labels = DEFAULT_LABELS) -> str:
        kind, src, dst, conns1, conns2, info = self.fields()
        line = (
            f"diff-type: {kind}, source: {src}, destination: {dst}, "
            f"{labels[0]}: {conns1}, {labels[1]}: {conns2}"
        )
        return f"{line}, workloads-diff-info: {info}" if info else line


# ---------------------------------------------------------------------------------------------
# Computing the diff

# A peer as a dictionary key: the display name, or the (start, end) of an IP block.
_Key = str | tuple[int, int]


@dataclass(slots=True)
class _Pair:
    src: Peer
    dst: Peer
    conns: list[ConnSet] = field(default_factory=lambda: [EMPTY, EMPTY])

    @property
    def ends(self) -> tuple[Peer, Peer]:
        return self.src, self.dst


def _key(peer: Peer) -> _Key:
    return (peer.start, peer.end) if isinstance(peer, IPRange) else peer.display


def _pieces(block: IPRange, cuts: list[int]) -> Iterable[IPRange]:
    """``block`` split at every cut inside it (a cut is the first address of a piece)."""
    inner = cuts[bisect_right(cuts, block.start) : bisect_left(cuts, block.end + 1)]
    if not inner:
        yield block
        return
    start = block.start
    for cut in inner:
        yield IPRange(start, cut - 1)
        start = cut
    yield IPRange(start, block.end)


def _merged(ranges: list[IPRange]) -> list[IPRange]:
    """Disjoint ranges with touching neighbours joined, ascending."""
    out: list[IPRange] = []
    for block in sorted(ranges, key=lambda r: r.start):
        if out and out[-1].end + 1 >= block.start:
            out[-1] = IPRange(out[-1].start, max(out[-1].end, block.end))
        else:
            out.append(block)
    return out


def connectivity_diff(engine1: PolicyEngine, engine2: PolicyEngine) -> list[DiffLine]:
    """What changed from ``engine1``'s cluster to ``engine2``'s, in the txt output order."""
    sides = (connlist(engine1), connlist(engine2))
    cut_set: set[int] = set()
    for lines in sides:
        for line in lines:
            for peer in (line.src, line.dst):
                if isinstance(peer, IPRange):
                    cut_set.update((peer.start, peer.end + 1))
    cuts = sorted(cut_set)

    # (src key, dst key) -> the pair's ends and its connections in each cluster
    pairs: dict[tuple[_Key, _Key], _Pair] = {}
    for side, lines in enumerate(sides):
        for line in lines:
            srcs = _pieces(line.src, cuts) if isinstance(line.src, IPRange) else (line.src,)
            for src in srcs:
                dsts = _pieces(line.dst, cuts) if isinstance(line.dst, IPRange) else (line.dst,)
                for dst in dsts:
                    pair = pairs.get((_key(src), _key(dst)))
                    if pair is None:
                        pair = pairs[_key(src), _key(dst)] = _Pair(src, dst)
                    pair.conns[side] = line.conns

    # Re-merge IP pieces per (which end is the IP, the other end, conns 1, conns 2).
    found: list[_Pair] = []
    groups: dict[tuple[bool, str, ConnSet, ConnSet], tuple[Peer, list[IPRange]]] = {}
    for pair in pairs.values():
        conns1, conns2 = pair.conns
        if conns1 == conns2:
            continue
        if isinstance(pair.dst, IPRange):
            key = (True, pair.src.display, conns1, conns2)
            groups.setdefault(key, (pair.src, []))[1].append(pair.dst)
        elif isinstance(pair.src, IPRange):
            key = (False, pair.dst.display, conns1, conns2)
            groups.setdefault(key, (pair.dst, []))[1].append(pair.src)
        else:
            found.append(pair)
    for (dst_is_ip, _, conns1, conns2), (other, blocks) in groups.items():
        for block in _merged(blocks):
            src, dst = (other, block) if dst_is_ip else (block, other)
            found.append(_Pair(src, dst, [conns1, conns2]))

    names = tuple({w.display for w in e.cluster.workloads} for e in (engine1, engine2))
    out: list[DiffLine] = []
    for pair in found:
        conns1, conns2 = pair.conns
        if conns1 and conns2:
            out.append(DiffLine("changed", pair.src, pair.dst, conns1, conns2))
            continue
        kind: DiffType = "added" if conns2 else "removed"
        others = names[0] if conns2 else names[1]  # the cluster the workload may be missing from
        src_one, dst_one = (_is_workload(p) and p.display not in others for p in pair.ends)
        out.append(DiffLine(kind, pair.src, pair.dst, conns1, conns2, src_one, dst_one))
    return _ordered(out, lambda line: line.txt())


def _is_workload(peer: Peer) -> bool:
    return not isinstance(peer, IPRange | IngressController)


def _ordered(lines: Iterable[DiffLine], text: Callable[[DiffLine], str]) -> list[DiffLine]:
    """netpol-analyzer's order: by (ingress-controller source, diff type), then by text."""
    return sorted(
        lines,
        key=lambda line: (
            line.from_ingress_controller,
            _TYPE_ORDER.index(line.diff_type),
            text(line).encode(),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def render_diff_txt(lines: list[DiffLine], labels: Labels = DEFAULT_LABELS) -> str:
    """``Connectivity diff:`` and one ``diff-type: ...`` line per difference; ``""`` if none."""
    if not lines:
        return ""
    body = [line.txt(labels) for line in _ordered(lines, lambda line: line.txt(labels))]
    return "".join(f"{text}\n" for text in (_TXT_HEADER, *body))


def _csv_field(value: str) -> str:
    """One field quoted as Go's ``encoding/csv`` writer quotes it."""
    needs_quotes = value != "" and (
        value == r"\." or any(c in value for c in ',"\r\n') or value[0].isspace()
    )
    if not needs_quotes:
        return value
    return '"' + value.replace('"', '""') + '"'


def _csv_row(fields: Iterable[str]) -> str:
    return ",".join(_csv_field(field) for field in fields) + "\n"


def render_diff_csv(lines: list[DiffLine], labels: Labels = DEFAULT_LABELS) -> str:
    """A header row and one row per difference, Go ``encoding/csv`` style; ``""`` if none."""
    if not lines:
        return ""
    header = _csv_row(name.format(*labels) for name in _CSV_HEADER)
    # Upstream sorts each group by the row's fields joined with ";".
    ordered = _ordered(lines, lambda line: ";".join(line.fields()))
    return header + "".join(_csv_row(line.fields()) for line in ordered)


def _md_row(fields: Iterable[str]) -> str:
    return "| " + " | ".join(fields) + " |"


def render_diff_md(lines: list[DiffLine], labels: Labels = DEFAULT_LABELS) -> str:
    """A markdown table (header, separator, one row per difference); ``""`` if none.

    Like netpol-analyzer, the table has no final newline.
    """
    if not lines:
        return ""
    header = _md_row(name.format(*labels) for name in _CSV_HEADER)
    ordered = _ordered(lines, lambda line: _md_row(line.fields()))
    return "\n".join([header, _MD_SEPARATOR, *(_md_row(line.fields()) for line in ordered)])


RENDERERS: dict[str, Callable[[list[DiffLine], Labels], str]] = {
    "txt": render_diff_txt,
    "csv": render_diff_csv,
    "md": render_diff_md,
}

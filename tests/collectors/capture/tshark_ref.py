"""tshark's conversation statistics as a reference: run it, parse its table, render ours alike.

``tshark -n -q -r FILE -z conv,tcp -z conv,udp`` prints one row per conversation: endpoints A
and B (A sent the first packet), frames and bytes B->A, A->B and in total. Byte counts of 10,000
and more are printed in SI units rounded down (``139 kB`` is 139,000-139,999 bytes), so ours are
rendered the same way before comparing: exact below 10,000, to the printed unit above.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from collectors import capture, flows

TSHARK = shutil.which("tshark")
Row = tuple[str, str, int, str, int, int, str, int, str]  # proto, A, port, B, port, A->B, B->A

_ROW = re.compile(
    r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+ \w+)\s+(\d+) (\d+ \w+)\s+(\d+) (\d+ \w+)\s"
)


def size(n: int) -> str:
    """Wireshark's format_size for byte counts (SI prefixes, integer division)."""
    for power, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n // power >= 10:
            return f"{n // power} {unit}"
    return f"{n} bytes"


def run(path: Path) -> str:
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-n", "-q", "-r", str(path), "-z", "conv,tcp", "-z", "conv,udp"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    return done.stdout


def parse(text: str) -> Counter[Row]:
    rows: Counter[Row] = Counter()
    proto = ""
    for line in text.splitlines():
        if line.endswith(" Conversations"):
            proto = line.split()[0].lower()
            continue
        m = _ROW.match(line)
        if m:
            a, ap, b, bp, f_in, b_in, f_out, b_out = m.groups()[:8]
            rows[(proto, a, int(ap), b, int(bp), int(f_out), b_out, int(f_in), b_in)] += 1
    return rows


def ours(agg: capture.Aggregator) -> tuple[Counter[Row], Counter[Row]]:
    """Our flows and our VXLAN/Geneve outer flows, as tshark would print them."""
    out: list[Counter[Row]] = []
    for table in (agg.table, agg.outer):
        rows: Counter[Row] = Counter()
        for f in table.finish():
            rows[
                (
                    {6: "tcp", 17: "udp"}[f.proto],
                    flows.address(f.fam, f.src),
                    f.sport,
                    flows.address(f.fam, f.dst),
                    f.dport,
                    f.packets[0],
                    size(f.bytes[0]),
                    f.packets[1],
                    size(f.bytes[1]),
                )
            ] += 1
        out.append(rows)
    return out[0], out[1]

"""Benchmark: the flow table of a capture, topomap against tshark's conversation statistics.

What is compared
----------------
``collectors.capture.read_capture(FILE)`` (memory-mapped pcap, vectorized decode, flow table;
the same code ``topomap collect --pcap`` runs) against ``tshark -n -q -r FILE -z conv,tcp -z
conv,udp`` on the same file, each timed from start to finish in its own process (tshark's
start-up included: about 0.3 s). Both tables must hold the same flows: 5-tuple, frames and
bytes each way (bytes compared at tshark's printed precision, which is exact below 10,000 and
whole kB/MB above). Peak memory is the child's ``ru_maxrss``: for topomap that includes the
pages of the memory map it has touched, which the reader hands back after each batch.

The data
--------
Generated from a fixed seed into a temporary pcap (not timed): by default 1,000,000 packets in
about 20,000 flows; 70% TCP (a handshake, data both ways, a FIN each way) and 30% UDP (request /
answer pairs); 30% of flows over IPv6; 40% of flows on a VLAN tag. Frame sizes as on a real
link: TCP data segments of 1,514 bytes one way and ACKs of 66 (86 over IPv6) the other,
requests of 100-600 bytes, UDP datagrams of 80-1,200. Flows are interleaved, as on a wire: each
packet is drawn from the flows still open, so a flow's packets spread over the capture.

Usage::

    python benchmarks/pcap_flows.py                 # 1,000,000 packets (about 2 minutes)
    python benchmarks/pcap_flows.py --packets 100000 --flows 2000   # quick
    python benchmarks/pcap_flows.py --keep capture.pcap             # keep the generated file
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import in_child, mb, measure, yes  # noqa: E402

Row = tuple[str, str, int, str, int, int, str, int, str]
SEED = 20261201


def size(n: int) -> str:
    """Wireshark's byte formatting in its conversation tables (SI units, rounded down)."""
    for power, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n // power >= 10:
            return f"{n // power} {unit}"
    return f"{n} bytes"


def _frame(flow: dict[str, Any], forward: bool, flags: int, payload: int) -> bytes:
    src, dst = (flow["a"], flow["b"]) if forward else (flow["b"], flow["a"])
    sport, dport = (flow["ap"], flow["bp"]) if forward else (flow["bp"], flow["ap"])
    v6, tcp = flow["v6"], flow["tcp"]
    if tcp:
        seq = flow["seq_a"] if forward else flow["seq_b"]
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
    body = l4 + bytes(payload)
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(body), 6 if tcp else 17, 64) + src + dst
        etype = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(body), 0, 0, 64, 6 if tcp else 17, 0)
        ip += src + dst
        etype = 0x0800
    eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
    if flow["vlan"]:
        eth += struct.pack("!HHH", 0x8100, flow["vlan"], etype)
    else:
        eth += struct.pack("!H", etype)
    frame: bytes = eth + ip + body
    return frame


def _script(rng: random.Random, flow: dict[str, Any], budget: int) -> list[tuple[bool, int, int]]:
    """The packets of one flow: (forward?, TCP flags, payload bytes)."""
    if not flow["tcp"]:
        out = []
        for _ in range(max(1, budget // 2)):
            out.append((True, 0, rng.randint(40, 600)))
            out.append((False, 0, rng.randint(40, 1150)))
        return out[:budget] if budget > 1 else out[:1]
    mss = 1440 if flow["v6"] else 1460
    out = [(True, 0x02, 0), (False, 0x12, 0), (True, 0x10, 0)]
    data = max(0, budget - 5)
    out.append((True, 0x18, rng.randint(100, 600)))
    for i in range(max(0, data - 1)):
        out.append((False, 0x10, mss) if i % 2 == 0 else (True, 0x10, 0))
    out += [(True, 0x11, 0), (False, 0x11, 0)]
    return out


def generate(path: Path, packets: int, flows: int, seed: int = SEED) -> dict[str, int]:
    """Write the capture; return what is in it."""
    rng = random.Random(seed)
    per_flow = [max(2, int(rng.paretovariate(1.2) * packets / flows / 6)) for _ in range(flows)]
    scale = packets / sum(per_flow)
    per_flow = [max(2, round(n * scale)) for n in per_flow]
    per_flow[-1] += packets - sum(per_flow)
    specs = []
    used: set[tuple[bytes, int, bytes, int]] = set()
    for i in range(flows):
        v6 = rng.random() < 0.3
        tcp = rng.random() < 0.7
        while True:
            if v6:
                a = bytes.fromhex("fd00000000000001") + rng.getrandbits(64).to_bytes(8, "big")
                b = bytes.fromhex("20010db8") + rng.getrandbits(96).to_bytes(12, "big")
            else:
                a = bytes([10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)])
                b = (
                    bytes([203, 0, 113, rng.randint(1, 254)])
                    if rng.random() < 0.5
                    else bytes([10, 96, rng.randint(0, 255), rng.randint(1, 254)])
                )
            services = [443, 80, 5432, 6379, 8080, 9092] if tcp else [53, 123, 443, 8125]
            ap, bp = rng.randint(32768, 60999), rng.choice(services)
            if (a, ap, b, bp) not in used:
                used.add((a, ap, b, bp))
                break
        flow = {
            "v6": v6, "tcp": tcp, "a": a, "b": b, "ap": ap, "bp": bp,
            "vlan": rng.choice([0, 0, 0, 10, 20]),
            "seq_a": rng.getrandbits(32), "seq_b": rng.getrandbits(32),
        }  # fmt: skip
        specs.append((flow, _script(rng, flow, per_flow[i])))
    # interleave: a queue of open flows, each step sends the next packet of a random one
    cursor = [0] * flows
    order: list[int] = []
    active = list(range(min(flows, 2000)))
    waiting = list(range(len(active), flows))
    while active:
        k = rng.randrange(len(active))
        i = active[k]
        order.append(i)
        cursor[i] += 1
        if cursor[i] >= len(specs[i][1]):
            active[k] = active[-1]
            active.pop()
            if waiting:
                active.append(waiting.pop(0))
    t = 1_764_000_000.0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        cursor = [0] * flows
        for n, i in enumerate(order):
            flow, script = specs[i]
            forward, flags, payload = script[cursor[i]]
            cursor[i] += 1
            frame = _frame(flow, forward, flags, payload)
            usec = n * 37
            out.write(struct.pack("<IIII", int(t) + usec // 1_000_000, usec % 1_000_000,
                                  len(frame), len(frame)))  # fmt: skip
            out.write(frame)
    return {"packets": len(order), "flows": flows, "bytes": path.stat().st_size}


def run_topomap(path: str) -> dict[str, Any]:
    from collectors import capture, flows

    def read() -> Counter[Row]:
        agg, _ = capture.read_capture(path)
        rows: Counter[Row] = Counter()
        for f in agg.table.finish():
            rows[
                ({6: "tcp", 17: "udp"}[f.proto], flows.address(f.fam, f.src), f.sport,
                 flows.address(f.fam, f.dst), f.dport, f.packets[0], size(f.bytes[0]),
                 f.packets[1], size(f.bytes[1]))
            ] += 1  # fmt: skip
        return rows

    rows, stats = measure(read)
    stats["rows"] = rows
    return stats


_ROW = re.compile(
    r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+ \w+)\s+(\d+) (\d+ \w+)\s+(\d+) (\d+ \w+)\s"
)


def run_tshark(path: str) -> dict[str, Any]:
    tshark = shutil.which("tshark")
    assert tshark is not None
    start = time.perf_counter()
    done = subprocess.run(
        [tshark, "-n", "-q", "-r", path, "-z", "conv,tcp", "-z", "conv,udp"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    rows: Counter[Row] = Counter()
    proto = ""
    for line in done.stdout.splitlines():
        if line.endswith(" Conversations"):
            proto = line.split()[0].lower()
        elif m := _ROW.match(line):
            a, ap, b, bp, f_in, b_in, f_out, b_out = m.groups()[:8]
            rows[(proto, a, int(ap), b, int(bp), int(f_out), b_out, int(f_in), b_in)] += 1
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "peak_kib": peak, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--flows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per side")
    parser.add_argument("--keep", type=Path, help="write the capture here and keep it")
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        print("tshark is not installed (apt-get install tshark)", file=sys.stderr)
        return 1
    import numpy

    from topomap import __version__

    print(
        f"topomap {__version__}, numpy {numpy.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )
    tmp = None
    if args.keep:
        path = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="topomap-pcap-bench-")
        path = Path(tmp.name) / "capture.pcap"
    start = time.perf_counter()
    info = generate(path, args.packets, args.flows)
    print(
        f"generated {info['packets']:,} packets in {info['flows']:,} flows, "
        f"{info['bytes'] / 1e6:,.0f} MB (seed {SEED}, {time.perf_counter() - start:.1f} s, "
        "not timed)"
    )
    best: dict[str, dict[str, Any]] = {}
    for run in range(1, args.repeat + 1):
        for name, fn in (("topomap", run_topomap), ("tshark", run_tshark)):
            got = in_child(fn, str(path))
            print(f"  run {run}: {name:8s} {got['seconds']:6.2f} s")
            if name not in best or got["seconds"] < best[name]["seconds"]:
                best[name] = got
    ours, theirs = best["topomap"], best["tshark"]
    ratio = theirs["seconds"] / ours["seconds"]
    same = ours["rows"] == theirs["rows"]
    print()
    print(f"{'':28s}{'seconds':>9s}{'packets/s':>12s}{'peak RSS':>11s}{'flows':>9s}")
    for name, got in (("topomap read_capture", ours), ("tshark -z conv,tcp/udp", theirs)):
        rate = info["packets"] / got["seconds"]
        print(
            f"{name:28s}{got['seconds']:9.2f}{rate:12,.0f}{mb(got['peak_kib']):>11s}"
            f"{sum(got['rows'].values()):9,d}"
        )
    print(f"{'ratio tshark / topomap':28s}{ratio:8.1f}x")
    print(f"same flows (5-tuple, frames and bytes each way): {yes(same)}")
    if not same:
        print("  only topomap:", list(ours["rows"] - theirs["rows"])[:5])
        print("  only tshark: ", list(theirs["rows"] - ours["rows"])[:5])
    peak_ok = ours["peak_kib"] < 400 * 1024
    print(
        f"\ntarget: at least 10x faster than tshark: {yes(ratio >= 10)} ({ratio:.1f}x); "
        f"peak RSS under 400 MB: {yes(peak_ok)} ({mb(ours['peak_kib'])})"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: reading a 262,144-entry conntrack table, as text and live over netlink.

What is measured
----------------
The benchmark makes a network namespace (``ip netns add``), turns accounting on in it
(``nf_conntrack_acct=1``, so every line carries packet and byte counters) and fills its
conntrack table with 262,144 entries (the kernel's default maximum) the way ``conntrack -I``
does, in batches of ``IPCTNL_MSG_CT_NEW`` netlink messages: 70% IPv4 TCP ESTABLISHED, 15% UDP,
5% ICMP and 10% IPv6 TCP, every one distinct. From that one live table it takes:

* the kernel's text, ``/proc/net/nf_conntrack`` read in the namespace, and
* ``conntrack -L`` run in the namespace (timed: that is the reference reader, with its peak
  memory from ``getrusage(RUSAGE_CHILDREN)``),

and then measures, each step in a fresh ``spawn`` child so its peak RSS is its own:

1. **parse, /proc format** and **parse, conntrack -L format**: ``parse_conntrack_text`` on the
   text (read before the clock starts), once with the C parser of the common lines (when it is
   built) and once in pure Python (``TOPOMAP_PURE_PYTHON=1``). Parsing checks every line,
   counts what it skips (with line numbers) and knows the number of entries; the entries
   themselves are built when the result is iterated, timed as **build all entries**
   (``list(table)``); the target is checked against the sum, **parse + build**.
2. **netlink poll**: ``dump_conntrack(namespace)`` (socket in the namespace, dump request,
   every message decoded into a ``ConntrackEntry``), repeated ``--polls`` times in the same
   process; the RSS after each poll (the previous poll's entries dropped) shows whether memory
   grows with polls.
3. **collector poll**: what the collector does at each poll of ``--duration``: the dump, each
   entry folded into the connections seen so far (``Sightings``); the polls after the first
   (which sees every connection for the first time) are the steady state. The
   ``Connection`` objects are built once, at the end, timed separately.
4. **/proc poll**: the fallback, ``read_proc_conntrack`` plus building every entry.

Times are wall-clock (best of ``--repeat``) with the process's CPU time beside them, because
this machine is shared: when other work runs the wall time of the same step varies by 2-3x,
its CPU time much less. Without root (no namespace) only the text parsers run, on text
generated in the same shapes (``--synthetic``).

Targets (from the issue): parsing text at 500,000 entries/s or more (every entry built, with
the C parser when it is built); a full poll of a
262,144-entry live table in under 2 s; memory that does not grow with the number of polls.

Commands::

    sudo python benchmarks/conntrack.py                # the full run (root: a namespace)
    python benchmarks/conntrack.py --synthetic         # text parsers only, no root
    python benchmarks/conntrack.py --entries 20000     # a quick run
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import in_child, mb, peak_kib, reset_peak, rss_kib, yes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.collectors.conntrack_lab: the namespace helpers

ENTRIES = 262_144
TEXT_TARGET = 500_000  # entries/s
POLL_TARGET = 2.0  # seconds


def _timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    gc.collect()
    reset = reset_peak()
    before = rss_kib()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, {
        "seconds": wall,
        "cpu": cpu,
        "peak_kib": peak_kib(),
        "increment_kib": peak_kib() - before,
        "peak_reset": reset,
    }


def run_parse(path: str, pure: bool) -> dict[str, Any]:
    """Parse one text file (read first, not timed), then build every entry.

    ``pure``: without the C parser of the common lines (``TOPOMAP_PURE_PYTHON=1``).
    """
    if pure:
        os.environ["TOPOMAP_PURE_PYTHON"] = "1"  # read when the module is imported, just below
    from collectors.conntrack_text import parse_conntrack_text, text_parser

    if not pure and text_parser() != "C":
        return {"missing": True}
    text = Path(path).read_text()
    table, parse = _timed(lambda: parse_conntrack_text(text))
    entries, build = _timed(lambda: list(table))
    return {
        "parse": parse,
        "build": build,
        "entries": len(table),
        "built": len(entries),
        "skipped": dict(table.skipped),
    }


def run_netlink(namespace: str, polls: int) -> dict[str, Any]:
    """``polls`` netlink dumps in one process: the time of each and the RSS after each."""
    from collectors.conntrack_netlink import dump_conntrack

    runs = []
    rss_after = []
    for _ in range(polls):
        read, stats = _timed(lambda: dump_conntrack(namespace))
        stats["entries"] = len(read.entries)
        stats["skipped"] = dict(read.skipped)
        runs.append(stats)
        del read
        gc.collect()
        rss_after.append(rss_kib())
    return {"runs": runs, "rss_after": rss_after}


def run_collector(namespace: str, polls: int) -> dict[str, Any]:
    """What the conntrack collector does in ``--duration`` mode: ``polls`` polls, each a dump
    folded into the connections seen so far, then the Connections built once at the end."""
    from datetime import UTC, datetime

    from collectors.conntrack import Sightings
    from collectors.conntrack_netlink import dump_conntrack

    seen = Sightings("0")
    runs = []

    def poll() -> int:
        when = datetime.now(UTC)
        read = dump_conntrack(namespace)
        for entry in read.entries:
            seen.add(entry, when, when)
        return len(read.entries)

    for _ in range(polls):
        entries, stats = _timed(poll)
        stats["entries"] = entries
        runs.append(stats)
    connections, build = _timed(lambda: list(seen.connections()))
    build["entries"] = len(connections)
    return {"runs": runs, "build": build}


def run_proc(namespace: str) -> dict[str, Any]:
    """The /proc fallback poll: read and parse ``/proc/net/nf_conntrack``, build every entry."""
    from collectors.conntrack_netlink import read_proc_conntrack

    entries, stats = _timed(lambda: list(read_proc_conntrack(namespace)))
    stats["entries"] = len(entries)
    return stats


def run_conntrack_cli(namespace: str, out: str) -> dict[str, Any]:
    """``conntrack -L`` in the namespace, its output to ``out``; wall time and its peak RSS."""
    with open(out, "w") as handle:
        wall = time.perf_counter()
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, "conntrack", "-L"],
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_kib": usage.ru_maxrss,
        "summary": done.stderr.strip(),
    }


# --- synthetic text, for runs without root ---------------------------------------------------


def synthetic(count: int, proc: bool, seed: int) -> str:
    """Lines in the shapes the kernel and conntrack-tools print, with counters (no root)."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        kind = i % 20
        a = f"10.{rng.randrange(1, 200)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        b = f"10.250.0.{1 + kind}"
        sport = rng.randrange(1024, 65536)
        c1 = f"packets={rng.randrange(1, 999)} bytes={rng.randrange(60, 10**6)} "
        c2 = f"packets={rng.randrange(1, 999)} bytes={rng.randrange(60, 10**6)} "
        l3 = "ipv4     2 "
        if kind < 2:
            l3 = "ipv6     10 "
            a6 = f"fd00:0000:0000:0000:0000:0001:{rng.randrange(65536):04x}:{i % 65536:04x}"
            b6 = "fd00:0000:0000:0000:0000:0000:0000:0002"
            if not proc:
                a6, b6 = f"fd00::1:{rng.randrange(65536):x}:{i % 65536:x}", "fd00::2"
            body = (
                f"tcp      6 3599 ESTABLISHED src={a6} dst={b6} sport={sport} dport=443 {c1}"
                f"src={b6} dst={a6} sport=443 dport={sport} {c2}[ASSURED] mark=0 "
            )
        elif kind < 16:
            body = (
                f"tcp      6 3599 ESTABLISHED src={a} dst={b} sport={sport} dport=443 {c1}"
                f"src={b} dst={a} sport=443 dport={sport} {c2}[ASSURED] mark=0 "
            )
        elif kind < 19:
            body = (
                f"udp      17 3599 src={a} dst={b} sport={sport} dport=53 {c1}"
                f"src={b} dst={a} sport=53 dport={sport} {c2}[ASSURED] mark=0 "
            )
        else:
            body = (
                f"icmp     1 3599 src={a} dst={b} type=8 code=0 id={sport} {c1}"
                f"src={b} dst={a} type=0 code=0 id={sport} {c2}mark=0 "
            )
        lines.append(f"{l3}{body}zone=0 use=2" if proc else f"{body}use=1")
    return "\n".join(lines) + "\n"


# --- the live table ------------------------------------------------------------------------


def build_table(namespace: str, count: int, tmp: Path) -> dict[str, Any]:
    """Fill the namespace's table; write its /proc text; run ``conntrack -L`` (timed)."""
    from collectors.conntrack_netlink import entered_netns, netns_path
    from tests.collectors import conntrack_lab as lab

    lab.sysctl(namespace, "net.netfilter.nf_conntrack_acct", "1")
    start = time.perf_counter()
    refused = lab.insert_entries(namespace, count)
    seconds = time.perf_counter() - start
    with entered_netns(netns_path(namespace)):
        text = Path("/proc/thread-self/net/nf_conntrack").read_text()
    (tmp / "proc.txt").write_text(text)
    return {"refused": refused, "insert_seconds": seconds, "proc_lines": text.count("\n")}


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["cpu"] = min(r["cpu"] for r in runs)
    best["peak_kib"] = max(r["peak_kib"] for r in runs)
    return best


def _row(name: str, entries: int, stats: dict[str, Any]) -> str:
    rate = entries / stats["seconds"] if stats["seconds"] else 0
    cpu_rate = entries / stats["cpu"] if stats["cpu"] else 0
    return (
        f"{name:<34} {stats['seconds']:7.3f} {stats['cpu']:7.3f} {rate:>11,.0f} "
        f"{cpu_rate:>11,.0f} {mb(stats['peak_kib']):>9}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the conntrack text parsers and the live netlink poll."
    )
    parser.add_argument("--entries", type=int, default=ENTRIES, help="table size (262,144)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each text step")
    parser.add_argument("--polls", type=int, default=5, help="netlink polls in one process")
    parser.add_argument("--synthetic", action="store_true", help="no root: generated text only")
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args(argv)

    import collectors.conntrack_text  # noqa: F401  (fail early if not installed)
    import topomap

    print(
        f"topomap {topomap.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}, load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    live = not args.synthetic
    if live and os.geteuid() != 0:
        print("not root: no namespace can be made; running the text parsers on generated text")
        live = False
    n = args.entries
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="topomap-conntrack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if live:
            from tests.collectors import conntrack_lab as lab

            with lab.lab_netns("tmctbench") as ns:
                table = build_table(ns, n, tmp)
                print(
                    f"namespace {ns}: inserted {n:,} entries in {table['insert_seconds']:.1f} s "
                    f"({table['refused']} refused); /proc/net/nf_conntrack has "
                    f"{table['proc_lines']:,} lines (not timed)"
                )
                cli = [in_child(run_conntrack_cli, ns, str(tmp / "cli.txt")) for _ in range(2)]
                results["cli"] = _best(cli)
                print(f"  conntrack -L: {results['cli']['summary']}")
                polls = in_child(run_netlink, ns, args.polls)
                results["netlink"] = polls
                for i, run in enumerate(polls["runs"], 1):
                    print(
                        f"  netlink poll {i}: {run['seconds']:.3f} s (CPU {run['cpu']:.3f} s), "
                        f"{run['entries']:,} entries, RSS after {mb(polls['rss_after'][i - 1])}"
                    )
                results["collector"] = in_child(run_collector, ns, args.polls)
                for i, run in enumerate(results["collector"]["runs"], 1):
                    print(f"  collector poll {i}: {run['seconds']:.3f} s (CPU {run['cpu']:.3f} s)")
                results["proc"] = _best([in_child(run_proc, ns) for _ in range(2)])
        else:
            (tmp / "proc.txt").write_text(synthetic(n, True, args.seed))
            (tmp / "cli.txt").write_text(synthetic(n, False, args.seed))
        for name in ("proc", "cli"):
            for impl, pure in (("c", False), ("py", True)):
                path = str(tmp / f"{name}.txt")
                runs = [in_child(run_parse, path, pure) for _ in range(args.repeat)]
                if runs[0].get("missing"):
                    print("  the C parser is not built: text parsed in Python only")
                    continue
                results[f"parse_{name}_{impl}"] = {
                    "parse": _best([r["parse"] for r in runs]),
                    "build": _best([r["build"] for r in runs]),
                    "entries": runs[0]["entries"],
                    "skipped": runs[0]["skipped"],
                }
                print(
                    f"  parse {name} ({impl}): {runs[0]['entries']:,} entries, "
                    f"skipped {runs[0]['skipped']}"
                )
    _report(n, results, live)
    return 0


def _report(n: int, results: dict[str, Any], live: bool) -> None:
    print()
    print(
        f"{'':<34} {'wall s':>7} {'CPU s':>7} {'entries/s':>11} {'per CPU s':>11} {'peak RSS':>9}"
    )
    print("-" * 84)
    rows = [
        (f"parse_{fmt}_{impl}", f"{label}, {how}")
        for impl, how in (("c", "C"), ("py", "Python"))
        for fmt, label in (("proc", "/proc"), ("cli", "conntrack -L"))
        if f"parse_{fmt}_{impl}" in results
    ]
    for name, label in rows:
        r = results[name]
        both = {
            "seconds": r["parse"]["seconds"] + r["build"]["seconds"],
            "cpu": r["parse"]["cpu"] + r["build"]["cpu"],
            "peak_kib": max(r["parse"]["peak_kib"], r["build"]["peak_kib"]),
        }
        print(_row(f"parse, {label}", r["entries"], r["parse"]))
        print(_row("  build all entries", r["entries"], r["build"]))
        print(_row("  parse + build", r["entries"], both))
    if live:
        polls = results["netlink"]
        best = _best(polls["runs"])
        print(_row("netlink poll (dump_conntrack)", best["entries"], best))
        collector = results["collector"]
        later = _best(collector["runs"][1:] or collector["runs"])
        print(_row("collector poll (dump + fold)", later["entries"], later))
        print(_row("  Connections, once at the end", n, collector["build"]))
        print(_row("/proc poll (read, parse, build)", results["proc"]["entries"], results["proc"]))
        print(_row("conntrack -L (reference)", n, results["cli"]))
        print()
        ratio = results["cli"]["seconds"] / best["seconds"]
        print(f"netlink poll vs conntrack -L: {ratio:.1f}x faster (wall)")
        rss = polls["rss_after"]
        print("RSS after each netlink poll: " + ", ".join(mb(x) for x in rss))
        # A leak adds about the same each poll; allocator arenas settle within the first polls.
        settled = max(rss[: max(2, len(rss) // 2 + 1)])
        grows = rss[-1] - settled > 8 * 1024
    # The target is for parsing: every line read and every entry built (as a caller gets them).
    impl = "c" if "parse_proc_c" in results else "py"
    parse_rate = min(
        results[name]["entries"]
        / (results[name]["parse"]["seconds"] + results[name]["build"]["seconds"])
        for name in (f"parse_proc_{impl}", f"parse_cli_{impl}")
    )
    print()
    print(
        f"target: parse text (every entry built) at >= {TEXT_TARGET:,} entries/s: "
        f"{yes(parse_rate >= TEXT_TARGET)} ({parse_rate:,.0f}/s, "
        f"{'C parser' if impl == 'c' else 'pure Python'})"
    )
    if live:
        print(
            f"target: full netlink poll of {best['entries']:,} entries under {POLL_TARGET} s: "
            f"{yes(best['seconds'] < POLL_TARGET)} ({best['seconds']:.2f} s)"
        )
        print(f"memory does not grow with polls: {yes(not grows)}")


if __name__ == "__main__":
    sys.exit(main())

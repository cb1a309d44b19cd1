"""Time and peak memory of one call, for the benchmark scripts (run in spawned children).

Also the small helpers both scripts share (a spawned child per measured step, report
formatting). Peak RSS is ``ru_maxrss`` after the call, measured from a reset high-water mark
(``/proc/self/clear_refs``, Linux >= 4.0) so it is the call's own peak; *increment* is that
peak minus the resident size just before the call. *CPU seconds* is the process's own CPU
time over the call (``time.process_time``): on a shared machine it varies less than wall time,
since time spent waiting for a core is not counted.
"""

from __future__ import annotations

import gc
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def rss_kib() -> int:
    """Current resident set size in KiB (Linux), else the peak as the best available."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return peak_kib()


def peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def measure(fn: Callable[..., Any], *args: Any) -> tuple[Any, dict[str, Any]]:
    """Run ``fn(*args)`` once; its seconds (wall and CPU), the peak RSS and the increment over
    the RSS before."""
    gc.collect()
    reset = reset_peak()
    before = rss_kib()
    cpu_start = time.process_time()
    start = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak = peak_kib()
    return result, {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rss_before_kib": before,
        "peak_kib": peak,
        "increment_kib": peak - before,
        "peak_reset": reset,
    }


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh spawned interpreter, so its peak RSS is its own."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        result: dict[str, Any] = pool.apply(fn, args)
    return result


def mb(kib: int) -> str:
    """KiB as whole megabytes for the report tables."""
    return f"{max(kib, 0) / 1024:,.0f} MB"


def yes(ok: bool) -> str:
    """How a report says whether a target was met."""
    return "yes" if ok else "NO"

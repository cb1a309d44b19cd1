"""Pausing Python's cyclic garbage collector around bulk object creation.

Decoding a snapshot or building a graph creates millions of small objects and no reference
cycles. While they pile up the collector runs full collections over the whole heap again and
again: measured here, that is about half the time of a 500,000-connection graph build
(benchmarks/graph_build.py). Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

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
    """Disable the cyclic collector inside the block; restore its previous state after.

    On the way out the block's survivors are moved to the oldest generation (see
    :func:`_promote_survivors`), so re-enabling the collector does not start by traversing them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _promote_survivors()
            gc.enable()


def _promote_survivors() -> None:
    """Move every tracked object to the oldest generation, without a traversal.

    The collector counts allocations even while disabled, so the first allocation after
    ``gc.enable()`` would collect the young generation, which by then holds everything the block
    made and kept (a graph build: over a million dicts and lists, about 0.25 s). The survivors
    then move to the middle generation and, ten young collections later, to the oldest one,
    which triggers a full collection over the whole heap: 2 to 3 s of the next 200,000
    allocations after a 500,000-connection build. None of this frees anything the block made,
    as it made no cycles. ``gc.freeze()`` followed by ``gc.unfreeze()`` splices all tracked
    objects into the oldest generation and resets the young count instead; the next full
    collection still examines them. Young objects the caller made before the block move with
    them, so a cycle among those is freed by that full collection rather than a young one.
    Skipped when objects are frozen already (a pre-fork server's): unfreezing would release
    those too.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()

"""paused_gc: the collector is off inside, back on after, and the block's survivors are old."""

from __future__ import annotations

import gc

from topomap.gcpause import paused_gc


class Marker:
    """A tracked object to look for in the collector's generations."""


def in_generation(obj: object, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


def test_paused_then_restored_with_survivors_in_the_oldest_generation() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        made = [Marker() for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 10  # no young collection pending over what the block made
    assert in_generation(made[0], 2) and in_generation(made, 2)
    assert not in_generation(made[0], 0)


def test_nested_block_leaves_the_collector_to_the_outer_one() -> None:
    with paused_gc():
        with paused_gc():
            inner = Marker()
        assert not gc.isenabled()
        assert in_generation(inner, 0)  # not promoted: the outer block is still running
    assert gc.isenabled()


def test_already_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    frozen = Marker()
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        with paused_gc():
            made = Marker()
        assert gc.get_freeze_count() == count  # paused_gc did not unfreeze them
        assert not in_generation(frozen, 2)
        assert not in_generation(made, 2)  # and its own objects were not promoted
    finally:
        gc.unfreeze()

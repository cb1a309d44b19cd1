"""Fixtures of the network-namespace lab: one running lab per module, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.netlab import Lab, running_lab, unavailable


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with running_lab() as running:
        yield running

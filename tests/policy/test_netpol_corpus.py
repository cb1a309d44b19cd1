"""Conformance with np-guard/netpol-analyzer, on its own test inputs and expected outputs.

Every plain connlist txt case (no focus, exposure or multi-network flags) is compared the way
upstream compares: exactly, after deleting newlines. The multi-network category (UDN, CUDN,
NAD, VirtualMachine) is out of scope (docs/policy.md) and its cases are not collected.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy import corpus
from topomap.policy import connlist, engine, loader

PLAIN = [
    c
    for c in corpus.cases("connlist")
    if c["format"] == "txt" and not c.get("flags") and c["category"] != corpus.MULTI_NETWORK
]


@pytest.mark.parametrize("case", PLAIN, ids=[corpus.case_id(c) for c in PLAIN])
def test_connlist_txt(case: dict[str, Any]) -> None:
    corpus.require_corpus()
    cluster = loader.load_cluster([corpus.ROOT / case["input_dir"]])
    actual = connlist.render_txt(connlist.connlist(engine.PolicyEngine(cluster)))
    expected = corpus.read_expected(case)
    if corpus.squash(actual) != corpus.squash(expected):
        missing = sorted(set(expected.splitlines()) - set(actual.splitlines()))[:8]
        extra = sorted(set(actual.splitlines()) - set(expected.splitlines()))[:8]
        pytest.fail(f"{case['input_dir']}: missing {missing}\nextra {extra}")


def test_the_corpus_is_covered() -> None:
    corpus.require_corpus()
    assert len(PLAIN) >= 80

"""Conformance of ``topomap.policy.diff`` with np-guard/netpol-analyzer's ``diff``.

Every diff case of the corpus in txt, csv and md whose dirs are not multi-network (UDN, CUDN,
NAD, VirtualMachine: out of scope) is compared the way upstream compares: exactly, after
deleting newlines. Library cases (``test_outputs/diff``) label the two connection columns
``ref1``/``ref2``; CLI cases (``test_outputs/cli``) label them ``dir1``/``dir2``.

Both dirs are read with ``keep_going=True``: netpol-analyzer's diff, as a library and as a CLI,
does not stop on a file it cannot parse (``stopOnError`` is off by default); it keeps what it
read and diffs that. Only ``tests/onlineboutique_with_pods_severe_error`` depends on this.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.policy import corpus
from topomap.policy import diff, engine, loader
from topomap.policy import objects as o
from topomap.policy.connset import EMPTY, ConnSet

FORMATS = ("txt", "csv", "md")


def _supported(group: str) -> list[dict[str, Any]]:
    return [
        c
        for c in corpus.cases(group)
        if c["format"] in FORMATS and corpus.MULTI_NETWORK not in c["category"].split(" | ")
    ]


LIBRARY = _supported("diff")
CLI = _supported("cli_diff")


@cache
def _engine(input_dir: str) -> engine.PolicyEngine:
    return engine.PolicyEngine(loader.load_cluster([corpus.ROOT / input_dir], keep_going=True))


@cache
def _diff(dir1: str, dir2: str) -> list[diff.DiffLine]:
    return diff.connectivity_diff(_engine(dir1), _engine(dir2))


def _check(case: dict[str, Any], labels: tuple[str, str]) -> None:
    corpus.require_corpus()
    lines = _diff(case["dir1"], case["dir2"])
    actual = diff.RENDERERS[case["format"]](lines, labels)
    expected = corpus.read_expected(case)
    corpus.assert_same(actual, expected, f"{case['dir1']} -> {case['dir2']}")


@corpus.parametrize(LIBRARY)
def test_diff(case: dict[str, Any]) -> None:
    _check(case, ("ref1", "ref2"))


@corpus.parametrize(CLI)
def test_cli_diff(case: dict[str, Any]) -> None:
    _check(case, ("dir1", "dir2"))


def test_the_corpus_is_covered() -> None:
    corpus.require_corpus()
    assert len(LIBRARY) >= 80  # 81 at corpus commit e54a334: 36 txt, 23 csv, 22 md
    assert len(CLI) == 4


@pytest.mark.parametrize(
    "input_dir", ["tests/acs-security-demos", "tests/anp_test_6", "tests/ipblockstest_2"]
)
def test_a_cluster_against_itself_has_no_diff_and_prints_nothing(input_dir: str) -> None:
    corpus.require_corpus()
    lines = _diff(input_dir, input_dir)
    assert lines == []
    assert [render(lines, ("a", "b")) for render in diff.RENDERERS.values()] == ["", "", ""]


def test_csv_quotes_fields_like_go() -> None:
    odd = o.Workload("ns", 'a"b', "Pod")
    plain = o.Workload("ns", "c", "Pod")
    line = diff.DiffLine("added", odd, plain, EMPTY, ConnSet.of("TCP", 80) | ConnSet.of("UDP", 53))
    rows = diff.render_diff_csv([line], ("old", "new")).splitlines()
    assert rows == [
        "diff-type,source,destination,old,new,workloads-diff-info",
        'added,"ns/a""b[Pod]",ns/c[Pod],No Connections,"TCP 80,UDP 53",',
    ]

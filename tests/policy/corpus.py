"""Access to ../shared/corpus/netpol-analyzer: its case index and files, read by path."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "netpol-analyzer"
ROOT = ROOT.resolve()
ABSENT = "../shared/corpus/netpol-analyzer not present (reference corpus; see DESIGN.md)"
MULTI_NETWORK = "multi-network(UDN/CUDN/NAD/VM)"


@cache
def index() -> dict[str, Any]:
    if not (ROOT / "INDEX.json").exists():
        return {"cases": {}}
    data: dict[str, Any] = json.loads((ROOT / "INDEX.json").read_text())
    return data


def cases(group: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = index()["cases"].get(group, [])
    return found


def case_id(case: dict[str, Any]) -> str:
    """The category first, so a failure says which semantics broke."""
    name = Path(case["expected"]).name
    return f"{case['category']}::{name}"


def parametrize(
    selected: list[dict[str, Any]], ids: list[str] | None = None
) -> pytest.MarkDecorator:
    """``parametrize("case", ...)`` over corpus cases; without the corpus, one case that
    skips with the reason (rather than pytest's bare "got empty parameter set")."""
    if not ROOT.exists():
        return pytest.mark.parametrize(
            "case", [pytest.param({}, marks=pytest.mark.skip(reason=ABSENT), id="no-corpus")]
        )
    return pytest.mark.parametrize(
        "case", selected, ids=ids if ids is not None else [case_id(c) for c in selected]
    )


def require_corpus() -> None:
    if not ROOT.exists():
        pytest.skip(ABSENT)


def read_expected(case: dict[str, Any]) -> str:
    return (ROOT / str(case["expected"])).read_text()


def squash(text: str) -> str:
    """Upstream's comparison: exact after deleting every newline."""
    return text.replace("\n", "").replace("\r", "")


def assert_same(actual: str, expected: str, where: str) -> None:
    """Upstream's comparison; on failure, say which lines are missing and which are extra."""
    if squash(actual) != squash(expected):
        missing = sorted(set(expected.splitlines()) - set(actual.splitlines()))[:8]
        extra = sorted(set(actual.splitlines()) - set(expected.splitlines()))[:8]
        order = "" if missing or extra else "\n(same lines, different order)"
        pytest.fail(f"{where}: missing {missing}\nextra {extra}{order}")

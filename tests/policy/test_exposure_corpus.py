"""Conformance of ``list --exposure`` with np-guard/netpol-analyzer's expected outputs.

Collected: the connlist cases with the ``exposure`` flag, outside the multi-network category,
in the formats and with the flags topomap.policy.exposure supports, compared the way upstream
compares (exactly, after deleting newlines). Not collected:

* inputs whose representative peers print matchExpressions values in manifest order (the
  loader keeps ``Requirement.values`` as a set, so only the sorted order can be printed),
* ``--focusworkload-peer`` (no exposure case uses it).
"""

from __future__ import annotations

from typing import Any

from tests.policy import corpus
from topomap.policy import connlist, exposure, loader

SUPPORTED_FORMATS = {"txt", "json", "csv", "md", "dot"}
FOCUS_FLAGS = {"focusworkload", "focus_direction", "focus_conn"}


def _collected(case: dict[str, Any]) -> bool:
    flags = case.get("flags", {})
    return (
        bool(flags.get("exposure"))
        and case["category"] != corpus.MULTI_NETWORK
        and case["format"] in SUPPORTED_FORMATS
        and set(flags) - {"exposure"} <= FOCUS_FLAGS
    )


CASES = [c for c in corpus.cases("connlist") if _collected(c)]


def run_case(case: dict[str, Any], cluster: Any) -> str:
    """What ``list --exposure`` prints for the case's flags and format."""
    flags = case.get("flags", {})
    engine = exposure.ExposureEngine(cluster)
    lines = connlist.connlist(engine)
    focus = None
    if "focusworkload" in flags:
        focus = flags["focusworkload"].split(",")
        lines = connlist.focus(lines, focus, direction=flags.get("focus_direction"))
    focus_conn = None
    if "focus_conn" in flags:
        protocol, port = flags["focus_conn"].split("-")
        focus_conn = (protocol, int(port))
        lines = connlist.focus_conn(lines, protocol, int(port))
    report = exposure.analyze(
        engine, lines, focus=focus, direction=flags.get("focus_direction"), focus_conn=focus_conn
    )
    return exposure.render(case["format"], report)


@corpus.parametrize(CASES)
def test_exposure(case: dict[str, Any]) -> None:
    corpus.require_corpus()
    cluster = loader.load_cluster([corpus.ROOT / case["input_dir"]])
    actual = run_case(case, cluster)
    expected = corpus.read_expected(case)
    corpus.assert_same(actual, expected, case["input_dir"])


def test_the_exposure_corpus_is_covered() -> None:
    corpus.require_corpus()
    assert len(CASES) >= 200

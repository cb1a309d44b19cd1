"""Conformance of ``list --explain`` with np-guard/netpol-analyzer's expected explain files.

Collected: every explain case whose category is not multi-network and whose flags are all
supported (focus workload/peer/direction, focus conn, explain-only). Not collected: cases with
``exposure`` (explain combined with the exposure report is not built yet; each alone is) and
the multi-network category.

* :func:`test_explain_txt` compares the rendered report the way upstream compares: exactly,
  after deleting newlines.
* :func:`test_system_default_pairs` checks, from the engine's own decisions, which pairs no
  rule decided in either direction, against the file's system-default section, so that this
  holds even where the byte-exact rendering differs.
* :func:`test_explanations_agree_with_engine` checks that the explained allowed ports of every
  pair are the engine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.policy import corpus
from topomap.policy import connset, engine, explain, loader, objects

SUPPORTED_FLAGS = {
    "explain",
    "focusworkload",
    "focusworkload_peer",
    "focus_direction",
    "focus_conn",
    "explain_only",
}

CASES = [
    c
    for c in corpus.cases("explain")
    if c["category"] != corpus.MULTI_NETWORK and set(c.get("flags", {})) <= SUPPORTED_FLAGS
]
IDS = [f"{c['category']}::{Path(c['expected']).stem}" for c in CASES]
# The uncovered (system default) pairs are checked on the exposure variants too: their explain
# part comes before the exposure report.
DEFAULT_CASES = [
    c
    for c in corpus.cases("explain")
    if c["category"] != corpus.MULTI_NETWORK
    and set(c.get("flags", {})) <= SUPPORTED_FLAGS | {"exposure"}
]
DEFAULT_IDS = [f"{c['category']}::{Path(c['expected']).stem}" for c in DEFAULT_CASES]


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _focus(flags: dict[str, Any]) -> explain.Focus:
    conn = flags.get("focus_conn")
    return explain.Focus(
        workloads=_names(flags.get("focusworkload")),
        peers=_names(flags.get("focusworkload_peer")),
        direction=flags.get("focus_direction"),
        conn=explain.Focus.parse_conn(conn) if conn else None,
    )


def _load(
    case: dict[str, Any],
) -> tuple[engine.PolicyEngine, tuple[explain.IngressSource, ...]]:
    cluster = loader.load_cluster([corpus.ROOT / case["input_dir"]])
    return engine.PolicyEngine(cluster), explain.ingress_sources_of(cluster)


def _expected_pairs(text: str) -> tuple[list[str], list[str]]:
    """(pairs of the specific section, pairs of the system-default section) as ``a => b``."""
    specific: list[str] = []
    defaults: list[str] = []
    in_defaults = False
    for line in text.splitlines():
        if line.startswith("Exposure Analysis Result"):
            break
        if line.startswith("# "):
            in_defaults = line == f"# {explain.DEFAULT_HEADER} #"
        elif line.startswith("Connections between ") and line.endswith(":"):
            specific.append(line.removeprefix("Connections between ").removesuffix(":"))
        elif in_defaults and " => " in line:
            defaults.append(line)
    return specific, defaults


@corpus.parametrize(CASES, IDS)
def test_explain_txt(case: dict[str, Any]) -> None:
    corpus.require_corpus()
    policy_engine, sources = _load(case)
    flags = case.get("flags", {})
    actual = explain.render_explain(
        policy_engine,
        explain_only=flags.get("explain_only"),
        focus=_focus(flags),
        ingress_sources=sources,
    )
    expected = corpus.read_expected(case)
    corpus.assert_same(actual, expected, case["input_dir"])


@corpus.parametrize(DEFAULT_CASES, DEFAULT_IDS)
def test_system_default_pairs(case: dict[str, Any]) -> None:
    corpus.require_corpus()
    policy_engine, _ = _load(case)
    flags = case.get("flags", {})
    ours = [
        f"{src.display} => {dst.display}"
        for src, dst in explain.system_default_pairs(policy_engine, _focus(flags))
    ]
    specific, defaults = _expected_pairs(corpus.read_expected(case))
    assert not set(ours) & set(specific), "pairs some rule decided are counted as system default"
    if flags.get("explain_only") == "deny":
        assert not defaults  # --explain-only deny leaves the section out
    else:
        assert ours == defaults


@corpus.parametrize(CASES, IDS)
def test_explanations_agree_with_engine(case: dict[str, Any]) -> None:
    corpus.require_corpus()
    policy_engine, sources = _load(case)
    focus = _focus(case.get("flags", {}))
    universe = focus.conn if focus.conn is not None else connset.ALL
    for pair in explain.explain_pairs(policy_engine, focus, sources):
        allowed = policy_engine.allowed(pair.src, pair.dst) & universe
        if isinstance(pair.src, engine.IngressController):
            assert isinstance(pair.dst, objects.Workload)
            # the Ingress/Route objects narrow what the policies allow
            assert not pair.allowed - allowed, pair.dst.display
        else:
            assert pair.allowed == allowed, f"{pair.src.display} => {pair.dst.display}"


def test_the_explain_corpus_is_covered() -> None:
    corpus.require_corpus()
    assert len(CASES) >= 30

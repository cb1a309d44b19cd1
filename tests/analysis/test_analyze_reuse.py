"""What the analysis computes once and reuses (benchmarks/analyze.py): the policy verdicts of the
flows, shared by the bypass and uncovered rules, and the engine peers of address ends. Reuse
must not change an answer, whichever rule asks first and however often."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.analysis import scenario
from topomap.analysis import analyze, context, policy_file, rules
from topomap.findings import Finding
from topomap.model import NodeId
from topomap.policy.engine import IPRange

TODAY = date(2026, 11, 29)


def _context(tmp_path: Path) -> context.Context:
    policy = policy_file.parse_policy_file(
        scenario.POLICY_FILE, origin="t", known_rules=rules.RULE_IDS
    )
    return context.build_context(
        scenario.snapshots(), policy, manifests=[scenario.write_policies(tmp_path)]
    )


def _keys(found: list[Finding]) -> list[tuple[str, str, str]]:
    return sorted((f.rule, f.fingerprint, repr(f)) for f in found)


def test_verdicts_are_computed_once_and_shared_by_the_policy_rules(tmp_path: Path) -> None:
    bypass_first = _context(tmp_path)
    bypass = analyze.analyze(
        bypass_first, today=TODAY, rules=[rules.RULES_BY_ID["TM-POLICY-BYPASS"]]
    )
    judged = bypass_first.evaluations
    assert judged is not None
    # web->api, web->db, api->db, prom->api, three api egresses, the LB ingress to web
    assert len(judged) == 8
    memo = bypass_first.engine.memo_size
    again = analyze.analyze(bypass_first, today=TODAY)
    assert bypass_first.evaluations is judged  # not judged a second time
    assert bypass_first.engine.memo_size == memo
    fresh = analyze.analyze(_context(tmp_path), today=TODAY)
    assert _keys(again) == _keys(fresh)
    assert _keys(bypass) == _keys([f for f in fresh if f.rule == "TM-POLICY-BYPASS"])
    assert len(bypass) == 2


def test_address_peers_are_reused_and_ipv6_has_none(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ends = {f.dst.node: f.dst for f in ctx.flows} | {f.src.node: f.src for f in ctx.flows}
    stripe = ends["external:54.187.174.169"]
    first = ctx.peer(stripe)
    assert first == IPRange(0x36BBAEA9, 0x36BBAEA9)  # 54.187.174.169
    assert ctx.peer(stripe) is first
    pod_end = ends["pod:shop/web-7d9f8-abcde"]
    assert ctx.peer(pod_end) is ctx.pod_peer(pod_end.node)
    v6 = context.End(
        node=NodeId("external:2001:db8::1"),
        kind="external",
        group=NodeId("external:2001:db8::1"),
        pod=None,
        namespace=None,
        workload=None,
        labels={},
        host=None,
        host_network=False,
        ip="2001:db8::1",
        zone="documentation",
        names=(),
        outside=True,
    )
    assert ctx.peer(v6) is None
    assert ctx.peer(v6) is None

"""Run the rules over a context and turn their hits into findings.

Hits of one rule with the same meaning (the same workload pair, peer and port, say) fold into
one :class:`~topomap.findings.Finding`: the subjects are united (main subject first), the flows
become the evidence (the busiest first, at most :data:`MAX_EVIDENCE`, with the total in
``details``), and the fingerprint is the rule plus the meaning. Then the policy file's severity
overrides apply, and suppressions: a suppression that has expired is recorded on the finding
with ``expired: true`` and the finding counts again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from topomap.analysis.context import Context, Flow
from topomap.analysis.policy_file import suppression_for
from topomap.analysis.rules import RULES, Hit, Rule
from topomap.findings import Evidence, Finding, Suppression, fingerprint
from topomap.gcpause import paused_gc

#: Flows kept as evidence per finding (the busiest); the total is in ``details["flows"]``.
MAX_EVIDENCE = 20
#: Subjects listed per finding (the main one first); the flows give the full count.
MAX_SUBJECTS = 40


@dataclass
class _Folded:
    rule: Rule
    hit: Hit
    subjects: dict[str, None] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)


def _evidence(flow: Flow) -> Evidence:
    data = flow.data
    return Evidence(
        edge=flow.edge_id,
        protocol=flow.protocol,
        port=flow.port,
        connections=int(data.get("connections") or 0),
        bytes=data.get("bytes"),
        first_seen=_time(data.get("first_seen")),
        last_seen=_time(data.get("last_seen")),
        observed_by=tuple(data.get("observed_by") or ()),
    )


def _time(value: object) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None


def run_rules(ctx: Context, rules: Iterable[Rule] = RULES) -> list[tuple[Rule, Hit]]:
    """Every hit of every rule; policy rules are skipped when the policies were unreadable."""
    hits: list[tuple[Rule, Hit]] = []
    for rule in rules:
        if rule.uses_policies and ctx.policies_unreadable:
            continue
        if rule.uses_policies and not ctx.has_kubernetes:
            continue
        hits.extend((rule, hit) for hit in rule.check(ctx))
    return hits


def fold(hits: Sequence[tuple[Rule, Hit]]) -> list[_Folded]:
    folded: dict[tuple[str, tuple[str, ...]], _Folded] = {}
    for rule, hit in hits:
        key = (rule.id, hit.meaning)
        entry = folded.get(key)
        if entry is None:
            entry = folded[key] = _Folded(rule, hit)
        if len(entry.subjects) < MAX_SUBJECTS:
            entry.subjects.update(dict.fromkeys(hit.subject))
        for flow in hit.flows:
            entry.flows.setdefault(flow.edge_id, flow)
    return list(folded.values())


def analyze(ctx: Context, *, today: date, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """The findings for ``ctx`` as of ``today`` (which decides expired suppressions).

    The cyclic garbage collector is paused meanwhile: rules and folding make hundreds of
    thousands of small acyclic objects (benchmarks/analyze.py).
    """
    with paused_gc():
        return _analyze(ctx, today, rules)


def _analyze(ctx: Context, today: date, rules: Iterable[Rule]) -> list[Finding]:
    findings = []
    for entry in fold(run_rules(ctx, rules)):
        rule, hit = entry.rule, entry.hit
        flows = sorted(
            entry.flows.values(),
            key=lambda f: (-(f.data.get("connections") or 0), f.edge_id),
        )
        details = dict(hit.details)
        if flows:
            details["flows"] = str(len(flows))
            details["connections"] = str(sum(int(f.data.get("connections") or 0) for f in flows))
        print_ = fingerprint(rule.id, *hit.meaning)
        subject = tuple(entry.subjects)
        sup = suppression_for(ctx.policy, rule.id, subject[0], print_)
        findings.append(
            Finding(
                rule=rule.id,
                title=rule.title,
                severity=ctx.policy.severity.get(rule.id, rule.severity),
                controls=rule.controls,
                subject=subject,
                message=hit.message,
                remediation=rule.remediation,
                fingerprint=print_,
                evidence=tuple(_evidence(f) for f in flows[:MAX_EVIDENCE]),
                details=details,
                suppressed=None
                if sup is None
                else Suppression(
                    reason=sup.reason,
                    approved_by=sup.approved_by,
                    expires=sup.expires,
                    expired=sup.expires < today,
                ),
            )
        )
    return findings

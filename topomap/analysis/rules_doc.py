"""``docs/rules.md``, generated from :data:`topomap.analysis.rules.RULES` (so it cannot drift).

Regenerate with ``python -m topomap.analysis.rules_doc > docs/rules.md``; a test fails when the
committed file differs from what the rules say.
"""

from __future__ import annotations

import inspect
import sys

from topomap.analysis.rules import RULES

_INTRO = """\
# Rules

`topomap analyze` judges the observed graph with these rules. Each finding carries the rule id,
title, severity (after `severity:` overrides in the policy file), the Trust Services Criteria
with their point of focus, the subject (node and edge ids at the workload view, then the
process-level detail), the evidence (flows with first/last seen and who observed them), the
remediation, and a fingerprint that stays the same across collections (it never depends on
ephemeral ports, pids, container ids or pod name suffixes). The findings report format is in
[findings.md](findings.md); the policy file in [policy-file.md](policy-file.md).

Rules marked *uses policies* judge against the cluster's NetworkPolicies, AdminNetworkPolicies
and BaselineAdminNetworkPolicy. When a snapshot records that those could not be read, these
rules do not run and `TM-NOT-EVALUATED` says so, instead of a silently clean result.

This page is generated from `topomap/analysis/rules.py`.

| id | title | severity | controls |
|---|---|---|---|
"""


def rules_markdown() -> str:
    """The whole page."""
    out = [_INTRO]
    out += [
        f"| [{r.id}](#{r.id.lower()}) | {r.title} | {r.severity} | {'; '.join(r.controls)} |\n"
        for r in RULES
    ]
    for r in RULES:
        doc = inspect.getdoc(r.check) or ""
        out.append(f"\n## {r.id}\n\n**{r.title}** — severity `{r.severity}`")
        out.append(" — *uses policies*" if r.uses_policies else "")
        out.append("\n\n")
        out.append("Controls: " + "; ".join(r.controls) + "\n\n")
        if doc:
            out.append(f"What fires it: {doc}\n\n")
        out.append(f"Why it matters: {r.rationale}\n\n")
        out.append(f"Remediation: {r.remediation}\n")
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(rules_markdown())

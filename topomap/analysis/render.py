"""Findings for people and tools: text for a terminal, Markdown, SARIF 2.1.0, and the JSON report.

Text and Markdown group findings by severity (most severe first), show the suppressed ones
apart with their reason, approver and expiry, and end with the counts. SARIF puts each rule in
``tool.driver.rules`` (with its controls and remediation) and each finding in ``results`` with
its fingerprint in ``partialFingerprints``, so code-scanning tools track it across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from topomap import __version__
from topomap.analysis.rules import RULES_BY_ID
from topomap.findings import SEVERITIES, Finding, Report

_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "0.0",
}


def _split(findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    active = [f for f in findings if f.active]
    suppressed = [f for f in findings if not f.active]
    return active, suppressed


def _counts_line(report: Report) -> str:
    counts = report.topomap.counts
    parts = [f"{counts.get(s, 0)} {s}" for s in reversed(SEVERITIES)]
    suppressed = sum(1 for f in report.findings if not f.active)
    return f"{sum(counts.values())} findings: {', '.join(parts)}; {suppressed} suppressed"


def render_text(report: Report) -> str:
    """Readable in a terminal: one block per finding, grouped by severity."""
    active, suppressed = _split(report.findings)
    lines: list[str] = []
    for note in report.topomap.notes:
        lines.append(f"note: {note}")
    for severity in reversed(SEVERITIES):
        group = [f for f in active if f.severity == severity]
        if not group:
            continue
        lines.append(f"{severity.upper()} ({len(group)})")
        for f in group:
            lines.append(f"  [{f.rule}] {f.message}")
            lines.append(f"      subject: {f.subject[0]}")
            for ev in f.evidence[:3]:
                seen = ", ".join(ev.observed_by)
                lines.append(f"      seen: {ev.edge} x{ev.connections} ({seen})")
            if len(f.evidence) > 3:
                lines.append(
                    f"      ... {int(f.details.get('flows', len(f.evidence))) - 3} more flows"
                )
            if f.suppressed and f.suppressed.expired:
                lines.append(
                    f"      suppression by {f.suppressed.approved_by} expired "
                    f"{f.suppressed.expires}: {f.suppressed.reason}"
                )
            lines.append(f"      fix: {f.remediation}")
            lines.append(f"      fingerprint: {f.fingerprint[:16]}")
    if suppressed:
        lines.append(f"SUPPRESSED ({len(suppressed)})")
        for f in suppressed:
            assert f.suppressed is not None
            lines.append(
                f"  [{f.rule}] {f.message} -- {f.suppressed.reason} "
                f"(approved by {f.suppressed.approved_by}, until {f.suppressed.expires})"
            )
    lines.append(_counts_line(report))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(report: Report) -> str:
    """A table per severity, for a pull-request comment or an audit workpaper."""
    active, suppressed = _split(report.findings)
    out = ["## topomap CC6.6 findings", "", _counts_line(report), ""]
    out.extend(f"> note: {_md(note)}" for note in report.topomap.notes)
    for severity in reversed(SEVERITIES):
        group = [f for f in active if f.severity == severity]
        if not group:
            continue
        out += [
            f"### {severity.capitalize()} ({len(group)})",
            "",
            "| rule | finding | subject | fingerprint |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {f.rule} | {_md(f.message)} | `{_md(f.subject[0])}` | `{f.fingerprint[:12]}` |"
            for f in group
        ]
        out.append("")
    if suppressed:
        out += [
            f"### Suppressed ({len(suppressed)})",
            "",
            "| rule | finding | reason | approved by | expires |",
            "|---|---|---|---|---|",
        ]
        for f in suppressed:
            assert f.suppressed is not None
            out.append(
                f"| {f.rule} | {_md(f.message)} | {_md(f.suppressed.reason)} | "
                f"{_md(f.suppressed.approved_by)} | {f.suppressed.expires} |"
            )
        out.append("")
    return "\n".join(out)


def sarif_document(report: Report) -> dict[str, Any]:
    """SARIF 2.1.0: rules with controls and help, results with stable fingerprints."""
    used = sorted({f.rule for f in report.findings})
    rules = [
        {
            "id": rule_id,
            "name": RULES_BY_ID[rule_id].title.replace(" ", ""),
            "shortDescription": {"text": RULES_BY_ID[rule_id].title},
            "fullDescription": {"text": RULES_BY_ID[rule_id].rationale},
            "help": {"text": RULES_BY_ID[rule_id].remediation},
            "properties": {
                "tags": ["security", "soc2", *RULES_BY_ID[rule_id].controls],
                "security-severity": _SECURITY_SEVERITY[RULES_BY_ID[rule_id].severity],
            },
        }
        for rule_id in used
    ]
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "partialFingerprints": {"topomapFingerprint/v1": f.fingerprint},
            "locations": [
                {"logicalLocations": [{"fullyQualifiedName": s, "kind": "resource"}]}
                for s in f.subject[:1]
            ],
            "properties": {
                "severity": f.severity,
                "controls": list(f.controls),
                "subject": list(f.subject),
            },
        }
        if f.suppressed is not None and not f.suppressed.expired:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "justification": f"{f.suppressed.reason} "
                    f"(approved by {f.suppressed.approved_by}, until {f.suppressed.expires})",
                }
            ]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "topomap",
                        "version": __version__,
                        "informationUri": "https://github.com/topomap/topomap",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def render_sarif(report: Report) -> bytes:
    return orjson.dumps(
        sarif_document(report),
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE,
    )

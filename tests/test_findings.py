"""The findings report: round trip, order, counts, and refusal of bad or newer files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from topomap import findings as f
from topomap.errors import InputError, SchemaVersionError


def _finding(
    rule: str, severity: f.Severity, *, suppressed: f.Suppression | None = None
) -> f.Finding:
    return f.Finding(
        rule=rule,
        title=f"title of {rule}",
        severity=severity,
        controls=("CC6.6 Implements Boundary Protection Systems",),
        subject=("workload:shop/Deployment/cart", "external:203.0.113.9"),
        message="cart talked to 203.0.113.9",
        remediation="allow it in topomap.yaml or stop it",
        fingerprint=f.fingerprint(rule, "workload:shop/Deployment/cart"),
        evidence=(
            f.Evidence(
                edge="pod:shop/cart-1 -> external:203.0.113.9 tcp/443",
                protocol="tcp",
                port=443,
                connections=3,
                bytes=1200,
                first_seen=datetime(2026, 11, 1, tzinfo=UTC),
                last_seen=datetime(2026, 11, 2, tzinfo=UTC),
                observed_by=("conntrack@node-a",),
            ),
        ),
        suppressed=suppressed,
    )


def test_report_round_trips_in_severity_order_with_active_counts() -> None:
    expired = f.Suppression(reason="r", approved_by="ann", expires=date(2026, 1, 1), expired=True)
    live = f.Suppression(reason="r", approved_by="ann", expires=date(2027, 1, 1))
    items = [
        _finding("B-LOW", "low"),
        _finding("A-CRIT", "critical", suppressed=expired),
        _finding("C-HIGH", "high", suppressed=live),
    ]
    report = f.make_report(items, f.ReportMeta(tool_version="1.0", graph_sha256="ab" * 32))
    assert [x.rule for x in report.findings] == ["A-CRIT", "C-HIGH", "B-LOW"]
    assert report.topomap.counts == {"info": 0, "low": 1, "medium": 0, "high": 0, "critical": 1}
    data = f.dumps_report(report)
    assert f.dumps_report(f.report_from_document(orjson.loads(data), origin="r.json")) == data
    assert f.report_from_document(orjson.loads(data), origin="r.json") == report


def test_fingerprint_depends_on_rule_and_meaning_only() -> None:
    assert f.fingerprint("R", "a", "b") == f.fingerprint("R", "a", "b")
    assert f.fingerprint("R", "a", "b") != f.fingerprint("R", "ab")
    assert f.fingerprint("R", "a") != f.fingerprint("S", "a")


def test_bad_report_names_the_pointer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = f.make_report([_finding("R", "low")], f.ReportMeta(tool_version="1.0"))
    doc = orjson.loads(f.dumps_report(report))
    doc["findings"][0]["severity"] = "severe"
    path = tmp_path / "findings.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(InputError, match=r"findings.json: /findings/0/severity: "):
        f.load_report(path)
    doc["findings"][0]["severity"] = "low"
    doc["findings"][0]["suppressed"] = {"reason": "x", "approved_by": "y", "expires": "31/12/2026"}
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(InputError, match=r"/findings/0/suppressed/expires: expected a date"):
        f.load_report(path)


def test_newer_or_foreign_report_is_refused() -> None:
    with pytest.raises(InputError, match="not a topomap findings report"):
        f.report_from_document({"nodes": []}, origin="g.json")
    with pytest.raises(SchemaVersionError, match="upgrade topomap"):
        f.report_from_document(
            {"topomap": {"kind": "findings", "schema_version": 99}}, origin="r.json"
        )

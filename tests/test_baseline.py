"""Approved baselines: the approval shows in the diff, and any edit of the file is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.diff import shop_sets
from topomap import baseline, findings
from topomap.errors import InputError

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "shop"


def topomap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args], cwd=REPO, text=True, capture_output=True
    )


@pytest.fixture(scope="module")
def approved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "baseline.json"
    result = topomap(
        "baseline", "approve", str(SAMPLES), "--by", "Ann Auditor (CISO)",
        "--note", "Q4 network review, ticket SEC-42", "--at", "2026-11-30T09:00:00Z",
        "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_baseline_against_the_same_graph_shows_no_change_and_the_approver(approved: Path) -> None:
    result = topomap("diff", str(approved), str(SAMPLES), "--format", "text")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[1] == f"baseline: {approved} (baseline, 2026-11-28T10:00:00Z .. 2026-11-28T10:05:00Z)"
    )
    assert lines[2].startswith(
        "  approved by Ann Auditor (CISO) at 2026-11-30T09:00:00Z: "
        "'Q4 network review, ticket SEC-42' (graph sha256 "
    )
    assert lines[-1] == "no change"
    doc = orjson.loads(topomap("diff", str(approved), str(SAMPLES)).stdout)
    approval = doc["topomap"]["baseline"]["approval"]
    recorded = orjson.loads(approved.read_bytes())["graph"]["topomap"]["content_sha256"]
    assert approval["approved_by"] == "Ann Auditor (CISO)"
    assert approval["graph_sha256"] == recorded
    assert doc["topomap"]["unchanged"] is True


def test_baseline_diffed_against_the_changed_set_shows_the_changes(
    approved: Path, tmp_path: Path
) -> None:
    current = shop_sets.write(shop_sets.current(), tmp_path / "current")
    result = topomap("diff", str(approved), str(current), "--fail-on-new", "external")
    assert result.returncode == 3
    summary = orjson.loads(result.stdout)["topomap"]["summary"]
    assert (summary["edges_added"], summary["edges_removed"], summary["peers_added"]) == (1, 1, 1)


def test_one_byte_of_graph_content_changed_is_a_digest_error_naming_the_file(
    approved: Path, tmp_path: Path
) -> None:
    text = approved.read_text()
    needle = '"port": 9555'
    assert text.count(needle) == 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace(needle, '"port": 9556'))  # one byte
    assert sum(a != b for a, b in zip(text, tampered.read_text(), strict=True)) == 1
    result = topomap("diff", str(tampered), str(SAMPLES))
    assert result.returncode == 1
    assert result.stderr.startswith(f"topomap: error: {tampered}: /graph: content digest mismatch")
    assert len(result.stderr.splitlines()) == 1
    verify = topomap("baseline", "verify", str(tampered))
    assert verify.returncode == 1 and str(tampered) in verify.stderr


def test_an_edited_approval_is_refused(approved: Path, tmp_path: Path) -> None:
    document = orjson.loads(approved.read_bytes())
    document["topomap"]["approved_by"] = "Mallory"
    edited = tmp_path / "edited.json"
    edited.write_bytes(orjson.dumps(document))
    with pytest.raises(InputError, match=r"edited.json: /topomap/approval_sha256: digest mismatch"):
        baseline.load_baseline(edited)
    document = orjson.loads(approved.read_bytes())
    document["topomap"]["graph_sha256"] = "0" * 64
    edited.write_bytes(orjson.dumps(document))
    with pytest.raises(InputError, match=r"/topomap/graph_sha256: the approval names graph 0000"):
        baseline.load_baseline(edited)


def test_verify_prints_the_approval(approved: Path) -> None:
    result = topomap("baseline", "verify", str(approved))
    assert result.returncode == 0
    assert result.stdout.startswith(
        f"{approved}: ok: approved by Ann Auditor (CISO) at 2026-11-30T09:00:00Z: "
        "'Q4 network review, ticket SEC-42'; workload view, 35 nodes, 35 edges, graph sha256 "
    )


def test_findings_approved_with_the_baseline_are_compared(tmp_path: Path) -> None:
    finding = findings.Finding(
        rule="TM-EXT-EGRESS",
        title="Egress to an unapproved public address",
        severity="high",
        controls=("CC6.6",),
        subject=("workload:shop/Deployment/recommendationservice", "external:185.220.101.47"),
        message="recommendationservice talks to 185.220.101.47:4444",
        remediation="block it",
        fingerprint=findings.fingerprint(
            "TM-EXT-EGRESS",
            "workload:shop/Deployment/recommendationservice",
            "external:185.220.101.47",
        ),
    )
    report = tmp_path / "findings.json"
    meta = findings.ReportMeta(tool_version="test")
    report.write_bytes(findings.dumps_report(findings.make_report([finding], meta)))
    out = tmp_path / "b.json"
    result = topomap(
        "baseline", "approve", str(SAMPLES), "--by", "Ann", "--note", "review",
        "--findings", str(report), "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded = baseline.load_baseline(out)
    assert loaded.findings is not None and loaded.findings.findings == (finding,)
    empty = tmp_path / "none.json"
    empty.write_bytes(findings.dumps_report(findings.make_report([], meta)))
    doc = orjson.loads(
        topomap("diff", str(out), str(SAMPLES), "--current-findings", str(empty)).stdout
    )
    assert [(c["status"], c["finding"]["rule"]) for c in doc["findings"]] == [
        ("resolved", "TM-EXT-EGRESS")
    ]
    document = orjson.loads(out.read_bytes())
    document["findings"]["findings"][0]["severity"] = "low"
    out.write_bytes(orjson.dumps(document))
    with pytest.raises(InputError, match=r"b.json: /findings: digest mismatch"):
        baseline.load_baseline(out)


def test_approval_needs_who_and_why(tmp_path: Path) -> None:
    result = topomap("baseline", "approve", str(SAMPLES), "--by", " ", "--note", "x")
    assert result.returncode == 1
    assert result.stderr == "topomap: error: --by: the approver's name must not be empty\n"

"""The rules on a scenario with known problems: exactly those findings, stable identities,
suppressions that expire, severity overrides, and the CLI's formats and exit codes."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from tests.analysis import scenario
from topomap import findings as fnd
from topomap import snapshot_io
from topomap.analysis import analyze, context, policy_file, rules

TODAY = date(2026, 11, 29)
REPO = Path(__file__).resolve().parents[2]

EXPECTED = {
    ("TM-EXPOSURE", "service:shop/web-lb"),
    ("TM-EXT-EGRESS", "workload:shop/Deployment/api -> external:203.0.113.50 tcp/443"),
    ("TM-EXT-INGRESS", "external:198.51.100.7 -> workload:shop/Deployment/web tcp/8443"),
    ("TM-METADATA", "workload:shop/Deployment/api -> external:169.254.169.254 tcp/80"),
    (
        "TM-POLICY-BYPASS",
        "workload:monitoring/Deployment/prom -> workload:shop/Deployment/api tcp/9090",
    ),
    ("TM-POLICY-BYPASS", "workload:shop/Deployment/web -> workload:shop/Deployment/db tcp/5432"),
    ("TM-UNCOVERED", "external:198.51.100.7 -> workload:shop/Deployment/web tcp/8443"),
    ("TM-UNCOVERED", "workload:shop/Deployment/api -> external:169.254.169.254 tcp/80"),
    ("TM-UNCOVERED", "workload:shop/Deployment/api -> external:203.0.113.50 tcp/443"),
    ("TM-UNCOVERED", "workload:shop/Deployment/api -> external:54.187.174.169 tcp/443"),
    ("TM-UNCOVERED", "workload:shop/Deployment/api -> workload:shop/Deployment/db tcp/5432"),
    ("TM-UNPROTECTED", "workload:monitoring/Deployment/prom"),
    ("TM-UNPROTECTED", "workload:shop/Deployment/api"),
    ("TM-UNPROTECTED", "workload:shop/Deployment/db"),
    ("TM-UNPROTECTED", "workload:shop/Deployment/web"),
}


def run(tmp_path: Path, policy_text: str = scenario.POLICY_FILE, **kw: object) -> list[fnd.Finding]:
    policy = policy_file.parse_policy_file(policy_text, origin="t", known_rules=rules.RULE_IDS)
    ctx = context.build_context(
        scenario.snapshots(**kw),  # type: ignore[arg-type]
        policy,
        manifests=[scenario.write_policies(tmp_path)],
    )
    return analyze.analyze(ctx, today=TODAY)


def test_exactly_the_planted_findings(tmp_path: Path) -> None:
    found = run(tmp_path)
    assert {(f.rule, f.subject[0]) for f in found} == EXPECTED
    bypass = next(f for f in found if f.rule == "TM-POLICY-BYPASS" and "web" in f.subject[0])
    assert bypass.severity == "critical"
    assert bypass.details == {
        "egress": "NetworkPolicy shop/web-egress",
        "ingress": "NetworkPolicy shop/db-from-api",
        "flows": "1",
        "connections": "1",
    }
    (ev,) = bypass.evidence
    assert ev.protocol == "tcp" and ev.port == 5432 and ev.observed_by == ("conntrack@node-a",)
    assert bypass.controls[0] == "CC6.6 Implements Boundary Protection Systems"
    metadata = next(f for f in found if f.rule == "TM-METADATA")
    assert "CC6.6 Protects Identification and Authentication Credentials" in metadata.controls


def test_fingerprints_survive_new_ephemeral_ports_and_pod_names(tmp_path: Path) -> None:
    first = {f.fingerprint: (f.rule, f.subject[0]) for f in run(tmp_path)}
    again = {
        f.fingerprint: (f.rule, f.subject[0])
        for f in run(tmp_path, sport_base=51000, suffix="5c4b3-zyxwv")
    }
    assert first == again
    assert len(first) == 16  # prom is unprotected both ways: two findings, one subject


def test_suppression_applies_until_it_expires(tmp_path: Path) -> None:
    def with_suppression(expires: str) -> str:
        return scenario.POLICY_FILE + (
            "suppressions:\n"
            "  - rule: TM-EXT-EGRESS\n"
            "    subject: 'workload:shop/Deployment/api -> external:*'\n"
            "    reason: partner sandbox, contract until spring\n"
            "    approved_by: ann@example.com\n"
            f"    expires: {expires}\n"
        )

    live = next(
        f for f in run(tmp_path, with_suppression("2027-03-31")) if f.rule == "TM-EXT-EGRESS"
    )
    assert live.suppressed is not None and not live.suppressed.expired and not live.active
    assert live.suppressed.reason == "partner sandbox, contract until spring"
    expired = next(
        f for f in run(tmp_path, with_suppression("2026-11-28")) if f.rule == "TM-EXT-EGRESS"
    )
    assert expired.suppressed is not None and expired.suppressed.expired and expired.active


def test_severity_override_and_allowed_egress_by_cidr(tmp_path: Path) -> None:
    text = scenario.POLICY_FILE + (
        "  - id: partner\n    to: [203.0.113.0/24]\n    ports: [443]\n"
        "    owner: partners\n    reason: partner API\n"
        "severity:\n  TM-UNPROTECTED: info\n"
    )
    found = run(tmp_path, text)
    assert not [f for f in found if f.rule == "TM-EXT-EGRESS"]
    assert {f.severity for f in found if f.rule == "TM-UNPROTECTED"} == {"info"}


def test_unreadable_policies_are_reported_not_silently_clean(tmp_path: Path) -> None:
    policy = policy_file.PolicyFile()
    ctx = context.build_context(scenario.snapshots(), policy)
    ctx.policies_unreadable.append("cluster: networkpolicies.networking.k8s.io: 403 forbidden")
    found = analyze.analyze(ctx, today=TODAY)
    rules_seen = {f.rule for f in found}
    assert "TM-NOT-EVALUATED" in rules_seen
    assert not rules_seen & {"TM-UNCOVERED", "TM-POLICY-BYPASS", "TM-UNPROTECTED"}


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[list[str], Path, Path]:
    paths = []
    for snap in scenario.snapshots():
        path = tmp_path / f"{snap.observer}.json"
        snapshot_io.dump_snapshot(snap, path)
        paths.append(str(path))
    policy = tmp_path / "topomap.yaml"
    policy.write_text(scenario.POLICY_FILE)
    return paths, policy, scenario.write_policies(tmp_path)


def topomap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_cli_formats_and_fail_on(inputs: tuple[list[str], Path, Path], tmp_path: Path) -> None:
    snaps, policy, manifests = inputs
    base = ["analyze", *snaps, "--policy", str(policy), "--k8s", str(manifests)]
    text = topomap(*base)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("CRITICAL (2)\n")
    assert text.stdout.rstrip().endswith(
        "16 findings: 2 critical, 4 high, 5 medium, 5 low, 0 info; 0 suppressed"
    )
    out = tmp_path / "findings.json"
    assert topomap(*base, "--format", "json", "-o", str(out)).returncode == 0
    report = fnd.load_report(out)
    assert {(f.rule, f.subject[0]) for f in report.findings} == EXPECTED
    sarif = orjson.loads(topomap(*base, "--format", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    assert len(results) == 16 and sarif["version"] == "2.1.0"
    assert {r["partialFingerprints"]["topomapFingerprint/v1"] for r in results} == {
        f.fingerprint for f in report.findings
    }
    md = topomap(*base, "--format", "markdown").stdout
    assert md.startswith("## topomap CC6.6 findings") and "### Critical (2)" in md
    failed = topomap(*base, "--fail-on", "critical")
    assert failed.returncode == 3 and "2 active findings at or above critical" in failed.stderr
    assert topomap(*snaps[:1], "--fail-on", "critical").returncode == 2  # no verb


def test_cli_bad_policy_is_one_line(inputs: tuple[list[str], Path, Path], tmp_path: Path) -> None:
    snaps, policy, _ = inputs
    policy.write_text(scenario.POLICY_FILE.replace("ports: [443]", "ports: [https]"))
    result = topomap("analyze", *snaps, "--policy", str(policy))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"topomap: error: {policy}:5: /allowed_egress/0/ports/0: "
        "expected integer, found string 'https'"
    )


def _uncomment_entries(text: str) -> str:
    """What a reviewer does: uncomment the entries under allowed_egress and entry_points."""
    out, inside = [], False
    for line in text.splitlines():
        if line in ("allowed_egress:", "entry_points:"):
            inside = True
        elif inside and line.startswith("  # "):
            line = "  " + line[4:]
        else:
            inside = False
        out.append(line)
    return "\n".join(out) + "\n"


def test_init_policy_lists_every_peer_and_uncommented_allows_them(
    inputs: tuple[list[str], Path, Path], tmp_path: Path
) -> None:
    snaps, _, manifests = inputs
    written = topomap("init-policy", *snaps)
    assert written.returncode == 0, written.stderr
    text = written.stdout
    assert "#   pod 10.244.0.0/16" in text and "  # - id: api-stripe-com-tcp-443" in text
    draft = tmp_path / "draft.yaml"
    draft.write_text(text)
    before = topomap("analyze", *snaps, "--policy", str(draft), "--format", "json")
    assert before.returncode == 0, before.stderr
    rules_before = {f["rule"] for f in orjson.loads(before.stdout)["findings"]}
    assert {"TM-EXT-EGRESS", "TM-EXT-INGRESS", "TM-EXPOSURE"} <= rules_before
    accepted = tmp_path / "accepted.yaml"
    accepted.write_text(_uncomment_entries(text))
    after = topomap("analyze", *snaps, "--policy", str(accepted), "--format", "json")
    assert after.returncode == 0, after.stderr
    rules_after = {f["rule"] for f in orjson.loads(after.stdout)["findings"]}
    assert not rules_after & {"TM-EXT-EGRESS", "TM-EXT-INGRESS", "TM-EXPOSURE"}


def test_host_port_is_an_exposure_until_declared(tmp_path: Path) -> None:
    import dataclasses

    from topomap import model

    snaps = scenario.snapshots()
    cluster = snaps[0]
    web = next(p for p in cluster.pods if p.labels["app"] == "web")
    exposed = dataclasses.replace(
        web,
        containers=(
            model.PodContainer(name="web", ports=(model.ContainerPort(port=8443, host_port=443),)),
        ),
    )
    pods = tuple(exposed if p is web else p for p in cluster.pods)
    snaps[0] = dataclasses.replace(cluster, pods=pods)

    def exposures(text: str) -> set[str]:
        policy = policy_file.parse_policy_file(text, origin="t", known_rules=rules.RULE_IDS)
        ctx = context.build_context(snaps, policy, manifests=[scenario.write_policies(tmp_path)])
        return {
            f.message
            for f in analyze.analyze(ctx, today=TODAY)
            if f.rule == "TM-EXPOSURE" and f.details.get("exposure") == "hostPort"
        }

    assert exposures(scenario.POLICY_FILE) == {
        "shop/Deployment/web publishes hostPort 443/tcp (container port 8443) that is not a "
        "declared entry point"
    }
    declared = scenario.POLICY_FILE + (
        "entry_points:\n  - id: web-host\n    workload: shop/Deployment/web\n    ports: [443]\n"
        "    owner: web\n    reason: node-local TLS\n"
    )
    assert exposures(declared) == set()

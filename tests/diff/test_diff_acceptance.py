"""``topomap diff`` on two sample sets: exactly the real changes, none of the redeploy noise.

The current set (tests/diff/shop_sets.py) is the shop after a redeploy (new pod names,
container ids, pids and ephemeral ports everywhere) plus two real changes: one new external
peer for recommendationservice, and the frontend -> adservice edge gone.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from tests.diff import shop_sets
from topomap import findings, graph, model, views
from topomap.diff import compare, normalize, render

REPO = Path(__file__).resolve().parents[2]
FRONTEND = "workload:shop/Deployment/frontend"
ADSERVICE = "workload:shop/Deployment/adservice"
RECOMMENDATION = "workload:shop/Deployment/recommendationservice"
NEW_PEER = f"external:{shop_sets.NEW_PEER_NAME}"


def topomap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args], cwd=REPO, text=True, capture_output=True
    )


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sets")
    return (
        shop_sets.write(shop_sets.baseline(), root / "baseline"),
        shop_sets.write(shop_sets.current(), root / "current"),
    )


def test_the_current_set_really_differs_in_the_noise() -> None:
    """Guard: the redeploy changed every pod name, container id, pid and client port."""
    base, cur = shop_sets.baseline(), shop_sets.current()
    assert not {p.name for p in base["cluster.json"].pods} & {
        p.name for p in cur["cluster.json"].pods
    }
    for name in ("node-a.json", "node-b.json"):
        assert not {p.pid for p in base[name].processes} & {p.pid for p in cur[name].processes}
        assert not {c.id for c in base[name].containers} & {c.id for c in cur[name].containers}
        old = {(c.original.src, c.original.sport) for c in base[name].connections}
        assert not old & {(c.original.src, c.original.sport) for c in cur[name].connections}


def test_diff_reports_exactly_the_two_changes(sets: tuple[Path, Path]) -> None:
    base, cur = sets
    result = topomap("diff", str(base), str(cur))
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(result.stdout)
    summary = doc["topomap"]["summary"]
    assert summary == {
        "nodes_added": 0,
        "nodes_removed": 0,
        "edges_added": 1,
        "edges_removed": 1,
        "edges_changed": 0,
        "peers_added": 1,
        "peers_removed": 0,
        "peers_readdressed": 0,
        "findings_new": 0,
        "findings_resolved": 0,
        "findings_open": 0,
    }
    (added,) = doc["edges_added"]
    assert (added["source"]["id"], added["target"]["id"], added["services"]) == (
        RECOMMENDATION,
        NEW_PEER,
        ["tcp/443"],
    )
    (removed,) = doc["edges_removed"]
    assert (removed["source"]["id"], removed["target"]["id"], removed["services"]) == (
        FRONTEND,
        ADSERVICE,
        ["tcp/9555"],
    )
    (peer,) = doc["peers_added"]
    assert (peer["name"], peer["addresses"], peer["zone"], peer["talkers"]) == (
        shop_sets.NEW_PEER_NAME,
        [shop_sets.NEW_PEER_IP],
        "public",
        ["recommendationservice"],
    )


@pytest.mark.parametrize(
    "category, code", [("external", 3), ("edges", 3), ("findings", 0), ("edges,external", 3)]
)
def test_fail_on_new_exit_codes(sets: tuple[Path, Path], category: str, code: int) -> None:
    base, cur = sets
    result = topomap("diff", str(base), str(cur), "--fail-on-new", category, "-o", "/dev/null")
    assert result.returncode == code, result.stderr
    if code == 3:
        assert "--fail-on-new reached" in result.stderr


def test_same_set_twice_has_no_change_and_does_not_fail(sets: tuple[Path, Path]) -> None:
    base, _ = sets
    result = topomap("diff", str(base), str(base), "--format", "text", "--fail-on-new", "edges")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "no change"


def _side(snapshots: dict[str, model.Snapshot], view: str) -> normalize.Side:
    return normalize.normalize(graph.build_graph(snapshots.values()), view)


@pytest.mark.parametrize("view", ["pod", "workload", "service"])
def test_the_same_two_changes_at_other_views(view: str) -> None:
    diff = compare.compare(_side(shop_sets.baseline(), view), _side(shop_sets.current(), view))
    assert not (diff.nodes_added or diff.nodes_removed or diff.edges_changed)
    assert [(e.source.label, e.target.id) for e in diff.edges_added] == [
        (
            {"pod": "recommendationservice-*"}.get(view, "recommendationservice"),
            NEW_PEER,
        )
    ]
    assert len(diff.edges_removed) == 1 and diff.edges_removed[0].services == ("tcp/9555",)
    assert [p.id for p in diff.peers_added] == [NEW_PEER]


def test_text_is_a_review_grouped_by_namespace(sets: tuple[Path, Path]) -> None:
    base, cur = sets
    text = topomap("diff", str(base), str(cur), "--format", "text").stdout
    changes = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    assert changes == [
        "- frontend -> adservice tcp/9555",
        "+ recommendationservice -> telemetry.example.net (93.184.215.14) tcp/443"
        "   [new external peer, public]",
    ]
    assert "\nnamespace shop\n" in text
    markdown = topomap("diff", str(base), str(cur), "--format", "markdown").stdout
    assert "```diff\n- frontend -> adservice tcp/9555\n+ recommendationservice" in markdown
    assert "| edges | 1 | 1 | 0 |" in markdown


# --- findings, matched by fingerprint -------------------------------------------------------


def _finding(rule: str, severity: findings.Severity, source: str, target: str) -> findings.Finding:
    """A finding about a real edge of the sample graphs."""
    g = views.project(graph.build_graph(shop_sets.current().values()), "workload")
    if not g.has_edge(source, target):
        g = views.project(graph.build_graph(shop_sets.baseline().values()), "workload")
    (attrs,) = g.get_edge_data(source, target).values()
    edge = f"{source} -> {target} {attrs['protocol']}/{attrs['port']}"
    return findings.Finding(
        rule=rule,
        title=f"title of {rule}",
        severity=severity,
        controls=("CC6.6",),
        subject=(source, target),
        message=f"{source} talks to {target}",
        remediation="review it",
        fingerprint=findings.fingerprint(rule, source, target),
        evidence=(
            findings.Evidence(
                edge=edge,
                protocol=attrs["protocol"],
                port=attrs["port"],
                connections=attrs["connections"],
                first_seen=datetime.fromisoformat(attrs["first_seen"]),
                last_seen=datetime.fromisoformat(attrs["last_seen"]),
                observed_by=tuple(attrs["observed_by"]),
            ),
        ),
    )


def _report(path: Path, items: list[findings.Finding]) -> Path:
    meta = findings.ReportMeta(
        tool_version="test", window={"start": "2026-11-28T10:00:00Z", "end": "2026-11-28T10:05:00Z"}
    )
    path.write_bytes(findings.dumps_report(findings.make_report(items, meta)))
    return path


def test_findings_new_resolved_and_open_by_fingerprint(
    sets: tuple[Path, Path], tmp_path: Path
) -> None:
    tor = _finding("TM-EXT-EGRESS", "high", RECOMMENDATION, "external:185.220.101.47")
    metadata = _finding(
        "TM-METADATA", "critical", "workload:shop/Deployment/adservice", "external:169.254.169.254"
    )
    uncovered = _finding("TM-UNCOVERED", "medium", FRONTEND, ADSERVICE)
    new_peer = _finding(
        "TM-EXT-EGRESS", "high", RECOMMENDATION, f"external:{shop_sets.NEW_PEER_IP}"
    )
    before = _report(tmp_path / "before.json", [tor, metadata, uncovered])
    after = _report(tmp_path / "after.json", [tor, metadata, new_peer])
    base, cur = sets
    args = ["diff", str(base), str(cur), "--baseline-findings", str(before)]
    result = topomap(*args, "--current-findings", str(after), "--fail-on-new", "findings")
    assert result.returncode == 3, result.stderr
    doc = orjson.loads(result.stdout)
    assert [(c["status"], c["finding"]["fingerprint"]) for c in doc["findings"]] == [
        ("new", new_peer.fingerprint),
        ("resolved", uncovered.fingerprint),
        ("open", metadata.fingerprint),
        ("open", tor.fingerprint),
    ]
    assert "1 new active finding(s)" in result.stderr
    diff = compare.compare_findings([tor, metadata, uncovered], [tor, metadata, new_peer])
    text = render.render_text(
        compare.Diff(view="workload", findings_compared=True, findings=diff),
        compare.SideInfo(source="a", kind="graph"),
        compare.SideInfo(source="b", kind="graph"),
    )
    assert f"+ [high] TM-EXT-EGRESS {new_peer.message} ({new_peer.fingerprint[:12]})" in text
    assert f"- [medium] TM-UNCOVERED {uncovered.message}" in text
    assert "= 2 still open" in text


def test_findings_only_on_one_side_are_not_compared(
    sets: tuple[Path, Path], tmp_path: Path
) -> None:
    report = _report(tmp_path / "r.json", [_finding("TM-UNCOVERED", "low", FRONTEND, ADSERVICE)])
    base, cur = sets
    result = topomap("diff", str(base), str(cur), "--current-findings", str(report))
    doc = orjson.loads(result.stdout)
    assert doc["findings_compared"] is False and doc["findings"] == []
    assert (
        "findings not compared"
        in topomap(
            "diff", str(base), str(cur), "--current-findings", str(report), "--format", "text"
        ).stdout
    )

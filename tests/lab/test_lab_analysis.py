"""CC6.6 analysis of the lab (host collectors + stand-in Kubernetes API, real traffic) with
least-privilege policies applied to its pods: exactly the planted problems, nothing else.

Planted (see tests/lab/kubeobjects.py): cart -> 203.0.113.10 is not an allowed egress; data/dns
has no policy at all (so cart -> dns is uncovered and dns is unprotected both ways); the
short-lived cart -> frontend:9090 is denied by frontend's policy but flows (the lab does not
enforce policies); cart reaches the metadata address; shop/frontend-nodeport is an undeclared
NodePort.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.lab.conftest import REPO, Collected
from tests.lab.netlab import SHORT_LIVED_PORT

EXPECTED = {
    ("TM-EXT-EGRESS", "workload:shop/Deployment/cart -> external:203.0.113.10 tcp/80"),
    ("TM-UNCOVERED", "workload:shop/Deployment/cart -> workload:data/DaemonSet/dns udp/5353"),
    (
        "TM-POLICY-BYPASS",
        "workload:shop/Deployment/cart -> workload:shop/Deployment/frontend "
        f"tcp/{SHORT_LIVED_PORT}",
    ),
    ("TM-METADATA", "workload:shop/Deployment/cart -> external:169.254.169.254 tcp/80"),
    ("TM-EXPOSURE", "service:shop/frontend-nodeport"),
    ("TM-UNPROTECTED", "workload:data/DaemonSet/dns"),  # ingress and egress: the same plant
}


def test_the_analysis_reports_exactly_the_planted_problems(
    collected: Collected, tmp_path: Path
) -> None:
    policy = tmp_path / "topomap.yaml"
    policy.write_text("version: 1\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "topomap",
            "analyze",
            str(collected.host),
            str(collected.cluster),
            "--policy",
            str(policy),
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = orjson.loads(result.stdout)
    assert result.returncode == 3, result.stderr  # the bypass is critical
    assert report["topomap"]["notes"] == []
    found = {(f["rule"], f["subject"][0]) for f in report["findings"]}
    assert found == EXPECTED
    assert len(report["findings"]) == 7
    bypass = next(f for f in report["findings"] if f["rule"] == "TM-POLICY-BYPASS")
    assert bypass["details"]["ingress"] == "NetworkPolicy shop/frontend"
    assert bypass["details"]["egress"] == "NetworkPolicy shop/cart"
    assert bypass["evidence"][0]["observed_by"] == ["conntrack@lab-node", "procnet@lab-node"]

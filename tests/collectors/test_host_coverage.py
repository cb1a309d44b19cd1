"""Each host collector's coverage names only its own blind spots (run as an unprivileged user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import json
from datetime import UTC, datetime
from collectors import base
from collectors.host import CgroupCollector, ProcnetCollector
got = base.run_collectors([ProcnetCollector(), CgroupCollector()], host="h",
                          started=datetime.now(UTC))
print(json.dumps({r.name: [r.status, r.skipped] for r in got.runs}))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"),
    reason="needs root and setpriv (util-linux) to run the collectors as another user",
)
def test_the_cgroup_collector_does_not_report_what_only_procnet_reads() -> None:
    """As ``nobody``, root's processes' exe, fd and ns/net links are unreadable: procnet,
    which needs them, says so; the cgroup collector reads only /proc/PID/cgroup (world-readable)
    and is complete."""
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    status, skipped = runs["procnet"]
    assert status == "partial"
    assert any(reason.endswith("permission denied") for reason in skipped), skipped
    status, skipped = runs["cgroup"]
    assert not any(reason.endswith("permission denied") for reason in skipped), skipped

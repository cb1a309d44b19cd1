"""Fixtures of the network-namespace lab: one running lab and one collection per session.

``collected`` runs the real collectors against the running lab: ``topomap collect`` for
procnet (the lab's pod namespaces), cgroup and conntrack (the node namespace, with events)
over a 4 s window in which a short-lived connection opens, closes and leaves the conntrack
table; and ``topomap collect --k8s`` against the stand-in API server serving the lab's
Kubernetes objects (:mod:`tests.lab.kubeobjects`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kubeapi import server
from tests.lab import kubeobjects
from tests.lab.netlab import NODE_NAME, Lab, running_lab, unavailable

REPO = Path(__file__).resolve().parents[2]
WINDOW = 4.0


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with running_lab() as running:
        yield running


@dataclass(frozen=True)
class Collected:
    host: Path
    cluster: Path
    short_lived_port: int
    stderr: str
    pids: dict[str, int]


def _topomap(*args: str) -> list[str]:
    return [sys.executable, "-m", "topomap", *args]


@pytest.fixture(scope="session")
def collected(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Collected:
    out = tmp_path_factory.mktemp("lab")
    host = out / "lab-node.json"
    pod_netns = [arg for pod in lab.pods for arg in ("--procnet-netns", lab.pod_netns(pod))]
    collect = subprocess.Popen(
        _topomap(
            "collect",
            "--host-name",
            NODE_NAME,
            "--conntrack-netns",
            lab.node,
            *pod_netns,
            "--duration",
            f"{WINDOW}s",
            "--interval",
            "10s",
            "-o",
            str(host),
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Polls run at the start and at the end of the window (the interval is longer than the
    # window): a connection made and removed from the table in between is seen by events only.
    time.sleep(WINDOW / 2)
    port = lab.short_lived_connection()
    _, stderr = collect.communicate(timeout=60)
    assert collect.returncode == 0, stderr
    cluster = out / "cluster.json"
    with server.serve(kubeobjects.resources(lab)) as api:
        kubeconfig = api.write_kubeconfig(out / "kubeconfig")
        result = subprocess.run(
            _topomap(
                "collect",
                "--k8s",
                "--kubeconfig",
                str(kubeconfig),
                "--no-procnet",
                "--no-cgroup",
                "--no-conntrack",
                "-q",
                "-o",
                str(cluster),
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    pids = {pod.name.split("-")[0]: lab.processes[pod.name].pid for pod in lab.pods}
    return Collected(host, cluster, port, stderr, pids)

"""`topomap collect` on this machine: a valid snapshot of its own sockets and processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.proc_scan import scan_processes
from topomap import snapshot_io

REPO = Path(__file__).resolve().parents[2]


def collect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", "collect", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_collect_with_duration_writes_this_machines_sockets_and_processes(tmp_path: Path) -> None:
    """The listener this test opens is in the snapshot, owned by this very process, and the
    connection made to it is seen from both ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    me = next(p for p in scan_processes().processes if p.pid == os.getpid())
    out = tmp_path / "snap.json"
    try:
        result = collect("--duration", "1s", "--interval", "0.3s", "-o", str(out))
    finally:
        for s in (client, accepted, server):
            s.close()
    assert result.returncode == 0, result.stderr
    snap = snapshot_io.load_snapshot(out).snapshot  # validated against the schema on load
    assert snap.source == "host" and snap.observer == socket.gethostname()
    assert snap.window.end > snap.window.start
    assert {run.name for run in snap.collectors} == {"procnet", "cgroup", "conntrack"}
    assert "procnet 1.0.0: " in result.stderr and " processes" in result.stderr

    mine = [p for p in snap.processes if p.pid == os.getpid()]
    assert [(p.start_ticks, p.comm, p.netns) for p in mine] == [(me.start_ticks, me.comm, me.netns)]
    listeners = [li for li in snap.listeners if li.port == port and li.protocol == "tcp"]
    assert [(li.ip, li.process and li.process.pid) for li in listeners] == [
        ("127.0.0.1", os.getpid())
    ]
    conns = [
        c
        for c in snap.connections
        if c.protocol == "tcp" and port in (c.original.sport, c.original.dport)
    ]
    # Both sockets of the loopback connection, each the client->server tuple, each with its
    # side: one poll or several, the same socket folds into one connection.
    assert sorted((c.original.dport, c.process_side, c.initiator) for c in conns) == [
        (port, "dst", "src"),
        (port, "src", "src"),
    ]
    assert all(c.first_seen <= c.last_seen for c in conns)


def test_collect_one_shot_to_stdout_and_choosing_collectors() -> None:
    result = collect("--no-cgroup", "--no-conntrack", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    snap = snapshot_io.snapshot_from_document(
        __import__("orjson").loads(result.stdout), origin="stdout"
    )
    assert [run.name for run in snap.collectors] == ["procnet"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--duration", "soon"), "'soon' is not a duration"),
        (("--no-procnet", "--no-cgroup", "--no-conntrack"), "no collector chosen"),
        (("--conntrack-netns", "x", "--conntrack-pid", "1"), "not both"),
    ],
)
def test_bad_usage_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    result = collect(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_import_saved_conntrack_text_counts_bad_lines(tmp_path: Path) -> None:
    saved = tmp_path / "ct.txt"
    saved.write_text(
        "tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40001 dport=80 "
        "src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40001 [ASSURED] mark=0 use=1\n"
        "tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40002 dpo\n"
        "udp      17 29 src=10.244.0.5 dst=10.96.0.53 sport=5353 dport=53 "
        "src=10.244.1.9 dst=10.244.0.5 sport=53 dport=5353 mark=0 use=1\n"
        "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n"
    )
    out = tmp_path / "snap.json"
    result = collect(
        "--no-procnet",
        "--no-cgroup",
        "--no-conntrack",
        "--conntrack-file",
        str(saved),
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    snap = snapshot_io.load_snapshot(out).snapshot
    (run,) = snap.collectors
    assert (run.name, run.status, run.counts, run.skipped) == (
        "conntrack-file",
        "partial",
        {"connections": 2},
        {"malformed": 1},
    )
    assert any(f"{saved}" in w and "line 2" in w for w in run.warnings), run.warnings
    assert sorted(
        (c.original.dport, c.reply.src if c.reply else None) for c in snap.connections
    ) == [
        (53, "10.244.1.9"),
        (80, "10.244.1.7"),
    ]

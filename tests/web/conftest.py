"""Real servers for the map tests: ``topomap serve`` in a child process on a free loopback
port, and one headless Debian Chromium per session driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web import mapdata

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    banner: str

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    command: Sequence[str] = ("-m", "topomap", "serve"),
) -> Server:
    """Run ``python <command> <args> --host H --port P`` and wait for its URL line."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *command, *args, "--host", host, "--port", str(port)],
        cwd=mapdata.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {''.join(lines)}")
        lines.append(line)
        if "http://" in line:
            break
    url = f"http://127.0.0.1:{port}/"
    while time.monotonic() < deadline:  # the URL is printed just before the socket opens
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return Server(url, proc, "".join(lines))
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not listen on {port}: {''.join(lines)}")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Findings report, baseline graph JSON and the XSS snapshot, written once."""
    where = tmp_path_factory.mktemp("map-inputs")
    g = mapdata.shop()
    paths = {
        "findings": where / "findings.json",
        "baseline": where / "baseline.json",
        "xss": where / "xss.json",
    }
    mapdata.write_findings(g, paths["findings"])
    mapdata.write_baseline(g, paths["baseline"])
    mapdata.xss_snapshot(paths["xss"])
    return paths


@pytest.fixture(scope="session")
def sample_server() -> Iterator[Server]:
    """The map of samples/shop alone, as ``topomap demo`` shows it."""
    server = start([str(mapdata.SAMPLES)])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rich_server(inputs: dict[str, Path]) -> Iterator[Server]:
    """samples/shop plus the XSS pod, with findings and a baseline."""
    server = start(
        [
            str(mapdata.SAMPLES),
            str(inputs["xss"]),
            "--findings",
            str(inputs["findings"]),
            "--baseline",
            str(inputs["baseline"]),
        ]
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redeploy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tests/diff/shop_sets.py: the shop as a process-view graph JSON (the baseline) and the
    redeployed shop (new pod names, container ids, pids and client ports, one new and one gone
    edge) as snapshots."""
    from tests.diff import shop_sets
    from topomap import export, graph

    where = tmp_path_factory.mktemp("redeploy")
    baseline = where / "baseline.json"
    baseline.write_bytes(export.dumps_graph_json(graph.build_graph(shop_sets.baseline().values())))
    return {"baseline": baseline, "current": shop_sets.write(shop_sets.current(), where / "now")}


@pytest.fixture(scope="session")
def redeploy_server(redeploy: dict[str, Path]) -> Iterator[Server]:
    """The redeployed shop at the pod view, with the diff overlay against the shop."""
    server = start(
        [str(redeploy["current"]), "--baseline", str(redeploy["baseline"]), "--view", "pod"]
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()

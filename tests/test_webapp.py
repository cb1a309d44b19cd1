"""The Dash map served in-process and through app.py: layout and callbacks over real HTTP.

Browser tests (Playwright with Debian's Chromium) arrive with the full map.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.test_views import shop
from topomap import webapp

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client() -> Any:
    return webapp.create_app(shop(), view="workload").server.test_client()


def update(
    client: Any, output: str, outputs: Any, inputs: list[dict[str, Any]], changed: str
) -> dict[str, Any]:
    response = client.post(
        "/_dash-update-component",
        json={"output": output, "outputs": outputs, "inputs": inputs, "changedPropIds": [changed]},
    )
    assert response.status_code == 200, response.data
    result: dict[str, Any] = orjson.loads(response.data)["response"]
    return result


def test_page_and_layout(client: Any) -> None:
    assert client.get("/").status_code == 200
    layout = orjson.loads(client.get("/_dash-layout").data)
    assert "workload:shop/Deployment/web" in str(layout)  # the initial map, at workload view


def test_view_switch_callback(client: Any) -> None:
    result = update(
        client,
        "..map.elements...summary.children..",
        [{"id": "map", "property": "elements"}, {"id": "summary", "property": "children"}],
        [{"id": "view", "property": "value", "value": "namespace"}],
        "view.value",
    )
    ids = {e["data"]["id"] for e in result["map"]["elements"]}
    assert "namespace:shop" in ids and "pod:shop/web-1" not in ids
    assert result["summary"]["children"].startswith("view namespace:")


def tap(client: Any, node: Any, edge: Any, changed: str) -> str:
    result = update(
        client,
        "details.children",
        {"id": "details", "property": "children"},
        [
            {"id": "map", "property": "tapNodeData", "value": node},
            {"id": "map", "property": "tapEdgeData", "value": edge},
            {"id": "view", "property": "value", "value": "pod"},
        ],
        changed,
    )
    text: str = result["details"]["children"]
    return text


def test_node_and_edge_details(client: Any) -> None:
    details = orjson.loads(tap(client, {"id": "pod:shop/web-2"}, None, "map.tapNodeData"))
    assert details["kind"] == "pod" and details["ips"] == ["10.244.0.6"]
    edge = {"id": "pod:shop/web-2->pod:shop/cart-1#tcp"}
    details = orjson.loads(tap(client, {"id": "pod:shop/web-2"}, edge, "map.tapEdgeData"))
    assert details["ports"] == [7070, 9090]
    assert "not on the pod view" in tap(client, {"id": "nope"}, None, "map.tapNodeData")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_app_py_serves_the_samples_on_loopback() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout") as r:
                    body = str(orjson.loads(r.read()))
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "app.py did not start within 60 s"
                time.sleep(0.3)
        assert "workload:shop/Deployment/frontend" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_app_py_refuses_non_loopback_without_auth() -> None:
    result = subprocess.run(
        [sys.executable, "app.py", "--host", "0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "only loopback" in result.stderr

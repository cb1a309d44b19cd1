"""The served map over real HTTP: entry points, authentication beyond loopback, and that no
request reads a file outside the given inputs."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.web import mapdata
from tests.web.conftest import Server, get, start
from topomap import views
from topomap.web import auth

TOKEN = "s3cret-token-for-the-test"


def layout_ids(server: Server, headers: dict[str, str] | None = None) -> str:
    status, body, _ = get(server.url + "_dash-layout", headers)
    assert status == 200, body
    return str(orjson.loads(body))


def test_all_interfaces_need_a_token_and_work_with_it() -> None:
    server = start([str(mapdata.SAMPLES)], host="0.0.0.0", env={"TOPOMAP_TOKEN": TOKEN})
    try:
        assert "authentication: token" in server.banner
        for path in ("", "_dash-layout", "_dash-dependencies"):
            status, body, _ = get(server.url + path)
            assert status == 401 and b"workload:" not in body, path
        assert get(server.url, {"Authorization": "Bearer wrong"})[0] == 401
        assert get(server.url + "?token=wrong")[0] == 401
        assert "workload:shop/Deployment/frontend" in layout_ids(
            server, {"Authorization": f"Bearer {TOKEN}"}
        )
        status, _, headers = get(server.url + f"?token={TOKEN}")
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"{auth.COOKIE}={TOKEN};") and "HttpOnly" in cookie
        assert get(server.url + "_dash-layout", {"Cookie": f"{auth.COOKIE}={TOKEN}"})[0] == 200
    finally:
        server.stop()


def test_basic_auth_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "basic"
    secret.write_text("auditor:pa55word\n")
    server = start([str(mapdata.SAMPLES), "--basic-auth-file", str(secret)], host="0.0.0.0")
    try:
        status, _, headers = get(server.url)
        assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="topomap"'
        good = base64.b64encode(b"auditor:pa55word").decode()
        bad = base64.b64encode(b"auditor:nope").decode()
        assert get(server.url, {"Authorization": f"Basic {bad}"})[0] == 401
        assert get(server.url, {"Authorization": f"Basic {good}"})[0] == 200
    finally:
        server.stop()


def test_beyond_loopback_without_credentials_is_refused() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TOPOMAP_")}
    result = subprocess.run(
        [sys.executable, "-m", "topomap", "serve", str(mapdata.SAMPLES), "--host", "0.0.0.0"],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert "serving beyond loopback needs authentication" in result.stderr


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.3.4.5", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("example.org", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert auth.is_loopback(host) is loopback
    assert (auth.refusal(host, auth.Credentials()) is None) is loopback
    assert auth.refusal(host, auth.Credentials(token="t")) is None


@pytest.mark.parametrize(
    "path",
    [
        "assets/../pyproject.toml",
        "assets/..%2f..%2fpyproject.toml",
        "assets/%2e%2e/%2e%2e/pyproject.toml",
        "_dash-component-suites/dash/../../../../pyproject.toml",
        "_dash-component-suites/dash/..%2f..%2f..%2fsetup.py",
        "_dash-component-suites/dash_cytoscape/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "_dash-component-suites/topomap/web/app.py",
        "..%2f..%2fetc%2fpasswd",
        "samples/shop/cluster.json",
        "pyproject.toml",
    ],
)
def test_no_request_reads_files(sample_server: Server, path: str) -> None:
    status, body, _ = get(sample_server.url + path)
    for secret in (b"[build-system]", b"root:x:0:0", b"snapshot_id", b"create_app("):
        assert secret not in body, (path, status)


def test_app_py_and_demo_serve_the_samples() -> None:
    workload = views.project(mapdata.shop(), "workload")
    for command in (("app.py",), ("-m", "topomap", "demo")):
        server = start([], command=command)
        try:
            ids = layout_ids(server)
            assert all(node in ids for node in workload)
            if "demo" in command:
                assert "topomap demo: 3 snapshots" in server.banner
            assert "(Ctrl-C to stop)" in server.banner
        finally:
            server.stop()


def test_serve_a_graph_json_and_refuse_mixing(tmp_path: Path) -> None:
    from topomap import export

    path = tmp_path / "pods.json"
    path.write_bytes(export.dumps_graph_json(views.project(mapdata.shop(), "pod")))
    server = start([str(path), "--view", "pod"])
    try:
        ids = layout_ids(server)
        assert "pod:shop/" in ids and "'value': 'pod'" in ids
        assert "'label': 'process'" not in ids  # a pod graph has no process view
    finally:
        server.stop()
    result = subprocess.run(
        [sys.executable, "-m", "topomap", "serve", str(path), str(mapdata.SAMPLES)],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"topomap: error: {path}: a graph JSON file cannot be merged with other inputs; "
        "give one graph JSON file, or snapshots"
    )


def test_the_committed_screenshot_is_small() -> None:
    shot = mapdata.REPO / "docs" / "img" / "map.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size < 1_000_000


def map_elements(server: Server) -> list[dict[str, object]]:
    """The elements the page's map opens with, from the served layout."""
    status, body, _ = get(server.url + "_dash-layout")
    assert status == 200, body
    stack: list[object] = [orjson.loads(body)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            props = item.get("props")
            if isinstance(props, dict) and props.get("id") == "map":
                elements: list[dict[str, object]] = props["elements"]
                return elements
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise AssertionError("no map in the layout")


def test_serve_a_store_window(tmp_path: Path) -> None:
    from topomap.store import query, schema
    from topomap.web import scene as sc

    store = tmp_path / "history.sqlite3"
    ingest = subprocess.run(
        [sys.executable, "-m", "topomap", "ingest", "--store", str(store)]
        + [str(mapdata.SAMPLES / name) for name in ("cluster.json", "node-a.json")],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ingest.returncode == 0, ingest.stderr
    conn = schema.connect(store, create=False)
    try:
        stored = query.window_graph(conn, None, None)
    finally:
        conn.close()
    window = stored.graph["window"]
    assert stored.number_of_edges() > 0
    day = str(window["start"])[:10]
    for spec in (f"store:{store}", f"store:{store}@{day}.."):
        for command in (("-m", "topomap", "serve"), ("app.py",)):
            server = start([spec], command=command)
            try:
                assert (
                    f"map of store {store} ({window['start']} .. {window['end']}; no byte counts)"
                    in server.banner
                )
                elements = map_elements(server)
                nodes = {
                    str(e["data"]["id"])  # type: ignore[index]
                    for e in elements
                    if "source" not in e["data"] and e["data"].get("kind") != "box"  # type: ignore[operator,union-attr]
                }
                edges = {str(e["data"]["id"]) for e in elements if "source" in e["data"]}  # type: ignore[index,operator]
                assert nodes == set(stored)
                assert edges == {sc.edge_id(u, v, k) for u, v, k in stored.edges(keys=True)}
            finally:
                server.stop()
    empty = subprocess.run(
        [sys.executable, "-m", "topomap", "serve", f"store:{store}@2001-01-01..2001-01-02"],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert empty.returncode == 1
    assert empty.stderr.strip() == (
        f"topomap: error: store:{store}@2001-01-01..2001-01-02: "
        "the store holds no snapshot in this window"
    )


def test_an_approved_baseline_file_is_a_baseline(tmp_path: Path) -> None:
    approved = tmp_path / "baseline.json"
    made = subprocess.run(
        [sys.executable, "-m", "topomap", "baseline", "approve", str(mapdata.SAMPLES)]
        + ["--by", "Ann Auditor", "--note", "Q4 review", "-o", str(approved)],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    server = start([str(mapdata.SAMPLES), "--baseline", str(approved)])
    try:
        ids = layout_ids(server)
        assert f"diff overlay against {approved}" in ids
        assert "'disabled': False" in ids
    finally:
        server.stop()
    document = orjson.loads(approved.read_bytes())
    document["topomap"]["note"] = "changed"
    approved.write_bytes(orjson.dumps(document))
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "topomap",
            "serve",
            str(mapdata.SAMPLES),
            "--baseline",
            str(approved),
        ],
        cwd=mapdata.REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"topomap: error: {approved}: ")

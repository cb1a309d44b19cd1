"""The topomap command end to end, as a user runs it: exit codes, one-line errors, outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson
import pytest

from tests.test_snapshot_io import rich_snapshot
from topomap import model, snapshot_io

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "shop"


def topomap(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def snap_file(tmp_path: Path) -> Path:
    path = tmp_path / "node-a.json"
    snapshot_io.dump_snapshot(rich_snapshot(), path)
    return path


def test_graph_twice_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "g1.json", tmp_path / "g2.json"
    for out in (first, second):
        result = topomap("graph", "samples/shop", "--view", "pod", "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
    assert first.read_bytes() == second.read_bytes()
    document = orjson.loads(first.read_bytes())
    jsonschema.validate(document, orjson.loads((REPO / "docs" / "graph.schema.json").read_bytes()))
    assert document["topomap"]["view"] == "pod"
    assert [i["path"] for i in document["topomap"]["inputs"]] == sorted(
        f"samples/shop/{p.name}" for p in SAMPLES.glob("*.json")
    )
    check = topomap("validate", str(first))
    assert check.returncode == 0 and "content sha256 verified" in check.stdout


def test_graph_json_to_stdout_and_text_summary(snap_file: Path) -> None:
    result = topomap("graph", str(snap_file))
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["topomap"]["view"] == "process"
    text = topomap("graph", str(snap_file), "--format", "text", "--view", "workload")
    assert text.returncode == 0
    assert text.stdout.startswith("view workload:")
    assert (
        "coverage: procnet@node-a partial: netns 4026532999 unreadable; 2 process exited"
        in text.stdout
    )


def test_demo_summarises_the_samples() -> None:
    result = topomap("demo", "--summary")
    assert result.returncode == 0, result.stderr
    assert "topomap demo: 3 snapshots" in result.stdout
    assert "api.stripe.com" in result.stdout
    assert "185.220.101.47" in result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_truncated_snapshot(snap_file: Path) -> None:
    snap_file.write_bytes(snap_file.read_bytes()[:300])
    line = one_line_error(topomap("graph", str(snap_file)))
    assert line.startswith(f"topomap: error: {snap_file}: invalid JSON at line 1 column")


def test_wrong_type_in_one_field(snap_file: Path) -> None:
    document = orjson.loads(snap_file.read_bytes())
    document["connections"][0]["packets_orig"] = "many"
    snap_file.write_bytes(orjson.dumps(document))
    line = one_line_error(topomap("graph", str(snap_file)))
    assert line == (
        f"topomap: error: {snap_file}: /connections/0/packets_orig: expected "
        "integer, found string 'many'"
    )


def test_newer_schema_version(snap_file: Path) -> None:
    document = orjson.loads(snap_file.read_bytes())
    document["schema_version"] = model.SCHEMA_VERSION + 1
    snap_file.write_bytes(orjson.dumps(document))
    line = one_line_error(topomap("graph", str(snap_file)))
    assert str(snap_file) in line and "upgrade topomap" in line


def test_verbose_shows_the_traceback(snap_file: Path) -> None:
    snap_file.write_bytes(b"{")
    result = topomap("-v", "graph", str(snap_file))
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_error_never_replaces_a_good_output(snap_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    assert topomap("graph", str(snap_file), "-o", str(out)).returncode == 0
    good = out.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[]")
    one_line_error(topomap("graph", str(snap_file), str(bad), "-o", str(out)))
    assert out.read_bytes() == good


def test_missing_input_and_empty_directory(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(topomap("graph", str(tmp_path / "nope.json")))
    assert "holds no *.json" in one_line_error(topomap("graph", str(tmp_path)))


def test_unwritable_output(snap_file: Path, tmp_path: Path) -> None:
    line = one_line_error(topomap("graph", str(snap_file), "-o", str(tmp_path / "no/dir/g.json")))
    assert "cannot write" in line


@pytest.mark.parametrize("args", [["graph"], ["graph", "x.json", "--view", "rack"], ["nope"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert topomap(*args).returncode == 2


@pytest.mark.parametrize("command", ["graph", "demo", "validate", "schema"])
def test_every_command_has_help(command: str) -> None:
    result = topomap(command, "--help")
    assert result.returncode == 0
    assert "Usage: topomap" in result.stdout
    assert len(result.stdout.splitlines()) > 4


def test_console_script_and_version() -> None:
    result = subprocess.run(["topomap", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("topomap, version ")


def test_validate_snapshot(snap_file: Path) -> None:
    result = topomap("validate", str(snap_file))
    assert result.returncode == 0
    assert "ok: snapshot node-a-0 (host, node-a), 1 connections" in result.stdout


def test_every_command_is_documented() -> None:
    from topomap.cli import cli

    documented = (REPO / "docs" / "cli.md").read_text()
    for name in cli.commands:
        assert f"## `topomap {name}" in documented, f"docs/cli.md lacks `topomap {name}`"
        assert f"### `topomap {name}" in (REPO / "README.md").read_text(), name

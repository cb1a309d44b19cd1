"""`topomap policy list` end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.policy import corpus
from tests.policy.test_engine import MANIFESTS


def topomap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "topomap", *args], capture_output=True, text=True, timeout=120
    )


def test_list_matches_netpol_analyzer_byte_for_byte() -> None:
    corpus.require_corpus()
    result = topomap("policy", "list", str(corpus.ROOT / "tests" / "acs-security-demos"))
    assert result.returncode == 0, result.stderr
    expected = corpus.ROOT / "test_outputs/connlist/acs-security-demos_connlist_output.txt"
    assert result.stdout == expected.read_text().rstrip("\n") + "\n"


def test_focus_workload(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    result = topomap("policy", "list", str(tmp_path), "--focus-workload", "shop/db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "shop/db[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections",
        "shop/db[Pod] => other/free[Pod] : SCTP 1-65535,TCP 1-22,24-65535,UDP 1-65535",
        "shop/db[Pod] => shop/web[Pod] : SCTP 1-65535,TCP 1-22,24-65535,UDP 1-65535",
        "shop/web[Pod] => shop/db[Pod] : TCP 5432",
    ]


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "dot"])
def test_formats(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    result = topomap("policy", "list", str(tmp_path), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert "shop/web[Pod]" in result.stdout and "TCP 5432" in result.stdout


def test_focus_conn(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    result = topomap("policy", "list", str(tmp_path), "--focus-conn", "tcp-5432")
    assert result.stdout.splitlines()[0] == "Permitted connections on TCP 5432:"
    assert "shop/web[Pod] => shop/db[Pod]" in result.stdout.splitlines()
    assert "other/free[Pod] => shop/db[Pod]" not in result.stdout


def test_invalid_policy_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    bad = MANIFESTS.replace("ports: [{port: pg}]", "ports: [{port: pg, protocol: TCPX}]")
    (tmp_path / "m.yaml").write_text(bad)
    result = topomap("policy", "list", str(tmp_path))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "m.yaml" in line and "NetworkPolicy shop/db-from-web" in line
    assert "spec.ingress[0].ports[0].protocol" in line


@pytest.mark.parametrize("args", [["--focus-direction", "ingress"], ["--focus-conn", "tcp80"]])
def test_usage_errors(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    assert topomap("policy", "list", str(tmp_path), *args).returncode == 2


CLI_DIFF = [c for c in corpus.cases("cli_diff") if corpus.MULTI_NETWORK not in c["category"]]


@corpus.parametrize(CLI_DIFF)
def test_policy_diff_command_matches_netpol_analyzer_cli(case: dict[str, str]) -> None:
    corpus.require_corpus()
    result = topomap(
        "policy",
        "diff",
        str(corpus.ROOT / case["dir1"]),
        str(corpus.ROOT / case["dir2"]),
        "--format",
        case["format"],
    )
    assert result.returncode == 0, result.stderr
    assert corpus.squash(result.stdout) == corpus.squash(corpus.read_expected(case))


def test_policy_diff_of_identical_dirs_is_empty(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    result = topomap("policy", "diff", str(tmp_path), str(tmp_path))
    assert (result.returncode, result.stdout) == (0, "")


def test_list_explain_matches_netpol_analyzer() -> None:
    corpus.require_corpus()
    case = next(
        c
        for c in corpus.cases("explain")
        if c["input_dir"] == "tests/acs-security-demos" and c.get("flags") == {"explain": True}
    )
    result = topomap("policy", "list", str(corpus.ROOT / case["input_dir"]), "--explain")
    assert result.returncode == 0, result.stderr
    assert corpus.squash(result.stdout) == corpus.squash(corpus.read_expected(case))


def test_explain_uncovered_section(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    result = topomap("policy", "list", str(tmp_path), "--explain", "--explain-only", "allow")
    assert result.returncode == 0, result.stderr
    assert "NetworkPolicy 'shop/db-from-web'" in result.stdout


def test_list_exposure_matches_netpol_analyzer() -> None:
    corpus.require_corpus()
    case = next(
        c
        for c in corpus.cases("connlist")
        if c.get("flags") == {"exposure": True}
        and c["format"] == "txt"
        and c["input_dir"] == "tests/exposure_test_conn_to_all_pods_in_a_new_ns"
    )
    result = topomap("policy", "list", str(corpus.ROOT / case["input_dir"]), "--exposure")
    assert result.returncode == 0, result.stderr
    assert corpus.squash(result.stdout) == corpus.squash(corpus.read_expected(case))

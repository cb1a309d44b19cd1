"""Which reader whole conntrack texts get: the C module when built, Python when asked for."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

CODE = "from collectors.conntrack_text import text_parser; print(text_parser())"


def which(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TOPOMAP_PURE_PYTHON"}
    command = [sys.executable, "-c", CODE]
    done = subprocess.run(command, env={**base, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_pure_python_can_be_chosen() -> None:
    assert which(TOPOMAP_PURE_PYTHON="1") == "Python"


def test_the_c_parser_is_used_when_built() -> None:
    if importlib.util.find_spec("collectors._conntrack_speedups") is None:
        if os.environ.get("TOPOMAP_REQUIRE_C_PARSER"):
            pytest.fail("TOPOMAP_REQUIRE_C_PARSER is set, but the C parser was not built")
        pytest.skip("the C parser is not built (no C compiler or Python headers at install)")
    assert which() == "C"

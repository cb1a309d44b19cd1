"""The dependency picture in DESIGN.md, enforced: who may import what, and module docstrings.

import-linter (``lint-imports``, run by the test command) checks the same contracts on the
import graph; this test also covers modules added later, which a contract list could miss.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("dash", "dash_cytoscape", "plotly", "scapy", "kubernetes")
#: Modules allowed to import the heavy stacks: only the map's page modules import dash.
WEB_MODULES = {f"topomap/web/{name}.py" for name in ("app", "page", "callbacks", "panels")}
#: Only the CLI (its collect verb included) wires collectors in.
CLI_MODULES = {"topomap/cli.py", "topomap/collect_cli.py"}


def modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", modules("topomap"), ids=lambda p: p.name)
def test_core_never_imports_collectors_or_heavy_stacks(path: Path) -> None:
    rel = path.relative_to(REPO).as_posix()
    names = imported(path)
    if rel not in CLI_MODULES:
        assert not any(n == "collectors" or n.startswith("collectors.") for n in names), rel
    if rel not in WEB_MODULES:
        assert not any(n.split(".")[0] in HEAVY for n in names), rel


@pytest.mark.parametrize("path", modules("collectors"), ids=lambda p: p.name)
def test_collectors_import_only_model_and_errors(path: Path) -> None:
    # topomap.kube: the one Kubernetes object converter, shared with the offline reader
    allowed = {"topomap", "topomap.model", "topomap.errors", "topomap.kube"}
    for name in imported(path):
        if name == "topomap" or name.startswith("topomap."):
            assert name in allowed or name.rsplit(".", 1)[0] in allowed, (path, name)


@pytest.mark.parametrize(
    "path", [*modules("topomap"), *modules("collectors"), REPO / "app.py"], ids=lambda p: p.name
)
def test_every_module_says_what_it_owns(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring) > 40, f"{path} needs a module docstring"


def test_cli_does_not_load_heavy_stacks() -> None:
    """`topomap graph` and friends start fast: dash, scapy and kubernetes stay unloaded."""
    code = (
        "import sys, topomap.cli, topomap.graph, topomap.export, topomap.views,"
        " topomap.web.scene, topomap.web.query, topomap.web.details, topomap.web.auth;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout

"""One curation pipeline: modules share public names only, both writers are one sink."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    [
        *(ROOT / "galcore" / "curation").glob("*.py"),
        *(ROOT / "store").glob("*catalog*.py"),
        ROOT / "store" / "_swap.py",
        ROOT / "store" / "workspace.py",
        ROOT / "galcore" / "cli" / "curate.py",
    ]
)


def private_imports(path):
    """Names starting with "_" that a module imports from the project's other modules."""
    tree = ast.parse(path.read_text())
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        if node.module.split(".")[0] in ("galcore", "store", "dashboard")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_imports_another_modules_private_names(path):
    assert private_imports(path) == []


def test_an_addition_does_not_reach_into_the_full_curation():
    tree = ast.parse((ROOT / "galcore" / "curation" / "_append.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "galcore.curation._curate" not in imported
    assert "galcore.curation._pipeline" in imported

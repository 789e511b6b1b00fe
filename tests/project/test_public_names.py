"""Each public module's ``__all__`` names exactly what it defines without a leading underscore."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Set

import pytest

import sse_fast

PACKAGE = Path(sse_fast.__file__).resolve().parent
MODULES = ["client", "relay", "resume", "errors", "integrations.starlette", "limits", "metrics"]
MODULES += ["auth.selectors", "auth.grant", "auth.guard", "auth.credentials", "auth.jwt_guard", "auth.refusal"]


def defined(module: str) -> Set[str]:
    """The names ``module``'s source defines at its top level (functions, classes, assignments), public ones."""
    tree = ast.parse((PACKAGE / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", MODULES)
def test_all_names_the_public_names_the_module_defines(module: str) -> None:
    imported = importlib.import_module(f"sse_fast.{module}")
    exported = getattr(imported, "__all__", None)
    assert exported is not None, f"sse_fast.{module} has no __all__"
    assert sorted(set(exported)) == sorted(defined(module))
    assert len(exported) == len(set(exported))
    for name in exported:
        assert hasattr(imported, name), name


def test_every_logger_is_in_the_troubleshooting_table() -> None:
    # a user who configures logging learns the names from this table: one left out logs unannounced
    page = PACKAGE.parent / "docs" / "troubleshooting.md"
    if not page.is_file():
        pytest.skip("docs/ is not beside the package (a suite copied to test a wheel)")
    sources = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))
    loggers = set(re.findall(r"logging\.getLogger\(\"([\w.]+)\"\)", sources))
    listed = set(re.findall(r"^\| `([\w.]+)` \|", page.read_text(encoding="utf-8"), re.MULTILINE))
    assert len(loggers) >= 5 and loggers == listed, f"missing: {loggers - listed}, not a logger: {listed - loggers}"

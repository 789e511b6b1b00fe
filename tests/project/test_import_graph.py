"""The package's import graph has no circle, lazy imports included, and no compiled twin imports its pure twin.

The graph is read from the sources (``ast``), not from an import: every ``import`` and ``from ... import`` of
an ``sse_fast`` module, at the top or inside a function (a lazy import that closes a circle is a circle all
the same: ``Broker.__new__`` importing ``broker.redis``, which imported ``broker.core``, was one), except
under ``if TYPE_CHECKING:``, which never runs.
"""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Dict, Iterator, Set, Union

import pytest

import sse_fast

PACKAGE = Path(sse_fast.__file__).parent
Import = Union[ast.Import, ast.ImportFrom]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(node: ast.AST) -> Iterator[Import]:
    """Every import statement under ``node``, nested ones included, but for those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            yield from imports(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            yield from imports(child)


def import_graph(root: Path) -> Dict[str, Set[str]]:
    """Module -> the modules of the package ``root`` it imports."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    compiled = {module_name(path, root) for pattern in ("*.pyx", "*.pyi") for path in root.rglob(pattern)}
    graph: Dict[str, Set[str]] = {name: set() for name in compiled - set(modules)}  # Cython: the last test reads them
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: Set[str] = set()
        for node in imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules or alias.name in compiled)
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in modules or f"{target}.{alias.name}" in compiled:  # a submodule
                    edges.add(f"{target}.{alias.name}")
                elif target in modules:
                    edges.add(target)
        graph[name] = edges - {name}
    return graph


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph(PACKAGE)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"an import circle: {' -> '.join(exc.args[1])}")


def test_the_graph_sees_lazy_imports_and_layers() -> None:
    graph = import_graph(PACKAGE)
    assert "sse_fast.broker.redis" in graph["sse_fast.broker.logs"]  # imported inside log_for, for a Redis URL
    assert "sse_fast.broker.core" not in graph["sse_fast.broker.redis"]
    assert graph["sse_fast._compiled"] == set()  # the selector sits at the bottom: it imports no unit
    for layer in ("sse_fast.encoder", "sse_fast.parse", "sse_fast.writer.sender"):
        assert "sse_fast._compiled" in graph[layer]


def test_a_lazy_circle_is_found(tmp_path: Path) -> None:
    # the shape Broker had: core imports redis inside a function, redis imports core at its top
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import typed\n"
        "def make():\n    try:\n        from .redis import Log\n    except ImportError:\n        raise\n"
    )
    (package / "redis.py").write_text("from .core import make\nclass Log: ...\n")
    (package / "typed.py").write_text("from . import core\n")
    graph = import_graph(package)
    assert graph["pkg.core"] == {"pkg.redis"}  # not pkg.typed: TYPE_CHECKING never runs
    with pytest.raises(CycleError):
        TopologicalSorter(graph).prepare()


@pytest.mark.parametrize("source", sorted(PACKAGE.rglob("*.pyx")), ids=lambda p: p.name)
def test_a_compiled_twin_does_not_import_a_pure_twin(source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    assert re.findall(r"^\s*(?:from|import)\s+[\w.]*_py\b.*$", text, re.MULTILINE) == []

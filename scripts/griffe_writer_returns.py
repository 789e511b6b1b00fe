"""A griffe extension for the API reference (mkdocs.yml loads it): the write methods are written once on
``BaseWriter``, typed ``-> R``; on each writer that binds ``R`` (``Writer(BaseWriter[None])``,
``AsyncWriter(BaseWriter[Coroutine[Any, Any, None]])``) the reference shows them returning what it binds."""

from __future__ import annotations

from typing import Any

from griffe import Class, Docstring, Expr, ExprSubscript, Extension, Function, Module


class WriterReturns(Extension):
    """Gives ``Writer`` and ``AsyncWriter`` their own copy of each ``-> R`` method, with ``R`` bound."""

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        base = pkg["writer.base.BaseWriter"]
        for writer in (pkg["writer.sync_writer.Writer"], pkg["writer.async_writer.AsyncWriter"]):
            bound = _bound(writer)
            for name, method in base.members.items():
                if isinstance(method, Function) and str(method.returns) == "R" and name not in writer.members:
                    writer.set_member(name, _returning(method, bound))


def _bound(writer: Class) -> str | Expr:
    """What ``writer``'s base ``BaseWriter[...]`` binds ``R`` to."""
    (base,) = [b for b in writer.bases if isinstance(b, ExprSubscript) and b.canonical_name == "BaseWriter"]
    return base.slice


def _returning(method: Function, returns: str | Expr) -> Function:
    """A copy of ``method`` that returns ``returns``."""
    copy = Function(
        method.name, lineno=method.lineno, endlineno=method.endlineno, parameters=method.parameters,
        returns=returns, decorators=method.decorators,
    )  # fmt: skip
    if method.docstring is not None:
        copy.docstring = Docstring(method.docstring.value, lineno=method.docstring.lineno, parent=copy)
    return copy

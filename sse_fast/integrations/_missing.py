"""The error an integration raises when its framework is not installed."""

from __future__ import annotations

from ..errors import MissingExtra


def install_hint(extra: str) -> str:
    """How to install ``extra``: from PyPI once released, and from a checkout (the only way until then)."""
    return f'pip install "sse-fast[{extra}]" (from a checkout: pip install ".[{extra}]")'


def missing_framework(error: ModuleNotFoundError, module: str, framework: str, extra: str) -> ModuleNotFoundError:
    """``MissingExtra`` naming ``extra`` when ``error`` says ``framework`` itself is not installed (``module``
    is the integration that needs it); else ``error`` unchanged (a module missing inside the framework)."""
    if error.name != framework:
        return error
    return MissingExtra(
        f"{module} needs {framework}, which is not installed: {install_hint(extra)}",
        name=framework,
    )

"""The reading area's fixtures: the ``EventParser`` twins."""

from __future__ import annotations

import importlib

import pytest
from support.twins import compiled_module


@pytest.fixture(scope="session", params=["c", "python"])
def parser(request: pytest.FixtureRequest) -> type:
    """One ``EventParser`` twin: the compiled core's ("c") or the pure-Python one ("python")."""
    if request.param == "c":
        return compiled_module("sse_fast._parser").EventParser
    return importlib.import_module("sse_fast._parser_py").EventParser


@pytest.fixture(scope="session")
def parser_twins() -> tuple:
    """Both ``EventParser`` twins at once, (compiled, pure Python), for tests that compare them."""
    return compiled_module("sse_fast._parser").EventParser, importlib.import_module("sse_fast._parser_py").EventParser

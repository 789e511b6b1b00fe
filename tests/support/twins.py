"""Which twin a test runs on: the compiled core, or the pure-Python twin under ``SSE_FAST_NO_EXTENSIONS=1``,
and how many Hypothesis examples each profile runs."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

NO_EXTENSIONS = os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1"

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# examples per property test, and for the test that compares the twins on any input at all
EXAMPLES = {"ci": 200, "thorough": 10_000}
TWIN_EXAMPLES = {"ci": 1_000, "thorough": 100_000}


def compiled_module(name: str) -> ModuleType:
    """A compiled half of the core; a missing build fails the test, or skips it under SSE_FAST_NO_EXTENSIONS=1."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = exc
    if NO_EXTENSIONS:
        pytest.skip(f"SSE_FAST_NO_EXTENSIONS=1 and the compiled core is not built ({missing})")
    pytest.fail(
        f"the compiled core {name} did not import ({missing}); build it with "
        "`pip install -e . --no-build-isolation`, or set SSE_FAST_NO_EXTENSIONS=1 to test only "
        "the pure-Python twin",
        pytrace=False,
    )


def compiled_encoder() -> ModuleType:
    """``sse_fast._encoder``, as ``compiled_module`` gets it."""
    return compiled_module("sse_fast._encoder")


def python_encoder() -> ModuleType:
    return importlib.import_module("sse_fast._encoder_py")

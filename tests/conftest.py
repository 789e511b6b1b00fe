"""Shared test setup: Hypothesis profiles and the ``encoder`` fixture that runs a test on both twins.

Profiles: ``ci`` (the default) and ``thorough``, picked with ``HYPOTHESIS_PROFILE=thorough``.
The compiled twin must be importable, or its half of the tests fails; with ``SSE_FAST_NO_EXTENSIONS=1``
a missing build skips that half instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

NO_EXTENSIONS = os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1"

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# examples per property test, and for the test that compares the twins on any input at all
EXAMPLES = {"ci": 200, "thorough": 10_000}
TWIN_EXAMPLES = {"ci": 1_000, "thorough": 100_000}

for _name, _examples in EXAMPLES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(PROFILE)


def compiled_encoder() -> ModuleType:
    """``sse_fast._encoder``; a missing build fails the test, or skips it under SSE_FAST_NO_EXTENSIONS=1."""
    try:
        return importlib.import_module("sse_fast._encoder")
    except ImportError as exc:
        missing = exc
    if NO_EXTENSIONS:
        pytest.skip(f"SSE_FAST_NO_EXTENSIONS=1 and the compiled core is not built ({missing})")
    pytest.fail(
        f"the compiled core sse_fast._encoder did not import ({missing}); build it with "
        "`pip install -e . --no-build-isolation`, or set SSE_FAST_NO_EXTENSIONS=1 to test only "
        "the pure-Python twin",
        pytrace=False,
    )


def python_encoder() -> ModuleType:
    return importlib.import_module("sse_fast._encoder_py")


@pytest.fixture(scope="session", params=["c", "python"])
def encoder(request: pytest.FixtureRequest) -> ModuleType:
    """One encoder twin: the compiled core ("c") or the pure-Python twin ("python").

    Session-scoped (twins are stateless modules), so ``@given`` tests may use it.
    """
    return compiled_encoder() if request.param == "c" else python_encoder()


@pytest.fixture(scope="session")
def twins() -> tuple:
    """Both twins at once, (compiled, pure Python), for tests that compare them."""
    return compiled_encoder(), python_encoder()


@pytest.fixture
def event_encoder(encoder: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``encoder``, also made the one ``sse_fast.Event`` encodes with for this test."""
    import sse_fast.event

    for name in ("encode", "encode_json", "encode_comment"):
        monkeypatch.setattr(sse_fast.event, name, getattr(encoder, name))
    return encoder

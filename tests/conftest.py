"""Shared test setup: Hypothesis profiles, and the ``encoder``, ``parser`` and ``sender`` fixtures that run a test on
both twins.

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


@pytest.fixture
def writer_encoder(event_encoder: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``event_encoder``, also made the one the writers' method set encodes with for this test."""
    import sse_fast.writer.base

    for name in ("encode", "encode_json", "encode_comment", "encode_retry"):
        monkeypatch.setattr(sse_fast.writer.base, name, getattr(event_encoder, name))
    return event_encoder


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


@pytest.fixture(params=["c", "python"])
def sender(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """One twin of the write path, the compiled ``_sender`` ("c") or ``_sender_py`` ("python"), made the one
    every ``AsyncWriter`` of this test is built on (its ``Sender`` and ``write_event``)."""
    from sse_fast.writer import AsyncWriter, async_writer

    name = "sse_fast.writer._sender"
    twin = compiled_module(name) if request.param == "c" else importlib.import_module(name + "_py")
    monkeypatch.setattr(async_writer, "Sender", twin.Sender)
    monkeypatch.setattr(AsyncWriter, "write_event", twin.write_event)
    return twin

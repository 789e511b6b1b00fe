"""Shared test setup: Hypothesis profiles, the ``encoder`` and ``twins`` fixtures that run a test on both encoder
twins, and ``sender``, on both twins of the write path (the writer's and the broker's tests). Each area's own
fixtures live in its folder's ``conftest.py`` (the parser's in ``reading/``, the event encoders in ``encoder/``);
helpers shared by areas live in ``support/``.

Profiles: ``ci`` (the default) and ``thorough``, picked with ``HYPOTHESIS_PROFILE=thorough``.
The compiled twin must be importable, or its half of the tests fails; with ``SSE_FAST_NO_EXTENSIONS=1``
a missing build skips that half instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings
from support.cdp import Browser, find_chromium
from support.twins import EXAMPLES, PROFILE, compiled_encoder, compiled_module, python_encoder

for _name, _examples in EXAMPLES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(PROFILE)


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
def browser() -> Iterator[Browser]:
    """A headless Chromium driven over CDP (the demo's and CORS's browser tests)."""
    executable = find_chromium()
    if executable is None:
        # A platform without it (a cibuildwheel job, Windows) skips, saying why; where the browser test must run
        # (.ci/run sets SSE_FAST_REQUIRE_BROWSER=1), a missing Chromium fails instead of passing unseen.
        why = (
            "Chromium is not installed (or this is not POSIX): this test drives the system's headless Chromium "
            "(Debian: apt-get install -y chromium; scripts/test.sh installs it)"
        )
        if os.environ.get("SSE_FAST_REQUIRE_BROWSER") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    b = Browser(executable)
    yield b
    b.close()


@pytest.fixture(params=["c", "python"])
def sender(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """One twin of the write path, the compiled ``_sender`` ("c") or ``_sender_py`` ("python"), made the one
    every ``AsyncWriter`` of this test is built on (its ``Sender``, ``write_event`` and ``_send``)."""
    from sse_fast.writer import AsyncWriter, async_writer

    name = "sse_fast.writer._sender"
    twin = compiled_module(name) if request.param == "c" else importlib.import_module(name + "_py")
    monkeypatch.setattr(async_writer, "Sender", twin.Sender)
    monkeypatch.setattr(AsyncWriter, "write_event", twin.write_event)
    monkeypatch.setattr(AsyncWriter, "_send", twin.write)
    return twin

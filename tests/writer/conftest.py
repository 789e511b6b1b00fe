"""The write path's fixture: a test run on both twins of the sender."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from support.twins import compiled_module


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

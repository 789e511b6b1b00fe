"""The encoder area's fixtures: an encoder twin made the one ``sse_fast.Event`` and the writers encode with."""

from __future__ import annotations

from types import ModuleType

import pytest


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

"""A drop-in for httpx-sse: ``connect_sse`` / ``aconnect_sse`` and ``EventSource.iter_sse`` / ``aiter_sse``
with the same names and behaviour, reading through sse_fast's parser.

Change ``from httpx_sse import connect_sse`` to ``from sse_fast.compat.httpx_sse import connect_sse``.
Beyond httpx-sse: ``connect_sse(..., last_event_id="41")`` sends ``Last-Event-ID`` to resume a stream, and
``EventSource.last_event_id`` / ``EventSource.retry`` say what to resume from and how long the server
asked to wait before reconnecting. Needs httpx (``pip install "sse-fast[client]"``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator, Optional

import httpx

from .._received import ServerSentEvent
from ..encoder import EventParser


class SSEError(httpx.TransportError):
    """The response is not an event stream (httpx-sse's error, an ``httpx.TransportError``)."""


class EventSource:
    """A streamed response read as events."""

    def __init__(self, response: httpx.Response, last_event_id: Optional[str] = None) -> None:
        self._response = response
        self._parser = EventParser(last_event_id=last_event_id)

    @property
    def response(self) -> httpx.Response:
        return self._response

    @property
    def last_event_id(self) -> str:
        """The id to send as ``Last-Event-ID`` when reconnecting."""
        return self._parser.last_event_id

    @property
    def retry(self) -> Optional[int]:
        """The reconnection time the server asked for, in milliseconds (None if it did not)."""
        return self._parser.retry

    def _check_content_type(self) -> None:
        content_type = self._response.headers.get("content-type", "").partition(";")[0]
        if "text/event-stream" not in content_type:
            raise SSEError(
                f"Expected response header Content-Type to contain 'text/event-stream', got {content_type!r}"
            )

    def iter_sse(self) -> Iterator[ServerSentEvent]:
        self._check_content_type()
        for chunk in self._response.iter_bytes():
            yield from self._parser.feed(chunk)

    async def aiter_sse(self) -> AsyncIterator[ServerSentEvent]:
        self._check_content_type()
        async for chunk in self._response.aiter_bytes():
            for event in self._parser.feed(chunk):
                yield event


def _headers(kwargs: Any, last_event_id: Optional[str]) -> Any:
    headers = kwargs.pop("headers", {})
    headers["Accept"] = "text/event-stream"
    headers["Cache-Control"] = "no-store"
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return headers


@contextmanager
def connect_sse(
    client: httpx.Client, method: str, url: str, *, last_event_id: Optional[str] = None, **kwargs: Any
) -> Iterator[EventSource]:
    """Open ``method url`` on ``client`` as an event stream; yields its ``EventSource``."""
    headers = _headers(kwargs, last_event_id)
    with client.stream(method, url, headers=headers, **kwargs) as response:
        yield EventSource(response, last_event_id)


@asynccontextmanager
async def aconnect_sse(
    client: httpx.AsyncClient, method: str, url: str, *, last_event_id: Optional[str] = None, **kwargs: Any
) -> AsyncIterator[EventSource]:
    """``connect_sse`` for ``httpx.AsyncClient``."""
    headers = _headers(kwargs, last_event_id)
    async with client.stream(method, url, headers=headers, **kwargs) as response:
        yield EventSource(response, last_event_id)


__all__ = ["EventSource", "SSEError", "ServerSentEvent", "aconnect_sse", "connect_sse"]

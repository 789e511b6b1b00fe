"""httpx-sse's ``EventSource``, ``connect_sse`` and ``aconnect_sse``, as ``httpx_sse._api`` has them, reading
the response's bytes with sse_fast's parser; plus ``last_event_id=`` and ``EventSource.last_event_id`` /
``retry`` for resuming a stream."""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator, Optional

import httpx

from ...parse import EventParser
from ._decoders import SSELineDecoder
from ._exceptions import SSEError
from ._models import ServerSentEvent


class EventSource:
    """A streamed response read as events."""

    def __init__(self, response: httpx.Response, last_event_id: Optional[str] = None) -> None:
        self._response = response
        self._parser = EventParser(last_event_id=last_event_id)

    @property
    def response(self) -> httpx.Response:
        """The streamed response."""
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
        """The events of the response, as they arrive."""
        self._check_content_type()
        for chunk in self._response.iter_bytes():
            for event in self._parser.feed(chunk):
                yield tuple.__new__(ServerSentEvent, event)

    async def aiter_sse(self) -> AsyncIterator[ServerSentEvent]:
        """``iter_sse`` for a response of ``httpx.AsyncClient``."""
        self._check_content_type()
        async for chunk in self._response.aiter_bytes():
            for event in self._parser.feed(chunk):
                yield tuple.__new__(ServerSentEvent, event)


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


def _iter_sse_lines(response: httpx.Response) -> Iterator[str]:
    """The lines of a response's text (httpx-sse's private helper, which code and tests import)."""
    decoder = SSELineDecoder()
    for text in response.iter_text():
        yield from decoder.decode(text)
    yield from decoder.flush()


async def _aiter_sse_lines(response: httpx.Response) -> AsyncIterator[str]:
    """``_iter_sse_lines`` for a response of ``httpx.AsyncClient``."""
    decoder = SSELineDecoder()
    async for text in response.aiter_text():
        for line in decoder.decode(text):
            yield line
    for line in decoder.flush():
        yield line

"""Reading SSE from httpx: ``iter_events(response)`` / ``aiter_events(response)`` for one response, and
``follow(client, url)`` / ``afollow(client, url)`` for a stream followed across reconnects.

They take an ``httpx.Response`` opened with ``client.stream(...)`` and yield ``ServerSentEvent`` s as the
bytes arrive, through the compiled parser when it is built. httpx itself is never imported here (the
``client`` extra installs it: ``pip install ".[client]"`` in a checkout); anything with ``iter_bytes()`` /
``aiter_bytes()`` will do::

    with httpx.Client() as client, client.stream("GET", url) as response:
        for event in iter_events(response):
            print(event.event, event.id, event.json())
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, Iterator, Mapping, Optional

from ._received import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, ServerSentEvent
from .errors import StreamRefused
from .parse import EventParser


def iter_events(
    response: Any, *, max_line: int = DEFAULT_MAX_LINE, max_event: int = DEFAULT_MAX_EVENT
) -> Iterator[ServerSentEvent]:
    """The events of a streamed httpx response, as they arrive; an unterminated last event is dropped."""
    parser = EventParser(max_line=max_line, max_event=max_event)
    for chunk in response.iter_bytes():
        yield from parser.feed(chunk)


async def aiter_events(
    response: Any, *, max_line: int = DEFAULT_MAX_LINE, max_event: int = DEFAULT_MAX_EVENT
) -> AsyncIterator[ServerSentEvent]:
    """``iter_events`` for an ``httpx.AsyncClient`` response."""
    parser = EventParser(max_line=max_line, max_event=max_event)
    async for chunk in response.aiter_bytes():
        for event in parser.feed(chunk):
            yield event


class _Reconnects:
    """What ``follow`` keeps between connections, as a browser's EventSource does: the last event id, the
    reconnection delay (the server's ``retry:`` wins over the caller's default) and the count of reconnects."""

    def __init__(self, last_event_id: Optional[str], delay: float, max_reconnects: Optional[int]) -> None:
        self.last_event_id, self.delay, self.max_reconnects, self.done = last_event_id or "", delay, max_reconnects, 0
        self.parser: Optional[EventParser] = None

    def headers(self, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store", **(extra or {})}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def open(self, response: Any, max_line: int, max_event: int) -> Optional[EventParser]:
        """The parser for this connection, or None when the server said stop (204); raises ``StreamRefused``
        for anything but an event stream."""
        if response.status_code == 204:
            return None
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if response.status_code != 200 or content_type != "text/event-stream":
            raise StreamRefused(
                f"GET {response.url} answered {response.status_code} {content_type or '(no content type)'}, "
                "expected 200 text/event-stream"
            )
        self.parser = EventParser(last_event_id=self.last_event_id, max_line=max_line, max_event=max_event)
        return self.parser

    def closed(self) -> Optional[float]:
        """The connection ended: seconds to wait before the next one, or None when no reconnect is left."""
        if self.parser is not None:
            self.last_event_id = self.parser.last_event_id
            if self.parser.retry is not None:
                self.delay = self.parser.retry / 1000
            self.parser = None
        if self.max_reconnects is not None and self.done >= self.max_reconnects:
            return None
        self.done += 1
        return self.delay


def follow(
    client: Any,
    url: str,
    *,
    last_event_id: Optional[str] = None,
    reconnect_delay: float = 3.0,
    max_reconnects: Optional[int] = None,
    headers: Optional[Mapping[str, str]] = None,
    max_line: int = DEFAULT_MAX_LINE,
    max_event: int = DEFAULT_MAX_EVENT,
) -> Iterator[ServerSentEvent]:
    """The events of ``GET url`` on an ``httpx.Client``, across reconnects, as a browser's EventSource reads
    them: when the stream ends or the connection drops, wait (the server's ``retry:``, else
    ``reconnect_delay`` seconds) and reconnect with ``Last-Event-ID``. Ends when the server answers 204 or
    after ``max_reconnects``; raises ``StreamRefused`` for a status other than 200 or a body that is not
    ``text/event-stream``."""
    import httpx

    state = _Reconnects(last_event_id, reconnect_delay, max_reconnects)
    while True:
        try:
            with client.stream("GET", url, headers=state.headers(headers)) as response:
                parser = state.open(response, max_line, max_event)
                if parser is None:
                    return
                for chunk in response.iter_bytes():
                    yield from parser.feed(chunk)
        except httpx.TransportError:
            pass
        wait = state.closed()
        if wait is None:
            return
        time.sleep(wait)


async def afollow(
    client: Any,
    url: str,
    *,
    last_event_id: Optional[str] = None,
    reconnect_delay: float = 3.0,
    max_reconnects: Optional[int] = None,
    headers: Optional[Mapping[str, str]] = None,
    max_line: int = DEFAULT_MAX_LINE,
    max_event: int = DEFAULT_MAX_EVENT,
) -> AsyncIterator[ServerSentEvent]:
    """``follow`` on an ``httpx.AsyncClient``."""
    import httpx

    state = _Reconnects(last_event_id, reconnect_delay, max_reconnects)
    while True:
        try:
            async with client.stream("GET", url, headers=state.headers(headers)) as response:
                parser = state.open(response, max_line, max_event)
                if parser is None:
                    return
                async for chunk in response.aiter_bytes():
                    for event in parser.feed(chunk):
                        yield event
        except httpx.TransportError:
            pass
        wait = state.closed()
        if wait is None:
            return
        await asyncio.sleep(wait)


__all__ = ["aiter_events", "afollow", "follow", "iter_events"]

"""Reading an SSE response from httpx: ``iter_events(response)`` and ``aiter_events(response)``.

They take an ``httpx.Response`` opened with ``client.stream(...)`` and yield ``ServerSentEvent`` s as the
bytes arrive, through the compiled parser when it is built. httpx itself is never imported here (install
it with ``pip install sse-fast[client]``); anything with ``iter_bytes()`` / ``aiter_bytes()`` will do::

    with httpx.Client() as client, client.stream("GET", url) as response:
        for event in iter_events(response):
            print(event.event, event.id, event.json())
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from ._received import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, ServerSentEvent
from .encoder import EventParser


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

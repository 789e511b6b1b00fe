"""Django: ``sse_response(request, handler_or_iterable)`` returns a ``StreamingHttpResponse``.

::

    from sse_fast.integrations.django import last_event_id, sse_response

    def events(request):                              # sync view, under a WSGI server
        start = last_event_id(request)
        def handler(writer):                          # a sse_fast.Writer, on a worker thread
            writer.write_event_with_id("1", {"resumed_after": start})
        return sse_response(request, handler)

    async def aevents(request):                       # async view, under an ASGI server
        async def handler(writer):                    # a sse_fast.AsyncWriter, as a task
            await writer.write_event({"hello": "world"})
        return sse_response(request, handler)

Called with an event loop running (an async view) the handler is an asyncio task writing into an async
body that Django's ASGI handler drains; otherwise it runs on a worker thread of the WSGI transport. When
the client leaves, the writer is closed and the next write raises ``ClientDisconnected`` (under ASGI
this needs Django >= 5.0, which watches for the disconnect; the async handler is cancelled then).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, AsyncIterator, Deque, Optional

from django.http import HttpRequest, StreamingHttpResponse  # type: ignore[import-untyped]

from ..context import CLIENT_DISCONNECTED
from ..errors import ClientDisconnected, StreamingNotSupported
from ..resume import last_event_id as _last_event_id
from ..transports.headers import Headers, sse_headers
from ..transports.run import run_on
from ..transports.wsgi import DEFAULT_MAX_BUFFERED
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter, Default
from ._source import handler_for
from ._wsgi import wsgi_parts


def last_event_id(request: HttpRequest) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return _last_event_id({"last-event-id": request.META.get("HTTP_LAST_EVENT_ID")}, request.GET)


def sse_response(request: HttpRequest, source: Any, **options: Any) -> StreamingHttpResponse:
    """A response streaming ``source``: ``handler(writer)`` or an iterable of items (each as JSON, an
    ``Event`` whole, then ``[DONE]``). Async handler and ``AsyncWriter`` in an async view; sync handler
    and ``Writer`` in a sync view. A HEAD request gets the headers only; the handler does not run.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``heartbeat``, ``max_buffered``, ``default``.
    """
    if request.method == "HEAD":
        headers = dict(sse_headers(None, options.get("headers"), hop_by_hop=False))
        empty = _nothing() if hasattr(request, "scope") else iter(())  # ASGI drains an async iterator
        return StreamingHttpResponse(empty, status=options.get("status", 200), headers=headers)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if hasattr(request, "scope"):
            raise StreamingNotSupported(
                "sse_response() got a sync view's request under an ASGI server, where Django buffers a "
                "sync stream whole; expected an async view (async def) under ASGI, or a WSGI server"
            ) from None
        status, headers, body = wsgi_parts(source, request.META, **options)
        return StreamingHttpResponse(body, status=status, headers=dict(headers))
    return _async_response(source, **options)


class AsyncBody:
    """The sink of an async view's writer and the async iterator Django drains; holds at most
    ``max_buffered`` bytes (one batch more if a single batch is bigger)."""

    def __init__(self, max_buffered: int) -> None:
        self.max_buffered = max_buffered
        self.writer: Optional[AsyncWriter] = None
        self.run: Optional[asyncio.Task] = None  # the handler's run, whose errors end the body
        self._chunks: Deque[bytes] = deque()
        self._buffered = 0
        self._over = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()

    # -- sink side ------------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        while self._chunks and self._buffered + len(data) > self.max_buffered and not self._over:
            self._writable.clear()
            await self._writable.wait()
        if self._over:
            raise ClientDisconnected("Django stopped reading the response")
        self._chunks.append(data)
        self._buffered += len(data)
        self._readable.set()

    async def end(self) -> None:
        self._over = True
        self._readable.set()

    def abort(self) -> None:
        self._over = True
        self._chunks.clear()
        self._buffered = 0
        self._readable.set()
        self._writable.set()

    # -- iterator side --------------------------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[bytes]:
        """What Django iterates; leaving it early (a cancel, or ``aclose``) means the client left."""
        try:
            while True:
                while not self._chunks and not self._over:
                    self._readable.clear()
                    await self._readable.wait()
                if not self._chunks:
                    break
                data = b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                self._writable.set()
                yield data
        finally:
            was_over = self._over
            self.abort()
            if not was_over and self.writer is not None:
                self.writer.lost(CLIENT_DISCONNECTED)
        if self.run is not None:  # the body ended: a handler that failed fails the response
            await asyncio.wait({self.run})
            if not self.run.cancelled() and self.run.exception() is not None:
                raise self.run.exception()  # type: ignore[misc]


def _async_response(
    source: Any,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    heartbeat: Optional[float] = None,
    max_buffered: int = DEFAULT_MAX_BUFFERED,
    default: Default = None,
) -> StreamingHttpResponse:
    body = AsyncBody(max_buffered)
    writer = AsyncWriter(body, send_timeout=send_timeout, default=default)
    body.writer = writer
    body.run = asyncio.ensure_future(run_on(writer, handler_for(source), heartbeat))
    body.run.add_done_callback(_retrieved)
    return StreamingHttpResponse(
        body.chunks(), status=status, headers=dict(sse_headers(None, headers, hop_by_hop=False))
    )


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def _retrieved(task: "asyncio.Task[None]") -> None:
    """Mark the run's error as seen: it is raised by the body, unless the client has left."""
    if not task.cancelled():
        task.exception()


__all__ = ["AsyncBody", "last_event_id", "sse_response"]

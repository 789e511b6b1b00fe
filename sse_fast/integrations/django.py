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
this needs Django >= 5.0, which watches for the disconnect; the async handler is cancelled then). A handler
that raises leaves the response unfinished after what it wrote, and the error goes on to the server, which
logs it.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Optional

from django.http import HttpRequest, StreamingHttpResponse  # type: ignore[import-untyped]  # Django has no types

from ..errors import ClientDisconnected, StreamingNotSupported
from ..resume import last_event_id as _last_event_id
from ..transports.base import BoundedQueue, Lost
from ..transports.options import Options
from ..writer import AsyncWriter
from ._source import handler_for
from ._wsgi import wsgi_parts


def last_event_id(request: HttpRequest) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return _last_event_id({"last-event-id": request.META.get("HTTP_LAST_EVENT_ID")}, request.GET)


def sse_response(request: HttpRequest, source: Any, **options: Any) -> StreamingHttpResponse:
    """A response streaming ``source``: ``handler(writer)`` or an iterable of items (each as JSON, an
    ``Event`` whole, then ``[DONE]``). Async handler and ``AsyncWriter`` in an async view; sync handler
    and ``Writer`` in a sync view. A HEAD request gets the headers only; the handler does not run.

    ``options``: ``status`` (or Django's ``status_code``), ``headers``, ``send_timeout``, ``heartbeat``,
    ``max_buffered``, ``default``.
    """
    if "status_code" in options:
        options["status"] = options.pop("status_code")
    chosen = Options.of("sse_response", options)
    if request.method == "HEAD":
        empty = _nothing() if hasattr(request, "scope") else iter(())  # ASGI drains an async iterator
        return StreamingHttpResponse(empty, status=chosen.status, headers=dict(chosen.header_pairs()))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if hasattr(request, "scope"):
            raise StreamingNotSupported(
                "sse_response() got a sync view's request under an ASGI server, where Django buffers a "
                "sync stream whole; expected an async view (async def) under ASGI, or a WSGI server"
            ) from None
        status, pairs, chunks = wsgi_parts(source, request.META, chosen)
        return StreamingHttpResponse(chunks, status=status, headers=dict(pairs))
    body = AsyncBody(chosen.max_buffered)
    writer = AsyncWriter(body, send_timeout=chosen.send_timeout, default=chosen.default)
    run = asyncio.ensure_future(writer.run(handler_for(source), chosen.heartbeat))
    run.add_done_callback(_retrieved)
    return StreamingHttpResponse(body.chunks(run), status=chosen.status, headers=dict(chosen.header_pairs()))


class AsyncBody:
    """The sink of an async view's writer and the async iterator Django drains: a ``BoundedQueue``."""

    def __init__(self, max_buffered: int) -> None:
        self._queue = BoundedQueue(max_buffered)
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()

    # -- sink side ------------------------------------------------------------------------------------

    def watch(self, lost: Lost) -> None:
        self._queue.lost = lost

    async def send(self, data: bytes) -> None:
        while self._queue.full_for(len(data)):
            self._writable.clear()
            await self._writable.wait()
        if self._queue.over:
            raise ClientDisconnected("Django stopped reading the response")
        self._queue.put(data)
        self._readable.set()

    async def end(self) -> None:
        self._queue.over = True
        self._readable.set()

    async def break_off(self, error: BaseException) -> None:
        """No more data: once Django took what is queued, ``chunks`` raises the handler's ``error`` (from its
        ``run``), and Django leaves the response unfinished."""
        await self.end()

    def abort(self) -> None:
        self._queue.over = True
        self._queue.clear()
        self._readable.set()
        self._writable.set()

    # -- iterator side --------------------------------------------------------------------------------

    async def chunks(self, run: "asyncio.Future[None]") -> AsyncIterator[bytes]:
        """What Django iterates; leaving it early (a cancel, or ``aclose``) means the client left. Once the
        body is over, an error of the handler's ``run`` fails the response."""
        try:
            while True:
                while not self._queue and not self._queue.over:
                    self._readable.clear()
                    await self._readable.wait()
                if not self._queue:
                    break
                data = self._queue.take()
                self._writable.set()
                yield data
        finally:
            left = self._queue.stop()
            self._writable.set()
            if left:
                self._queue.lost()
        await asyncio.wait({run})
        error = None if run.cancelled() else run.exception()
        if error is not None:
            raise error


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def _retrieved(task: "asyncio.Future[None]") -> None:
    """Mark the run's error as seen: it is raised by the body, unless the client has left."""
    if not task.cancelled():
        task.exception()


__all__ = ["AsyncBody", "last_event_id", "sse_response"]

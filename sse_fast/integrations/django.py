"""Django: ``sse_response(request, handler_or_iterable)`` returns a ``StreamingHttpResponse``.

::

    from sse_fast.integrations.django import last_event_id, sse_response

    def events(request):                              # sync view, under a WSGI or an ASGI server
        start = last_event_id(request)
        def handler(writer):                          # a sse_fast.Writer, on a worker thread
            writer.write_event_with_id("1", {"resumed_after": start})
        return sse_response(request, handler)

    async def aevents(request):                       # async view, under an ASGI server
        async def handler(writer):                    # a sse_fast.AsyncWriter, as a task
            await writer.write_event({"hello": "world"})
        return sse_response(request, handler)

Called with an event loop running (an async view) the handler is an asyncio task writing into an async
body that Django's ASGI handler drains. Otherwise (a sync view) it runs on a worker thread of the WSGI
transport, and under an ASGI server Django's handler drains that body from its event loop (``SyncViewBody``),
as Django runs the sync view itself on a thread. When the client leaves, the writer is closed and the next
write raises ``ClientDisconnected`` (under ASGI this needs Django >= 5.0, which watches for the disconnect;
the async handler is cancelled then). A handler that raises leaves the response unfinished after what it
wrote, and the error goes on to the server, which logs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Callable, Optional, cast

from ._missing import missing_framework

try:
    from django.http import HttpRequest, StreamingHttpResponse  # type: ignore[import-untyped]  # Django has no types
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.django", "django", "django") from None

from ..errors import ClientDisconnected
from ..resume import last_event_id as _last_event_id
from ..transports.base import BoundedQueue, Lost
from ..transports.options import Options
from ..transports.wsgi import WSGIBody
from ..types import Environ
from ..writer import AsyncWriter
from ._source import handler_for
from ._wsgi import wsgi_parts

log: logging.Logger = logging.getLogger("sse_fast.integrations.django")


def last_event_id(request: HttpRequest) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return _last_event_id({"last-event-id": request.META.get("HTTP_LAST_EVENT_ID")}, request.GET)


def sse_response(request: HttpRequest, source: Any, **options: Any) -> StreamingHttpResponse:
    """A response streaming ``source``: ``handler(writer)`` or an iterable of items (each as JSON, an
    ``Event`` whole, then ``[DONE]``). Async handler and ``AsyncWriter`` in an async view; sync handler
    and ``Writer`` (on a worker thread) in a sync view, under WSGI or ASGI. A HEAD request gets the headers
    only; the handler does not run.

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
    except RuntimeError:  # a sync view
        if not hasattr(request, "scope"):  # under WSGI (an ASGIRequest has a scope)
            status, pairs, chunks = wsgi_parts(source, request.META, chosen)
            return StreamingHttpResponse(chunks, status=status, headers=dict(pairs))
        status, pairs, chunks = wsgi_parts(source, request.META, chosen, SyncViewBody)
        drained = cast(SyncViewBody, chunks).drain()  # an async iterator: Django streams it
        return StreamingHttpResponse(drained, status=status, headers=dict(pairs))
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
                run.add_done_callback(_log_error)  # Django takes nothing more: an error would reach nobody
        await asyncio.wait({run})
        error = None if run.cancelled() else run.exception()
        if error is not None:
            raise error


class SyncViewBody(WSGIBody):
    """The body of a sync view under ASGI: the handler writes into it from its worker thread (a ``Writer``, as
    under WSGI), and Django's ASGI handler drains it on its event loop (``drain()``, an async iterator), so the
    stream goes out as written (Django would buffer a sync iterator whole). When Django stops draining it (the client
    left), the writer is closed and the handler's next write raises ``ClientDisconnected``; if the handler
    raised, the drain raises that error once Django took what was written."""

    def __init__(self, environ: Environ, max_buffered: int) -> None:
        super().__init__(environ, max_buffered)
        self._wake: Optional[Callable[[], None]] = None  # wakes the drain from the writer's thread, once it runs

    def _ready(self) -> None:
        super()._ready()
        if self._wake is not None:
            self._wake()

    async def drain(self) -> AsyncIterator[bytes]:
        """The chunks, as the handler writes them; from the event loop."""
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing drains the body any more
                loop.call_soon_threadsafe(readable.set)

        try:
            with self._cond:
                self._wake = wake
            while True:
                with self._cond:
                    if self._queue:
                        data: Optional[bytes] = self._take()
                    elif self._queue.over:
                        break
                    else:
                        data = None
                        readable.clear()  # before the lock is let go: a later _ready sets it again
                if data is None:
                    await readable.wait()
                else:
                    yield data
        finally:
            self.close()  # early (a cancel, or aclose): the client left
        self._raise_error()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def _log_error(task: "asyncio.Future[None]") -> None:
    """Log what the handler of a stream whose client had left raised, if it raised (a cleanup's bug, say)."""
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.error("the handler of a stream whose client had left raised", exc_info=error)


def _retrieved(task: "asyncio.Future[None]") -> None:
    """Mark the run's error as seen: it is raised by the body, unless the client has left."""
    if not task.cancelled():
        task.exception()


__all__ = ["AsyncBody", "SyncViewBody", "last_event_id", "sse_response"]

"""aiohttp: an ``AsyncWriter`` over a prepared ``web.StreamResponse``, and ``last_event_id(request)``.

::

    from sse_fast.integrations.aiohttp import last_event_id, sse_response, sse_writer

    async def events(request):                        # the writer inside the request handler
        async with sse_writer(request) as writer:
            await writer.write_event_with_id("1", {"resumed_after": last_event_id(request)})
        return writer.response

    async def ticks(request):                         # or a handler / an iterable, run to its end
        return await sse_response(request, handler)

A client that leaves is noticed within ``POLL`` seconds even while the stream is idle: the writer is
closed, its context ends with ``"client_disconnected"`` and the next write raises ``ClientDisconnected``.
``sse_response`` also cancels its handler then; inside ``sse_writer``, wait on ``writer.context``.
"""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional, Tuple

from ._missing import missing_framework

try:
    from aiohttp import web
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.aiohttp", "aiohttp", "aiohttp") from None

from ..resume import last_event_id as _last_event_id
from ..transports.base import Lost, Watcher
from ..transports.options import Options
from ..writer import AsyncWriter
from ._source import handler_for

POLL = 0.2  # how often an idle stream checks that its connection is still open


def last_event_id(request: web.BaseRequest) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return _last_event_id(request.raw_headers, request.query)


class StreamResponseSink:
    """Writes each batch with ``response.write``; ``end()`` is ``write_eof()``. It notices a client that
    leaves within ``POLL`` seconds, idle or not."""

    def __init__(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        self._watcher = Watcher(_watch, request)

    def watch(self, lost: Lost) -> None:
        self._watcher.start(lost)

    async def send(self, data: bytes) -> None:
        await self.response.write(data)

    async def end(self) -> None:
        self._watcher.stop()
        await self.response.write_eof()

    async def break_off(self, error: BaseException) -> None:
        """Leave the body unfinished: the request handler raises ``error`` next, and aiohttp logs it and
        closes the connection without the end of the body."""
        self._watcher.stop()

    def abort(self) -> None:
        self._watcher.stop()
        transport = self.request.transport
        if transport is not None:
            transport.abort()


async def _watch(request: web.BaseRequest, lost: Lost) -> None:
    """Look at the connection every ``POLL`` seconds; once it is gone, call ``lost()``."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(POLL)
    lost()


class AiohttpWriter(AsyncWriter):
    """An ``AsyncWriter`` whose ``response`` the request handler returns."""

    __slots__ = ()
    sink: StreamResponseSink

    @property
    def response(self) -> web.StreamResponse:
        """The prepared ``web.StreamResponse`` the stream is written to."""
        return self.sink.response


async def open_writer(request: web.BaseRequest, **options: Any) -> AiohttpWriter:
    """Prepare a ``web.StreamResponse`` with the SSE headers and return its writer.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``heartbeat`` (15 s; None or 0: none), ``default``.
    """
    chosen = Options.of("open_writer", options)
    writer = await _open(request, chosen)
    if chosen.heartbeat:
        writer.start_heartbeat(chosen.heartbeat)
    return writer


async def _open(request: web.BaseRequest, options: Options) -> AiohttpWriter:
    response = web.StreamResponse(status=options.status, headers=_headers(request, options))
    await response.prepare(request)
    sink = StreamResponseSink(request, response)
    return AiohttpWriter(sink, send_timeout=options.send_timeout, default=options.default)


def _headers(request: web.BaseRequest, options: Options) -> List[Tuple[str, str]]:
    version = request.version
    return options.header_pairs(f"{version.major}.{version.minor}", hop_by_hop=True)


class sse_writer:  # noqa: N801 - used like a function: `async with sse_writer(request) as writer`
    """``async with sse_writer(request, **options) as writer:``; the writer is closed on the way out (its
    body cut off if the block raised).

    ``options``: those of ``open_writer``. Return ``writer.response``.
    """

    def __init__(self, request: web.BaseRequest, **options: Any) -> None:
        self.request = request
        self.options = options
        self.writer: Optional[AiohttpWriter] = None

    async def __aenter__(self) -> AiohttpWriter:
        self.writer = await open_writer(self.request, **self.options)
        return self.writer

    async def __aexit__(self, *exc: Any) -> None:
        """Close the writer; when the block raised, cut the body off instead (after what was written): aiohttp
        then logs the error and closes the connection without the end of the body."""
        assert self.writer is not None
        await self.writer.__aexit__(*exc)


async def sse_response(request: web.BaseRequest, source: Any, **options: Any) -> web.StreamResponse:
    """Stream ``source`` (``async def handler(writer)`` or an iterable of items) to its end; returns the
    response for the request handler to return. The handler is cancelled when the client leaves.
    A HEAD request gets the headers only; the handler does not run.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``heartbeat`` (15 s; None or 0: none), ``default``.
    """
    chosen = Options.of("sse_response", options)
    if request.method == "HEAD":
        return web.Response(status=chosen.status, headers=_headers(request, chosen))
    writer = await _open(request, chosen)
    await writer.run(handler_for(source), chosen.heartbeat)
    return writer.response


__all__ = ["AiohttpWriter", "last_event_id", "open_writer", "sse_response", "sse_writer"]

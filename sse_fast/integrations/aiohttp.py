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

from aiohttp import web

from ..context import CLIENT_DISCONNECTED
from ..resume import last_event_id as _last_event_id
from ..transports.headers import Headers, sse_headers
from ..transports.run import run_on
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter, Default
from ._source import handler_for

POLL = 0.2  # how often an idle stream checks that its connection is still open


def last_event_id(request: web.BaseRequest) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return _last_event_id(request.raw_headers, request.query)


class StreamResponseSink:
    """Writes each batch with ``response.write``; ``end()`` is ``write_eof()``."""

    def __init__(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        self.watcher: Optional[asyncio.Task[None]] = None

    async def send(self, data: bytes) -> None:
        await self.response.write(data)

    async def end(self) -> None:
        self._stop_watching()
        await self.response.write_eof()

    def abort(self) -> None:
        self._stop_watching()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def _stop_watching(self) -> None:
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()


class AiohttpWriter(AsyncWriter):
    """An ``AsyncWriter`` whose ``response`` the request handler returns."""

    sink: StreamResponseSink

    @property
    def response(self) -> web.StreamResponse:
        """The prepared ``web.StreamResponse`` the stream is written to."""
        return self.sink.response


def _sse_headers(request: web.BaseRequest, headers: Headers) -> List[Tuple[str, str]]:
    version = request.version
    return sse_headers(f"{version.major}.{version.minor}", headers)


async def open_writer(
    request: web.BaseRequest,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    default: Default = None,
) -> AiohttpWriter:
    """Prepare a ``web.StreamResponse`` with the SSE headers and return its writer."""
    response = web.StreamResponse(status=status, headers=_sse_headers(request, headers))
    await response.prepare(request)
    sink = StreamResponseSink(request, response)
    writer = AiohttpWriter(sink, send_timeout=send_timeout, default=default)
    sink.watcher = asyncio.get_running_loop().create_task(_watch(request, writer))
    return writer


async def _watch(request: web.BaseRequest, writer: AsyncWriter) -> None:
    while not writer.closed:
        transport = request.transport
        if transport is None or transport.is_closing():
            writer.lost(CLIENT_DISCONNECTED)
            return
        await asyncio.sleep(POLL)


class sse_writer:  # noqa: N801 - used like a function: `async with sse_writer(request) as writer`
    """``async with sse_writer(request, **options) as writer:``; the writer is closed on the way out.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``default``. Return ``writer.response``.
    """

    def __init__(self, request: web.BaseRequest, **options: Any) -> None:
        self.request = request
        self.options = options
        self.writer: Optional[AiohttpWriter] = None

    async def __aenter__(self) -> AiohttpWriter:
        self.writer = await open_writer(self.request, **self.options)
        return self.writer

    async def __aexit__(self, *exc: Any) -> None:
        assert self.writer is not None
        await self.writer.close()


async def sse_response(
    request: web.BaseRequest, source: Any, *, heartbeat: Optional[float] = None, **options: Any
) -> web.StreamResponse:
    """Stream ``source`` (``async def handler(writer)`` or an iterable of items) to its end; returns the
    response for the request handler to return. The handler is cancelled when the client leaves.
    A HEAD request gets the headers only; the handler does not run."""
    if request.method == "HEAD":
        return web.Response(status=options.get("status", 200), headers=_sse_headers(request, options.get("headers")))
    writer = await open_writer(request, **options)
    await run_on(writer, handler_for(source), heartbeat)
    return writer.response


__all__ = ["AiohttpWriter", "last_event_id", "open_writer", "sse_response", "sse_writer"]

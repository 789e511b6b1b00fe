"""A drop-in for ``sse_starlette``: ``from sse_fast.compat.sse_starlette import EventSourceResponse``.

The names, constructor arguments and bytes of sse-starlette 3.x, encoded by sse_fast's core and sent by
its ASGI transport (which starts the response, watches for the client leaving, bounds every send by
``send_timeout`` and registers the stream for ``sse_fast.shutdown``). As in sse-starlette, the content is
not resumed while its last event's send is pending (``write_behind=True`` lets it run ahead). Deliberate
differences (refused unsafe input, JSON for containers, asyncio only) are listed in docs/migration.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Coroutine, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Callable, Union

from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT, SHUTDOWN
from ..errors import ClientDisconnected, InvalidType, InvalidValue, SendTimedOut
from ..transports.asgi import answer_head, open_asgi
from ..transports.options import Options
from ..writer import AsyncWriter
from ._sse_starlette_event import JSONServerSentEvent, ServerSentEvent, check_sep, ensure_bytes
from ._sse_starlette_status import AppStatus, chain_shutdown_on_signals, served

# sse-starlette's own logger, so an app's logging configuration for sse-starlette applies unchanged
logger: logging.Logger = logging.getLogger("sse_starlette.sse")

Content = Union[AsyncIterable[Any], Iterable[Any]]
DISCONNECT = {"type": "http.disconnect"}


class SendTimeoutError(TimeoutError):
    """A send to the client did not finish within ``send_timeout`` seconds."""


class EventSourceResponse(Response):
    """sse-starlette's ``EventSourceResponse``: streams what ``content`` yields as server-sent events.

    ``content`` is an async or sync iterable of ``str``, ``bytes``, ``dict`` (``ServerSentEvent``
    keywords) or ``ServerSentEvent``. A comment ``ping`` goes out every ``ping`` seconds (15; 0 turns it
    off), or what ``ping_message_factory()`` returns. ``send_timeout`` bounds each send (None: no bound)
    and raises ``SendTimeoutError``. ``client_close_handler_callable(message)`` is awaited after the client
    left. On ``AppStatus.should_exit = True`` or ``sse_fast.shutdown`` (both chained in front of SIGTERM /
    SIGINT when the first response starts in the main thread) ``shutdown_event`` is set and the stream gets
    ``shutdown_grace_period`` seconds to end before it is cancelled. ``background`` runs after the stream.

    Each event (and ping) is handed to the server before the content is resumed, as sse-starlette does:
    code after a ``yield`` runs once the event's send returned, and after a ``send_timeout`` the content
    is closed at that ``yield``. ``write_behind=True`` queues events instead and sends them from a task
    (several at a time when the client is slower than the content): faster, but code after a ``yield``
    runs before the event reached the server, and a send timeout closes the content at a later ``yield``.
    In both modes one message is sent at a time: a ping due while a send is pending goes out after it.
    """

    DEFAULT_PING_INTERVAL = 15
    DEFAULT_SEPARATOR = "\r\n"
    DEFAULT_CLEANUP_TIMEOUT = 30.0

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = "text/event-stream",
        background: BackgroundTask | None = None,
        ping: float | None = None,
        sep: str | None = None,
        ping_message_factory: Callable[[], ServerSentEvent] | None = None,
        data_sender_callable: Callable[[], Coroutine[None, None, None]] | None = None,
        send_timeout: float | None = None,
        client_close_handler_callable: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        shutdown_event: Any = None,
        shutdown_grace_period: float = 0,
        cleanup_timeout: float | None = DEFAULT_CLEANUP_TIMEOUT,
        *,
        write_behind: bool = False,
    ) -> None:
        self.sep: str = check_sep(sep)
        self.body_iterator: AsyncIterable[Any] = (
            content if isinstance(content, AsyncIterable) else iterate_in_threadpool(content)
        )
        self.status_code = status_code
        self.media_type: str | None = self.media_type if media_type is None else media_type
        self.background = background
        self.data_sender_callable = data_sender_callable
        self.send_timeout = send_timeout

        merged = MutableHeaders()
        if headers is not None:
            merged.update(headers)
        merged.setdefault("Cache-Control", "no-store")
        merged["Connection"] = "keep-alive"
        merged["X-Accel-Buffering"] = "no"
        self.init_headers(merged)

        self.ping_interval = self.DEFAULT_PING_INTERVAL if ping is None else ping
        self.ping_message_factory = ping_message_factory
        self.client_close_handler_callable = client_close_handler_callable
        if shutdown_grace_period < 0:
            raise InvalidValue(f"shutdown_grace_period must be >= 0, got {shutdown_grace_period!r}")
        self._shutdown_event = shutdown_event
        self._shutdown_grace_period = shutdown_grace_period
        if cleanup_timeout is not None and cleanup_timeout < 0:
            raise InvalidValue(f"cleanup_timeout must be >= 0 or None, got {cleanup_timeout!r}")
        self._cleanup_timeout = cleanup_timeout
        self.write_behind = write_behind
        self.active: bool = True

    @property
    def ping_interval(self) -> float:
        """Seconds between pings; 0 sends none."""
        return self._ping_interval

    @ping_interval.setter
    def ping_interval(self, value: float) -> None:
        if not isinstance(value, (int, float)):
            raise InvalidType(f"ping interval must be int or float, got {type(value).__name__}: {value!r}")
        if value < 0:
            raise InvalidValue(f"ping interval must be >= 0 (0 disables ping), got {value!r}")
        self._ping_interval = value

    def enable_compression(self, force: bool = False) -> None:
        raise NotImplementedError("Compression is not supported for SSE streams.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"].upper() == "HEAD":
            await self._answer_head(scope, send)
            return
        chain_shutdown_on_signals()
        writer = await open_asgi(scope, receive, send, self._options(), wait=False)  # starts beside the stream
        try:
            with served(writer):
                error = await self._run(writer)
            # sse-starlette awaits every send: what was written must be out (or have failed) before the
            # stream counts as ended well
            if error is None:
                error = await _flush(writer)
        except BaseException:  # this response was cancelled
            writer.abort(CLOSED)
            raise
        finally:
            self.active = False
        if writer.context.reason == SEND_TIMEOUT:
            raise SendTimeoutError() from error
        if isinstance(error, ClientDisconnected) and isinstance(error.__cause__, OSError):
            raise error.__cause__  # what the server's send raised, re-raised as sse-starlette does
        if error is not None and not (writer.context.done and isinstance(error, ConnectionError)):
            await _flush(writer)  # what came before the error is sent, as sse-starlette would have
            writer.abort(CLOSED)  # the body is not ended, so the client can tell the stream broke
            raise error
        if writer.context.reason == CLIENT_DISCONNECTED:
            writer.abort(CLIENT_DISCONNECTED)  # nothing more is sent to a client that left: no closing body
            if self.client_close_handler_callable is not None:
                await self.client_close_handler_callable(dict(DISCONNECT))
        else:
            await writer.close()
        if self.background is not None:
            await self.background()

    async def _run(self, writer: AsyncWriter) -> BaseException | None:
        """Stream until the content ends, the client leaves, a send fails or shutdown's grace is over."""
        helpers: set[asyncio.Future[None]] = set()
        if self.data_sender_callable is not None:
            helpers.add(asyncio.ensure_future(self.data_sender_callable()))
        stream = asyncio.ensure_future(self._stream_response(writer, helpers))
        enders = {stream, asyncio.ensure_future(self._until_stream_must_end(writer, stream))}
        if self._ping_interval > 0:
            enders.add(asyncio.ensure_future(self._ping(writer)))
        try:
            while True:
                done, _ = await asyncio.wait(enders | helpers, return_when=asyncio.FIRST_COMPLETED)
                failed = [task for task in done if not task.cancelled() and task.exception() is not None]
                if failed:
                    return failed[0].exception()
                if done & enders:
                    return None
                helpers -= done
        finally:
            await _cancelled(enders | helpers)

    async def _stream_response(self, writer: AsyncWriter, helpers: set[asyncio.Future[None]]) -> None:
        async for data in self.body_iterator:
            try:
                chunk = ensure_bytes(data, self.sep)
                logger.debug("chunk: %s", chunk)  # as sse-starlette logs it
                await self._write(writer, chunk)
            except BaseException:
                await _shielded(self._clean_up(helpers))
                raise
        self.active = False

    async def _clean_up(self, helpers: set[asyncio.Future[None]]) -> None:
        """After a failed encode or send: as sse-starlette's task group, the producer feeding the content
        (``data_sender_callable``) is cancelled before the content is closed under it."""
        await _cancelled(helpers)
        await self._close_body_iterator()

    async def _close_body_iterator(self) -> None:
        """Run the iterator's cleanup after a failed encode or send, within ``cleanup_timeout``."""
        aclose = getattr(self.body_iterator, "aclose", None)
        if aclose is None:
            return
        cleanup = asyncio.ensure_future(aclose())
        # as sse-starlette's deadline: the cleanup starts even with 0 s, and is reported as cut short once it
        # was cancelled, also when it swallows the cancellation
        if not (await asyncio.wait({cleanup}, timeout=self._cleanup_timeout))[0]:
            cleanup.cancel()
            await asyncio.wait({cleanup})
            logger.warning("Body iterator cleanup cancelled after %s seconds", self._cleanup_timeout)
        if not cleanup.cancelled() and cleanup.exception() is not None:
            logger.error("Error closing body iterator after encoding or send failure", exc_info=cleanup.exception())

    async def _ping(self, writer: AsyncWriter) -> None:
        while self.active:
            await asyncio.sleep(self._ping_interval)
            if self.ping_message_factory is not None:
                ping = self.ping_message_factory()
            else:
                ping = ServerSentEvent(comment=f"ping - {datetime.now(timezone.utc)}", sep=self.sep)
            ping_bytes = ensure_bytes(ping, self.sep)
            logger.debug("ping: %s", ping_bytes)
            await writer.write_frame(ping_bytes)
            await writer.flush()  # in both modes: a ping waits for a pending send, and never queues behind one

    async def _write(self, writer: AsyncWriter, frame: bytes) -> None:
        """Write ``frame``; unless ``write_behind``, return once it is handed to the server."""
        await writer.write_frame(frame)
        if not self.write_behind:
            await writer.flush()

    async def _until_stream_must_end(self, writer: AsyncWriter, stream: asyncio.Future[Any]) -> None:
        """Return when the client left; on shutdown, cancel ``stream`` once the grace period is over."""
        if await writer.context.wait() != SHUTDOWN:
            return
        if self._shutdown_event is not None:
            self._shutdown_event.set()
        if self._shutdown_grace_period > 0:
            await asyncio.sleep(self._shutdown_grace_period)
        stream.cancel()  # in this same step: with no grace, the stream does not run again

    def _send_headers(self) -> list[tuple[str, str]]:
        """``raw_headers`` as text pairs; ``Connection`` is left to the transport (HTTP/1.x only)."""
        return [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.raw_headers
            if name != b"connection"
        ]

    def _options(self) -> Options:
        """The transport's options: the status and headers as they are now, ``send_timeout``, no heartbeat
        (``ping`` is this response's own)."""
        return Options(self.status_code, self._send_headers(), self.send_timeout, heartbeat=None)

    async def _answer_head(self, scope: Scope, send: Send) -> None:
        """HEAD: the headers GET would get and an empty body, each send bounded by ``send_timeout``; the
        content is never touched."""
        try:
            await answer_head(scope, send, self._options())
        except SendTimedOut as exc:
            raise SendTimeoutError() from exc
        if self.background is not None:
            await self.background()


async def _cancelled(tasks: set[asyncio.Future[None]]) -> None:
    """Cancel the ``tasks`` still running and wait until they stopped."""
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def _shielded(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run ``cleanup`` to its end (as sse-starlette's shielded scope) even if the caller is cancelled
    meanwhile; the cancellation is raised once it ended."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _flush(writer: AsyncWriter) -> ClientDisconnected | None:
    """Wait until what was written is handed to the transport; the error if the stream was dropped instead."""
    try:
        await writer.flush()
    except ClientDisconnected as exc:
        return exc
    return None


__all__ = [
    "AppStatus",
    "EventSourceResponse",
    "JSONServerSentEvent",
    "SendTimeoutError",
    "ServerSentEvent",
    "ensure_bytes",
]

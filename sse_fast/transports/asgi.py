"""ASGI: a sink over ``send``, a watch on ``receive`` for ``http.disconnect``, and ``ASGIResponse``.

The sink sends ``http.response.start`` with the SSE headers before anything else, through the writer, so
that send is bounded by ``send_timeout`` like every other. The body always ends with ``more_body=False``,
except after a send timeout, when the app returns without it so that the server drops a connection
that stopped reading, and when the handler raised: then the app raises the error once what was written
is sent, as Starlette's ``StreamingResponse`` does, and the server drops the connection (uvicorn logs it
and closes the connection without the final chunk).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Tuple

from .._endings import Ending, ended, start_took_over
from ..errors import HTTPTransportFailed, InvalidType, NotHTTP, SendTimedOut, StreamingNotSupported
from ..types import Receive, Scope, Send
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter, Default
from .base import Lost, nobody
from .headers import Headers
from .options import DEFAULT_HEARTBEAT, Options

Handler = Callable[[AsyncWriter], Awaitable[Any]]


class ASGISink:
    """Owns the ASGI framing: ``start()`` sends the response start, ``send(data)`` a body chunk with
    ``more_body=True``, ``end()`` the closing ``more_body=False``.

    It watches ``receive`` for ``http.disconnect`` (or a broken ``receive``) with one task on ``receive()``
    at a time and a done callback, the sink itself, no coroutine of its own: an idle stream holds little
    more than the server's own receive."""

    __slots__ = ("_send", "_start", "_receive", "_receiving", "_lost")

    def __init__(self, receive: Receive, send: Send, start: Dict[str, Any]) -> None:
        self._send = send
        self._start: Optional[Dict[str, Any]] = start  # until it is sent
        self._receive = receive
        self._receiving: Optional[asyncio.Future[Any]] = None  # the pending receive(), while watched
        self._lost: Lost = nobody

    def watch(self, lost: Lost) -> None:
        self._lost = lost
        self._listen()

    def _listen(self) -> None:
        received = self._receive()
        if not asyncio.iscoroutine(received):  # a server's own awaitable (granian 2.5's is future-like, and
            received = _awaited(received)  # its callbacks never ran): awaited in a task of ours instead
        context = contextvars.copy_context()  # the task's and, after it, its done callback's: one per stream
        self._receiving = receiving = _task(received, context)
        receiving.add_done_callback(self, context=context)

    def __call__(self, receiving: asyncio.Future[Any]) -> None:
        """The watched ``receive()`` is done (the sink is its done callback: no bound method held per stream)."""
        if receiving.cancelled():  # the body ended: nobody needs to know
            return
        try:
            gone = receiving.result().get("type") == "http.disconnect"
        except (OSError, RuntimeError):
            gone = True
        if gone:
            self._receiving = None
            self._lost()
        else:  # a request body nobody reads
            self._listen()

    def _unwatch(self) -> None:
        self._lost = nobody  # the writer's: no reference back to it once the body is over
        receiving, self._receiving = self._receiving, None
        if receiving is not None:
            receiving.cancel()

    async def start(self) -> None:
        """Send ``http.response.start`` (once)."""
        start, self._start = self._start, None
        if start is not None:
            await self._send(start)

    def send(self, data: bytes) -> Awaitable[None]:
        """Send ``data`` as a body chunk, more to come (the writer sends ``start()`` before any)."""
        return self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.start()
        try:  # receive() stays watched during the closing send: a server may answer it only once it returned
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._unwatch()

    async def break_off(self, error: BaseException) -> None:
        """Leave the body unfinished: the app raises ``error`` next, and the server drops the connection."""
        self._unwatch()

    def abort(self) -> None:
        self._unwatch()


def _task(coro: Coroutine[Any, Any, Any], context: contextvars.Context) -> "asyncio.Task[Any]":
    """A task running ``coro`` in ``context`` (Python < 3.11 cannot pass one: the task copies the current)."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 11):
        return loop.create_task(coro, context=context)
    return loop.create_task(coro)  # pragma: no cover - Python < 3.11


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def check_scope(scope: Scope) -> None:
    """Refuse a scope that is not an HTTP request that can take a body."""
    kind = scope.get("type")
    if kind != "http":
        raise NotHTTP(f"new_writer() got an ASGI {kind!r} scope; expected an 'http' scope")
    if scope.get("method") == "HEAD":
        raise StreamingNotSupported("new_writer() got a HEAD request, which has no body to stream events in")


def _start_message(scope: Scope, options: Options) -> Dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": options.status,
        "headers": options.raw_headers(scope.get("http_version")),
    }


async def answer_head(scope: Scope, send: Send, options: Options) -> None:
    """HEAD: the status and headers a GET would get, and an empty body; each send bounded by
    ``send_timeout`` (``SendTimedOut`` when it stalls)."""
    end = {"type": "http.response.body", "body": b"", "more_body": False}
    for message in (_start_message(scope, options), end):
        await _bounded(send(message), options.send_timeout, f"the ASGI send of {message['type']!r} for HEAD")


async def open_asgi(scope: Scope, receive: Receive, send: Send, options: Options, *, wait: bool = True) -> AsyncWriter:
    """Open a writer on ``send``; ``receive`` is watched for the client leaving from now on.

    ``wait=True`` returns once the server took ``http.response.start`` (``HTTPTransportFailed`` if ``send``
    refuses it, ``SendTimedOut`` past ``send_timeout``); ``wait=False`` returns at once and the writer sends
    the start first, bounded like every send. Read the request body before opening.
    """
    if not wait:
        return _starting(scope, receive, send, options)
    sink, writer = _new(scope, receive, send, options)
    try:
        await _bounded(sink.start(), options.send_timeout, "the ASGI send of 'http.response.start'")
    except SendTimedOut:
        writer.abort()
        raise
    except Exception as exc:
        writer.abort()
        raise HTTPTransportFailed(
            f"could not start the response on ASGI send {send!r} ({type(exc).__name__}: {exc}); "
            "expected a send that has not started a response yet"
        ) from exc
    return writer


def _starting(scope: Scope, receive: Receive, send: Send, options: Options) -> AsyncWriter:
    """A writer whose sender sends the response start now; the handler need not wait for it."""
    sink, writer = _new(scope, receive, send, options)
    writer.send_first(sink.start)  # started now, so that it runs before the handler's first pause
    return writer


def _new(scope: Scope, receive: Receive, send: Send, options: Options) -> Tuple[ASGISink, AsyncWriter]:
    check_scope(scope)
    sink = ASGISink(receive, send, _start_message(scope, options))
    return sink, AsyncWriter(sink, send_timeout=options.send_timeout, default=options.default)


async def _bounded(send: Awaitable[None], timeout: Optional[float], what: str) -> None:
    try:
        await asyncio.wait_for(send, timeout)
    except asyncio.TimeoutError:
        raise ended(Ending.SEND_TIMEOUT, start_took_over(what, timeout)) from None


def run_handler(handler: Handler, scope: Scope, receive: Receive, send: Send, options: Options) -> Awaitable[None]:
    """Run ``handler(writer)`` on a new writer (``AsyncWriter.run``): the response starts beside it, the
    handler is cancelled when the client goes, the writer is closed at its end. A HEAD request gets the
    headers only; the handler does not run. Returns what to await (no coroutine of its own per stream)."""
    if _is_head(scope):
        return answer_head(scope, send, options)
    return _starting(scope, receive, send, options).run(handler, options.heartbeat)


def _is_head(scope: Scope) -> bool:
    return scope.get("type") == "http" and scope.get("method") == "HEAD"


class ASGIResponse:
    """An ASGI app (and response) that streams ``handler(writer)``; for code without Starlette.

    ``await ASGIResponse(handler)(scope, receive, send)``, or mount it as an app. ``heartbeat``: seconds of
    silence before a ``: heartbeat`` comment (None or 0: none).
    """

    __slots__ = ("handler", "options")

    def __init__(
        self,
        handler: Handler,
        *,
        status: int = 200,
        headers: Headers = None,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = DEFAULT_HEARTBEAT,
        default: Default = None,
    ) -> None:
        if not callable(handler):
            raise InvalidType(
                "ASGIResponse expects a handler, async def handler(writer); "
                f"got {type(handler).__name__} {handler!r:.80}"
            )
        self.handler: Handler = handler
        self.options: Options = Options.shared(
            status=status, headers=headers, send_timeout=send_timeout, heartbeat=heartbeat, default=default
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``run_handler``, with ``AsyncWriter.run``'s steps taken in this frame: an idle stream holds one
        coroutine, not this one and ``run``'s (~250 B; a context manager would cost ~100 B of it back)."""
        options = self.options
        if _is_head(scope):
            return await answer_head(scope, send, options)
        writer = _starting(scope, receive, send, options)
        if options.heartbeat:
            writer.start_heartbeat(options.heartbeat)
        try:
            await writer._call(self.handler)
        except BaseException as exc:
            if not await writer._ran(exc):
                raise
        else:
            await writer._ran(None)

"""ASGI: a sink over ``send``, a watch on ``receive`` for ``http.disconnect``, and ``ASGIResponse``.

Opening sends ``http.response.start`` with the SSE headers at once; the body always ends with
``more_body=False`` (except after a send timeout, when the app returns without it so that the server
drops a connection that stopped reading).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional

from ..context import CLIENT_DISCONNECTED
from ..errors import HTTPTransportFailed, NotHTTP, StreamingNotSupported
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter, Default
from .headers import Headers, sse_headers
from .run import run_on

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
Handler = Callable[[AsyncWriter], Awaitable[Any]]


class ASGISink:
    """Sends body chunks with ``more_body=True``; ``end()`` sends the closing ``more_body=False``."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.watcher: Optional[asyncio.Task] = None

    async def send(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        self._stop_watching()
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def abort(self) -> None:
        self._stop_watching()

    def _stop_watching(self) -> None:
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()


def check_scope(scope: Any) -> None:
    """Refuse a scope that is not an HTTP request that can take a body."""
    kind = scope.get("type")
    if kind != "http":
        raise NotHTTP(f"new_writer() got an ASGI {kind!r} scope; expected an 'http' scope")
    if scope.get("method") == "HEAD":
        raise StreamingNotSupported("new_writer() got a HEAD request, which has no body to stream events in")


def _start_message(scope: Scope, status: int, headers: Headers) -> Dict[str, Any]:
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in sse_headers(scope.get("http_version"), headers)
    ]
    return {"type": "http.response.start", "status": status, "headers": raw}


async def answer_head(
    scope: Scope, send: Send, status: int = 200, headers: Headers = None, send_timeout: Optional[float] = None
) -> None:
    """HEAD: the status and headers a GET would get, and an empty body; each send bounded by ``send_timeout``
    (``HTTPTransportFailed`` when it stalls)."""
    for message in (_start_message(scope, status, headers), {"type": "http.response.body", "body": b""}):
        try:
            await asyncio.wait_for(send(message), send_timeout)
        except asyncio.TimeoutError:
            raise HTTPTransportFailed(
                f"the ASGI send of {message['type']!r} for a HEAD request took over {send_timeout} s"
            ) from None


async def open_asgi(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    default: Default = None,
) -> AsyncWriter:
    """Start the response on ``send`` and return its writer; ``receive`` is watched for the client leaving.

    Read the request body before opening: from here on the writer consumes ``receive``.
    """
    check_scope(scope)
    sink = ASGISink(send)
    try:
        await send(_start_message(scope, status, headers))
    except Exception as exc:
        raise HTTPTransportFailed(
            f"could not start the response on ASGI send {send!r} ({type(exc).__name__}: {exc}); "
            "expected a send that has not started a response yet"
        ) from exc
    writer = AsyncWriter(sink, send_timeout=send_timeout, default=default)
    sink.watcher = asyncio.get_running_loop().create_task(_watch(receive, writer))
    return writer


async def _watch(receive: Receive, writer: AsyncWriter) -> None:
    while not writer.closed:
        try:
            message = await receive()
        except (OSError, RuntimeError):
            message = {"type": "http.disconnect"}
        if message.get("type") == "http.disconnect":
            writer.lost(CLIENT_DISCONNECTED)
            return


async def run_handler(
    handler: Handler,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    heartbeat: Optional[float] = None,
    default: Default = None,
) -> None:
    """Open a writer and run ``handler(writer)`` on it (``run_on``): a task cancelled when the client goes,
    then the writer is closed. A HEAD request gets the headers only; the handler does not run."""
    if scope.get("type") == "http" and scope.get("method") == "HEAD":
        await answer_head(scope, send, status, headers, send_timeout)
        return
    writer = await open_asgi(
        scope, receive, send, status=status, headers=headers, send_timeout=send_timeout, default=default
    )
    await run_on(writer, handler, heartbeat)


class ASGIResponse:
    """An ASGI app (and response) that streams ``handler(writer)``; for code without Starlette.

    ``await ASGIResponse(handler)(scope, receive, send)``, or mount it as an app.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        status: int = 200,
        headers: Headers = None,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = None,
        default: Default = None,
    ) -> None:
        self.handler = handler
        self.options: Dict[str, Any] = dict(
            status=status, headers=headers, send_timeout=send_timeout, heartbeat=heartbeat, default=default
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_handler(self.handler, scope, receive, send, **self.options)

"""WSGI: the handler writes from a worker thread into a bounded queue that the server iterates.

The queue holds at most ``max_buffered`` bytes (one batch more if a single batch is bigger), so a
slow client holds bounded memory; a write that finds it full waits up to ``send_timeout``, then the
stream is dropped. When the server closes the iterator (the client is gone), the writer is closed
and the handler's next write raises ``ClientDisconnected``. Under waitress, with
``channel_request_lookahead >= 1``, a client that leaves is noticed while the stream is idle too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, Optional

from ..context import CLIENT_DISCONNECTED
from ..errors import ClientDisconnected, HTTPTransportFailed, NotHTTP, StreamingNotSupported
from ..writer import DEFAULT_SEND_TIMEOUT, Default, Writer
from .headers import Headers, sse_headers

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
Handler = Callable[[Writer], Any]

DEFAULT_MAX_BUFFERED = 1 << 20
POLL = 0.2  # how often an idle iterator asks the server whether the client is still there


class WSGIBody:
    """The bounded queue between the handler's thread (the sink side) and the server (the iterator side)."""

    def __init__(self, environ: Environ, max_buffered: int = DEFAULT_MAX_BUFFERED) -> None:
        self.max_buffered = max_buffered
        self.writer: Optional[Writer] = None
        self._cond = threading.Condition()
        self._chunks: Deque[bytes] = deque()
        self._buffered = 0
        self._over = False  # no more data will come (ended or dropped)
        self.delivered = threading.Event()  # the server has taken everything (or closed the body)
        self._gone = environ.get("waitress.client_disconnected")

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet taken by the server."""
        return self._buffered

    # -- sink side: the writer's thread ---------------------------------------------------------------

    def send(self, data: bytes, timeout: Optional[float]) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._chunks and self._buffered + len(data) > self.max_buffered and not self._over:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"the WSGI server took nothing for {timeout} s")
                self._cond.wait(left)
            if self._over:
                raise ClientDisconnected("the WSGI server closed the response")
            self._chunks.append(data)
            self._buffered += len(data)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._over = True
            self._cond.notify_all()

    def abort(self) -> None:
        with self._cond:
            self._over = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()

    # -- iterator side: the server's thread -----------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with self._cond:
            while not self._chunks and not self._over:
                self._cond.wait(POLL if self._gone else None)
                if self._gone is not None and not self._chunks and self._gone():
                    break
            if self._chunks:
                data = b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                self._cond.notify_all()
                return data
        self.close()
        raise StopIteration

    def close(self) -> None:
        """Called by the server when the response is over; if the stream was not, the client left."""
        with self._cond:
            was_over = self._over
            self._over = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()
        self.delivered.set()
        if not was_over:
            self._client_left()

    def _client_left(self) -> None:
        if self.writer is not None:
            self.writer.lost(CLIENT_DISCONNECTED)


def check_environ(environ: Any) -> None:
    """Refuse an environ that is not an HTTP request that can take a body."""
    scheme = environ.get("wsgi.url_scheme", "http")
    if scheme not in ("http", "https"):
        raise NotHTTP(f"new_writer() got a WSGI environ for {scheme!r}; expected an http(s) request")
    if environ.get("REQUEST_METHOD") == "HEAD":
        raise StreamingNotSupported("new_writer() got a HEAD request, which has no body to stream events in")


def _start(start_response: StartResponse, status: int, headers: Headers) -> None:
    try:
        start_response(_status_line(status), sse_headers(None, headers, hop_by_hop=False))
    except Exception as exc:
        raise HTTPTransportFailed(
            f"start_response {start_response!r} refused the SSE response ({type(exc).__name__}: {exc})"
        ) from exc


def open_wsgi(
    environ: Environ,
    start_response: StartResponse,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    max_buffered: int = DEFAULT_MAX_BUFFERED,
    default: Default = None,
) -> Writer:
    """Start the response and return its writer; the app must return ``writer.sink`` (the body iterable)
    and write from another thread. ``WSGIResponse`` does both for you."""
    check_environ(environ)
    _start(start_response, status, headers)
    body = WSGIBody(environ, max_buffered)
    writer = Writer(body, send_timeout=send_timeout, default=default)
    body.writer = writer
    return writer


class WSGIResponse:
    """A WSGI app that streams ``handler(writer)``, run in a worker thread.

    Return it from a Flask view, mount it, or serve it directly. ``heartbeat`` (seconds) starts the
    writer's heartbeat.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        status: int = 200,
        headers: Headers = None,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = None,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        default: Default = None,
    ) -> None:
        self.handler = handler
        self.heartbeat = heartbeat
        self.options: Dict[str, Any] = dict(
            status=status,
            headers=headers,
            send_timeout=send_timeout,
            max_buffered=max_buffered,
            default=default,
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Stream the handler; a HEAD request gets the headers and an empty body, the handler does not run."""
        if environ.get("REQUEST_METHOD") == "HEAD":
            _start(start_response, self.options["status"], self.options["headers"])
            return []
        writer = open_wsgi(environ, start_response, **self.options)
        if self.heartbeat:
            writer.start_heartbeat(self.heartbeat)
        threading.Thread(
            target=_run, args=(self.handler, writer), name="sse-wsgi-handler", daemon=True
        ).start()
        return writer.sink


def _run(handler: Handler, writer: Writer) -> None:
    try:
        handler(writer)
    except ClientDisconnected:
        pass
    finally:
        writer.close()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"

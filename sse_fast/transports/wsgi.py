"""WSGI: the handler writes from a worker thread into a bounded queue that the server iterates.

The queue holds at most ``max_buffered`` bytes (one batch more if a single batch is bigger), so a
slow client holds bounded memory; a write that finds it full waits up to ``send_timeout``, then the
stream is dropped. When the server closes the iterator (the client is gone), the writer is closed
and the handler's next write raises ``ClientDisconnected``. Under waitress, with
``channel_request_lookahead >= 1``, a client that leaves is noticed while the stream is idle too.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Iterable, Iterator, Optional, Type

from ..errors import ClientDisconnected, HTTPTransportFailed, InvalidType, NotHTTP, StreamingNotSupported
from ..types import Environ, StartResponse
from ..writer import DEFAULT_SEND_TIMEOUT, Default, Writer
from .base import BoundedQueue, Lost
from .headers import Headers
from .options import DEFAULT_HEARTBEAT, DEFAULT_MAX_BUFFERED, Options

Handler = Callable[[Writer], Any]

POLL = 0.2  # how often an idle iterator asks the server whether the client is still there
log: logging.Logger = logging.getLogger("sse_fast.transports.wsgi")


class WSGIBody:
    """The body the server iterates: a ``BoundedQueue`` between the handler's thread (the sink side) and the
    server's (the iterator side)."""

    def __init__(self, environ: Environ, max_buffered: int = DEFAULT_MAX_BUFFERED) -> None:
        self._queue = BoundedQueue(max_buffered)
        self._cond = threading.Condition()
        self._delivered = threading.Event()  # the server has taken everything (or closed the body)
        self._gone = environ.get("waitress.client_disconnected")
        self._error: Optional[BaseException] = None  # what the handler raised: the body raises it at its end

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet taken by the server."""
        return self._queue.buffered

    # -- sink side: the writer's thread ---------------------------------------------------------------

    def watch(self, lost: Lost) -> None:
        self._queue.lost = lost

    def send(self, data: bytes, timeout: Optional[float]) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue.full_for(len(data)):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"the WSGI server took nothing for {timeout} s")
                self._cond.wait(left)
            if self._queue.over:
                raise ClientDisconnected("the WSGI server closed the response")
            self._queue.put(data)
            self._ready()

    def end(self, timeout: Optional[float]) -> None:
        """No more data; returns once the server has taken what is queued, or after ``timeout``."""
        with self._cond:
            self._queue.over = True
            self._ready()
        self._delivered.wait(timeout)

    def break_off(self, error: BaseException) -> None:
        """No more data: the server takes what is queued, then the body raises ``error``, and the server cuts
        the response off (waitress logs it and closes the connection without the last chunk)."""
        with self._cond:
            self._error = error
            self._queue.over = True
            self._ready()

    def abort(self) -> None:
        with self._cond:
            self._queue.over = True
            self._queue.clear()
            self._ready()

    def _ready(self) -> None:
        """(Holding the lock) wake the iterator side: data came, or the body is over."""
        self._cond.notify_all()

    # -- iterator side: the server's thread -----------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with self._cond:
            while not self._queue and not self._queue.over:
                self._cond.wait(POLL if self._gone else None)
                if self._gone is not None and not self._queue and self._gone():
                    break
            if self._queue:
                return self._take()
        self.close()
        self._raise_error()
        raise StopIteration

    def _raise_error(self) -> None:
        """Raise what the handler raised, if it did (once: the body lets go of it, so no cycle holds it)."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _take(self) -> bytes:
        """(Holding the lock) everything queued, as one chunk; writers waiting for room go on."""
        data = self._queue.take()
        self._cond.notify_all()
        return data

    def close(self) -> None:
        """Called by the server when the response is over; if the stream was not, the client left."""
        with self._cond:
            left = self._queue.stop()
            self._cond.notify_all()
        self._delivered.set()
        if left:
            self._queue.lost()


def check_environ(environ: Any) -> None:
    """Refuse an environ that is not an HTTP request that can take a body."""
    scheme = environ.get("wsgi.url_scheme", "http")
    if scheme not in ("http", "https"):
        raise NotHTTP(f"new_writer() got a WSGI environ for {scheme!r}; expected an http(s) request")
    if environ.get("REQUEST_METHOD") == "HEAD":
        raise StreamingNotSupported("new_writer() got a HEAD request, which has no body to stream events in")


def _start(start_response: StartResponse, options: Options) -> None:
    try:
        start_response(_status_line(options.status), options.header_pairs())
    except Exception as exc:
        raise HTTPTransportFailed(
            f"start_response {start_response!r} refused the SSE response ({type(exc).__name__}: {exc})"
        ) from exc


def open_wsgi(
    environ: Environ, start_response: StartResponse, options: Options, body: Type[WSGIBody] = WSGIBody
) -> Writer:
    """Start the response and return its writer; the app must return ``writer.sink`` (the body iterable, a
    ``body``) and write from another thread. ``WSGIResponse`` does both for you."""
    check_environ(environ)
    _start(start_response, options)
    return Writer(body(environ, options.max_buffered), send_timeout=options.send_timeout, default=options.default)


class WSGIResponse:
    """A WSGI app that streams ``handler(writer)``, run in a worker thread.

    Return it from a Flask view, mount it, or serve it directly. ``heartbeat``: seconds of silence before a
    ``: heartbeat`` comment (None or 0: none).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        status: int = 200,
        headers: Headers = None,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = DEFAULT_HEARTBEAT,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        default: Default = None,
    ) -> None:
        if not callable(handler):
            raise InvalidType(
                f"WSGIResponse expects a handler, def handler(writer); got {type(handler).__name__} {handler!r:.80}"
            )
        self.handler: Handler = handler
        self.options: Options = Options.shared(
            status=status,
            headers=headers,
            send_timeout=send_timeout,
            heartbeat=heartbeat,
            max_buffered=max_buffered,
            default=default,
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Stream the handler; a HEAD request gets the headers and an empty body, the handler does not run."""
        return serve(self.handler, environ, start_response, self.options)


def serve(
    handler: Handler,
    environ: Environ,
    start_response: StartResponse,
    options: Options,
    body: Type[WSGIBody] = WSGIBody,
) -> Iterable[bytes]:
    """Start the response and ``handler(writer)`` on a worker thread; returns the body for the server (a
    ``body``: a subclass drains it otherwise, as Django's ASGI handler does a sync view's)."""
    if environ.get("REQUEST_METHOD") == "HEAD":
        _start(start_response, options)
        return []
    writer = open_wsgi(environ, start_response, options, body)
    if options.heartbeat:
        writer.start_heartbeat(options.heartbeat)
    threading.Thread(target=_run, args=(handler, writer), name="sse-wsgi-handler", daemon=True).start()
    started: WSGIBody = writer.sink
    return started


def _run(handler: Handler, writer: Writer) -> None:
    """Run ``handler(writer)``, then close the writer; if the handler raised, the body is cut off and raises
    the error in the server's thread instead (which logs it), once the server took what was written. An error
    after the client left reaches no server: it is logged here (``sse_fast.transports.wsgi``)."""
    try:
        handler(writer)
    except Exception as exc:  # (``exc`` is let go at the clause's end: no cycle through this frame holds it)
        if writer._failed_by(exc) and not writer._finish(exc):  # the client had left: the server gets nothing
            log.error("the handler of a stream whose client had left raised", exc_info=exc)
    finally:
        writer.close()  # after a return (or after _finish, where it does nothing)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"

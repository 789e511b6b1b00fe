"""A client for tests: read events from an endless stream, then leave cleanly.

``read_events(target, path, n=3)`` takes an ASGI app (driven in-process: the client leaving is an
``http.disconnect``), a WSGI app (driven in-process on a thread: the client leaving closes the body, and
``waitress.client_disconnected`` in the environ says so while the stream is idle) or a base URL (a real
socket, through httpx), reads until ``n`` events arrived, ``until(event)`` is true or the stream ends,
disconnects, and returns the parsed events::

    events = read_events(app, "/events", n=3)                      # in-process ASGI or WSGI (Flask, Django)
    events = read_events("http://127.0.0.1:8000", "/events", n=3)  # over a socket
    events = await aread_events(app, "/events", until=lambda e: e.data == "[DONE]")

``read_response`` / ``aread_response`` return the status and headers too. ``timeout`` bounds the whole
read; when it passes, ``TimeoutError`` says what had arrived. Over ASGI the app must also return within
``timeout`` of the disconnect, or ``TimeoutError`` says it did not stop; over WSGI the body must end
within ``timeout`` of the client leaving.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import sys
import threading
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Union, cast
from urllib.parse import urlsplit

from ..parse import EventParser, ServerSentEvent
from ..types import Environ, Message, StartResponse

ASGIApp = Callable[..., Awaitable[None]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Target = Union[str, ASGIApp, WSGIApp]
Until = Callable[[ServerSentEvent], bool]
Headers = Optional[Mapping[str, str]]

DEFAULT_TIMEOUT = 5.0


class EventStreamResult(NamedTuple):
    """What a test read: the status, the response headers (names lower-cased) and the events."""

    status: int
    headers: Dict[str, str]
    events: List[ServerSentEvent]


class _Reader:
    """Parses body chunks and says when the test has read enough."""

    def __init__(self, n: Optional[int], until: Optional[Until]) -> None:
        self.parser = EventParser()
        self.events: List[ServerSentEvent] = []
        self.n = n
        self.until = until
        self.enough = False

    def feed(self, chunk: bytes) -> bool:
        for event in self.parser.feed(chunk):
            if self.enough:
                break
            self.events.append(event)
            if (self.n is not None and len(self.events) >= self.n) or (self.until is not None and self.until(event)):
                self.enough = True
        return self.enough

    def timed_out(self, timeout: float) -> TimeoutError:
        return TimeoutError(
            f"read {len(self.events)} event(s) in {timeout} s, wanted "
            f"{self.n if self.n is not None else 'an event matching until'}: {self.events!r}"
        )


def read_response(
    target: Target,
    path: str = "/",
    *,
    n: Optional[int] = None,
    until: Optional[Until] = None,
    headers: Headers = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> EventStreamResult:
    """Read events from ``target`` (an ASGI or WSGI app, or a base URL), then disconnect; see the module doc."""
    if isinstance(target, str):
        return _read_url(target, path, _Reader(n, until), headers, timeout)
    if _is_wsgi(target):
        return _read_wsgi(cast(WSGIApp, target), path, _Reader(n, until), headers, timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(aread_response(target, path, n=n, until=until, headers=headers, timeout=timeout))
    raise RuntimeError("read_response() called from a running event loop; use `await aread_response(...)`")


def read_events(
    target: Target,
    path: str = "/",
    *,
    n: Optional[int] = None,
    until: Optional[Until] = None,
    headers: Headers = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerSentEvent]:
    """The events of ``read_response``."""
    return read_response(target, path, n=n, until=until, headers=headers, timeout=timeout).events


async def aread_response(
    target: Target,
    path: str = "/",
    *,
    n: Optional[int] = None,
    until: Optional[Until] = None,
    headers: Headers = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> EventStreamResult:
    """``read_response`` for async tests."""
    reader = _Reader(n, until)
    if isinstance(target, str):
        return await _aread_url(target, path, reader, headers, timeout)
    if _is_wsgi(target):
        loop = asyncio.get_running_loop()
        app = cast(WSGIApp, target)
        return await loop.run_in_executor(None, _read_wsgi, app, path, reader, headers, timeout)
    return await _read_asgi(cast(ASGIApp, target), path, reader, headers, timeout)


async def aread_events(
    target: Target,
    path: str = "/",
    *,
    n: Optional[int] = None,
    until: Optional[Until] = None,
    headers: Headers = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> List[ServerSentEvent]:
    """The events of ``aread_response``."""
    return (await aread_response(target, path, n=n, until=until, headers=headers, timeout=timeout)).events


# -- in-process ASGI --------------------------------------------------------------------------------------


async def _read_asgi(app: ASGIApp, path: str, reader: _Reader, headers: Headers, timeout: float) -> EventStreamResult:
    split = urlsplit(path)
    raw_headers = [(b"host", b"testserver"), (b"accept", b"text/event-stream")]
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": split.path or "/",
        "raw_path": (split.path or "/").encode("latin-1"),
        "query_string": split.query.encode("latin-1"),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    left = asyncio.Event()  # the client has disconnected
    finished = asyncio.Event()  # enough read, or the body ended
    started: Dict[str, Any] = {}
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if left.is_set():
            raise ConnectionResetError("the test client has disconnected")
        if message["type"] == "http.response.start":
            started["status"] = message["status"]
            started["headers"] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body" and (
            reader.feed(message.get("body", b"")) or not message.get("more_body", False)
        ):
            finished.set()

    task = asyncio.ensure_future(app(scope, receive, send))
    done_first = asyncio.ensure_future(finished.wait())
    try:
        await asyncio.wait({task, done_first}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not finished.is_set():
            task.result()  # the app's own error, if it raised
        left.set()
        await asyncio.wait({task}, timeout=timeout)
        if not task.done():
            raise TimeoutError(f"the app did not return within {timeout} s of http.disconnect")
        task.result()
    finally:
        done_first.cancel()
        if not task.done():
            task.cancel()
    if "status" not in started:
        raise TimeoutError(f"the app sent no response within {timeout} s")
    if not finished.is_set():
        raise reader.timed_out(timeout)
    return EventStreamResult(started["status"], started["headers"], reader.events)


# -- in-process WSGI ---------------------------------------------------------------------------------------


def _is_wsgi(app: Any) -> bool:
    """A callable that is not a coroutine function and takes two positional arguments (environ,
    start_response) is a WSGI app; anything else is taken for ASGI."""
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__):
        return False
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional for p in parameters) == 2


def _wsgi_environ(path: str, headers: Headers, left: threading.Event) -> Environ:
    split = urlsplit(path)
    environ: Environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": split.path or "/",
        "QUERY_STRING": split.query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_ACCEPT": "text/event-stream",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "waitress.client_disconnected": left.is_set,
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return environ


def _read_wsgi(app: WSGIApp, path: str, reader: _Reader, headers: Headers, timeout: float) -> EventStreamResult:
    """Iterate the app's body on a thread (as a WSGI server does) until enough is read, then close it."""
    left = threading.Event()  # the client has left: the body is closed after it is set
    read = threading.Event()  # the body is no longer read: enough read, it ended, or the client left
    ended = threading.Event()  # the body ended by itself
    stopped = threading.Event()  # the body is closed (or the app raised)
    started: Dict[str, Any] = {}
    failed: List[BaseException] = []

    def start_response(status: str, response_headers: List[Any], exc_info: Any = None) -> Callable[[bytes], Any]:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = {name.lower(): value for name, value in response_headers}
        return reader.feed  # the legacy write() callable

    def serve() -> None:
        try:
            body = app(_wsgi_environ(path, headers, left), start_response)
            try:
                for chunk in body:
                    if reader.feed(chunk) or left.is_set():
                        break
                else:
                    if not left.is_set():  # (an idle body ends when the client leaves)
                        ended.set()
            finally:
                read.set()
                left.set()
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)
        finally:
            stopped.set()

    threading.Thread(target=serve, name="sse-fast-test-wsgi", daemon=True).start()
    read.wait(timeout)
    left.set()  # the client leaves: an idle body notices within its poll, a writing one at its next write
    if not stopped.wait(timeout):
        raise TimeoutError(f"the WSGI body did not end within {timeout} s of the client leaving")
    if failed:
        raise failed[0]
    if "status" not in started:
        raise TimeoutError(f"the app sent no response within {timeout} s")
    if not (reader.enough or ended.is_set()):
        raise reader.timed_out(timeout)
    return EventStreamResult(started["status"], started["headers"], reader.events)


# -- a real socket (httpx) --------------------------------------------------------------------------------


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading a URL needs httpx: pip install httpx") from exc
    return httpx


def _request_headers(headers: Headers) -> Dict[str, str]:
    return {"accept": "text/event-stream", **(headers or {})}


def _read_url(base: str, path: str, reader: _Reader, headers: Headers, timeout: float) -> EventStreamResult:
    httpx = _httpx()
    deadline = time.monotonic() + timeout
    url = base.rstrip("/") + path
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("GET", url, headers=_request_headers(headers)) as response,
    ):
        try:
            for chunk in response.iter_bytes():
                if reader.feed(chunk):
                    break
                if time.monotonic() > deadline:
                    raise reader.timed_out(timeout)
        except httpx.TimeoutException:
            raise reader.timed_out(timeout) from None
        return EventStreamResult(response.status_code, dict(response.headers), reader.events)


async def _aread_url(base: str, path: str, reader: _Reader, headers: Headers, timeout: float) -> EventStreamResult:
    httpx = _httpx()

    async def read() -> EventStreamResult:
        async with httpx.AsyncClient(timeout=timeout) as client:
            url = base.rstrip("/") + path
            async with client.stream("GET", url, headers=_request_headers(headers)) as response:
                async for chunk in response.aiter_bytes():
                    if reader.feed(chunk):
                        break
                return EventStreamResult(response.status_code, dict(response.headers), reader.events)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise reader.timed_out(timeout) from None

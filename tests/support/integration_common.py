"""What the integration tests share: a record of what the server side saw, the framework-free handlers
each framework serves, an httpx-sse reader, and the checks of what a client reads from those handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional

import httpx
from httpx_sse import ServerSentEvent, connect_sse

from sse_fast import AsyncWriter, ClientDisconnected, Event, Writer

HOST = "127.0.0.1"

EXPECTED_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


class Seen:
    """Values the server side reports by key; ``wait`` blocks until a key arrives (a guard against hangs)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: Dict[str, Any] = {}

    def put(self, key: str, value: Any) -> None:
        with self._cond:
            self._values[key] = value
            self._cond.notify_all()

    def wait(self, key: str, timeout: float = 5.0) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._values, timeout):
                raise AssertionError(f"the server never reported {key!r} within {timeout} s")
            return self._values[key]

    def has(self, key: str) -> bool:
        with self._cond:
            return key in self._values

    def clear(self) -> None:
        with self._cond:
            self._values.clear()


SEEN = Seen()
TOO_LONG_ID = {"Last-Event-ID": "x" * 2000}


def items() -> Iterator[Any]:
    """The body ``check_items`` expects (followed by the [DONE] sentinel)."""
    yield {"a": 1}
    yield Event(event="named", data="raw")


async def async_items() -> AsyncIterator[Any]:
    for item in items():
        yield item


async def endless(writer: AsyncWriter) -> None:
    """Counts until the client leaves; then reports the writer's reason and what a late write raised."""
    try:
        i = 0
        while True:
            await writer.write_event(i)
            i += 1
            await asyncio.sleep(0.01)
    finally:
        SEEN.put("reason", writer.context.reason)
        try:
            await writer.write_event("late")
        except ClientDisconnected as exc:
            SEEN.put("late", exc)


def endless_sync(writer: Writer) -> None:
    """``endless`` for a worker thread, which also reports the error the write raised when the client left."""
    try:
        i = 0
        while True:
            writer.write_event(i)
            i += 1
            time.sleep(0.01)
    except ClientDisconnected as exc:
        SEEN.put("error", exc)
        raise
    finally:
        SEEN.put("reason", writer.context.reason)
        try:
            writer.write_event("late")
        except ClientDisconnected as exc:
            SEEN.put("late", exc)


def read_sse(
    url: str, n: Optional[int] = None, headers: Optional[Dict[str, str]] = None
) -> "tuple[httpx.Headers, List[ServerSentEvent]]":
    """The response headers and the first ``n`` events (all, if ``n`` is None) read by httpx-sse; then
    the connection is closed."""
    events: List[ServerSentEvent] = []
    with (
        httpx.Client(timeout=5) as client,
        connect_sse(client, "GET", url, headers=dict(headers or {})) as source,
    ):
        assert source.response.status_code == 200
        for event in source.iter_sse():
            events.append(event)
            if n is not None and len(events) >= n:
                break
        return source.response.headers, events


def check_headers(headers: httpx.Headers) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert headers.get(name) == value, (name, headers)


def check_resumed(url: str, data: Callable[[int], Any] = lambda i: {"i": i}) -> None:
    """``url`` serves ids 42-44 after Last-Event-ID 41, each with ``data(id)``, then [DONE], with the SSE
    headers and the view's own X-Extra."""
    headers, got = read_sse(url, headers={"Last-Event-ID": "41"})
    check_headers(headers)
    assert headers["x-extra"] == "1"
    assert [(e.id, e.json()) for e in got[:3]] == [(str(i), data(i)) for i in (42, 43, 44)]
    assert got[3].data == "[DONE]"


def first_after(last_event_id: Optional[str]) -> int:
    """The number to count on from after ``last_event_id``: 1 for none, or for an id that is not a number
    (``sse_fast.resume.UNREADABLE`` included: a bad id starts over, as an unknown one does)."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return int(last_event_id) + 1
    return 1


def check_first_ids(url: str, first: int, headers: Optional[Dict[str, str]] = None) -> None:
    """The first three events read from ``url`` have the ids ``first``, ``first + 1``, ``first + 2``."""
    _, got = read_sse(url, headers=headers)
    assert [e.id for e in got[:3]] == [str(i) for i in range(first, first + 3)]


def check_items(url: str) -> None:
    """``url`` serves ``items()``: a JSON message, a named raw event, then [DONE]."""
    _, got = read_sse(url)
    assert [(e.event, e.data) for e in got] == [
        ("message", '{"a":1}'),
        ("named", "raw"),
        ("message", "[DONE]"),
    ]


def check_client_leaving(url: str) -> None:
    """A client that reads three events of ``endless`` and leaves closes the writer: its reason says so, and a
    later write raises ClientDisconnected."""
    SEEN.clear()
    _, got = read_sse(url, n=3)
    assert [e.data for e in got] == ["0", "1", "2"]
    assert SEEN.wait("reason") == "client_disconnected"
    late = SEEN.wait("late")
    assert type(late) is ClientDisconnected  # the client left: neither SendTimedOut nor StreamClosed
    assert late.reason == "client_disconnected"


def check_head(url: str) -> None:
    """HEAD on a route whose handler reports ``SEEN.put("ran", ...)``: the GET headers, no body, no run
    (checked after the response came and again after a GET, which does run it)."""
    SEEN.clear()
    head = httpx.head(url, timeout=10)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""
    time.sleep(0.2)  # a handler started for the HEAD would have reported by now
    assert not SEEN.has("ran")
    assert httpx.get(url, timeout=10).status_code == 200
    assert SEEN.wait("ran")


FAILS_BYTES = b"data: first\n\ndata: second\n\n"  # what the failing handlers write before they raise


class HandlerFailed(RuntimeError):
    """What the failing handlers raise: its own type, so a test counts the log records of this error only."""


def fails_sync(writer: Writer) -> None:
    """Writes ``FAILS_BYTES``, then raises ``HandlerFailed``."""
    writer.write_raw_event("first")
    writer.write_raw_event("second")
    raise HandlerFailed("handler failed")


async def fails(writer: AsyncWriter) -> None:
    """``fails_sync`` for an ``AsyncWriter``."""
    await writer.write_raw_event("first")
    await writer.write_raw_event("second")
    raise HandlerFailed("handler failed")


def fails_late_sync(writer: Writer) -> None:
    """Writes until the client leaves, then raises ``HandlerFailed`` (a bug in its cleanup)."""
    try:
        while True:
            writer.write_raw_event("first")
            time.sleep(0.01)
    finally:
        raise HandlerFailed("handler failed")


async def fails_late(writer: AsyncWriter) -> None:
    """``fails_late_sync`` for an ``AsyncWriter`` (cancelled when the client leaves)."""
    try:
        while True:
            await writer.write_raw_event("first")
            await asyncio.sleep(0.01)
    finally:
        raise HandlerFailed("handler failed")


def read_cut_off(port: int, path: str) -> bytes:
    """GET ``path`` on a raw socket and read until the server closes (or resets) the connection; checks that
    the chunked body was cut off (every chunk whole, and no last chunk ``0\\r\\n\\r\\n``, so a client can tell
    the failure from an end) and returns its data."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), raw
    assert b"\r\ntransfer-encoding: chunked" in head.lower(), head
    data = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        assert size, f"the body was ended (a last chunk): a client cannot tell the error from an end: {raw!r}"
        assert rest[size : size + 2] == b"\r\n", f"a chunk arrived cut: {raw!r}"
        data += rest[:size]
        body = rest[size + 2 :]
    return data


@contextlib.contextmanager
def logged_errors() -> Iterator[List[logging.LogRecord]]:
    """The log records that carry a ``HandlerFailed`` (or its traceback, in their text), wherever they are
    logged: the root logger, and uvicorn's loggers (which do not propagate; their level is set to ERROR
    meanwhile, as the test servers run them at CRITICAL)."""
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with_it = record.exc_info and isinstance(record.exc_info[1], HandlerFailed)
            if with_it or "HandlerFailed: handler failed" in record.getMessage():  # werkzeug formats it in
                records.append(record)

    keep = Keep()
    watched = [logging.getLogger(), logging.getLogger("uvicorn")]
    uvicorn_error = logging.getLogger("uvicorn.error")
    level = uvicorn_error.level
    uvicorn_error.setLevel(logging.ERROR)
    for logger in watched:
        logger.addHandler(keep)
    try:
        yield records
    finally:
        for logger in watched:
            logger.removeHandler(keep)
        uvicorn_error.setLevel(level)


def wait_for_one(records: List[logging.LogRecord]) -> logging.LogRecord:
    """The one record ``logged_errors`` caught (it waits for it, and a little for a second one)."""
    deadline = time.monotonic() + 5
    while not records and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # a second record of the same error would come right after the first
    assert len(records) == 1, [(r.name, r.getMessage()) for r in records]
    return records[0]


def check_cut_off(port: int, path: str) -> None:
    """A handler that raised after writing ``FAILS_BYTES``: they arrive whole, the body is cut off (no last
    chunk), and the error is logged once, by the server (sse_fast itself logs nothing of it)."""
    with logged_errors() as records:
        assert read_cut_off(port, path) == FAILS_BYTES
        record = wait_for_one(records)
    assert not record.name.startswith("sse_fast"), record.name

"""sse_fast.compat.sse_starlette.EventSourceResponse, used the way sse-starlette is used.

Every response is served by a real uvicorn on 127.0.0.1 and read over a real socket (httpx, httpx-sse, or
a raw socket that stops reading). Where the bytes or headers are sse-starlette's, the same content is
also served by the real sse-starlette (a test-only reference) and the two are compared.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, Callable

import anyio
import httpx
import pytest
import sse_starlette
from httpx_sse import connect_sse
from starlette.background import BackgroundTask
from starlette.responses import Response
from support.compat_apps import FAREWELL_APP
from support.ports import free_port
from support.servers import Server, uvicorn_server, wait_until

import sse_fast
from sse_fast.compat.sse_starlette import (
    EventSourceResponse,
    JSONServerSentEvent,
    SendTimeoutError,
    ServerSentEvent,
)

GUARD = 10.0  # seconds: an upper bound against hangs, never a measurement

Factory = Callable[[], Response]
ROUTES: dict[str, Factory] = {}
ERRORS: dict[str, BaseException] = {}
_paths = itertools.count()


async def app(scope: dict, receive: Any, send: Any) -> None:
    """Serves ``ROUTES[path]()``; an exception the response raises is kept in ``ERRORS`` (and re-raised)."""
    path = scope["path"]
    try:
        await ROUTES[path]()(scope, receive, send)
    except BaseException as exc:
        ERRORS[path] = exc
        raise


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with uvicorn_server(app) as running:
        yield running


def route(server: Server, factory: Factory) -> str:
    """The URL at which ``factory()`` makes the response."""
    path = f"/r{next(_paths)}"
    ROUTES[path] = factory
    return server.url + path


def get(url: str, method: str = "GET") -> httpx.Response:
    return httpx.request(method, url, timeout=GUARD)


def read_sse(url: str) -> list:
    """Every event of the stream at ``url``, read by httpx-sse."""
    with httpx.Client(timeout=GUARD) as client, connect_sse(client, "GET", url) as source:
        return list(source.iter_sse())


def comparable_headers(response: httpx.Response) -> list[tuple]:
    """The response headers, without the ones uvicorn adds (its httptools protocol frames a HEAD answer with
    no transfer-encoding), sorted: order is no part of HTTP's meaning."""
    added = ("date", "server", "transfer-encoding")
    return sorted((k, v) for k, v in response.headers.multi_items() if k not in added)


# --- what a stream carries --------------------------------------------------------------------------

ITEMS: list[Any] = [
    "plain",
    "two\nlines",
    b"verbatim: bytes\n\n",
    42,
    {"data": "d", "event": "update", "id": "7", "retry": 3000, "comment": "c"},
    {"data": "x", "sep": "\r"},
    ServerSentEvent("own sep", id="1", sep="\n"),
    JSONServerSentEvent({"k": "é", "n": [1, 2.5, None]}, event="json"),
]


def reference_items() -> list[Any]:
    """``ITEMS`` with sse-starlette's own event classes."""
    out: list[Any] = []
    for item in ITEMS:
        if isinstance(item, JSONServerSentEvent):
            out.append(sse_starlette.JSONServerSentEvent({"k": "é", "n": [1, 2.5, None]}, event="json"))
        elif isinstance(item, ServerSentEvent):
            out.append(sse_starlette.ServerSentEvent("own sep", id="1", sep="\n"))
        else:
            out.append(item)
    return out


async def async_gen(items: list[Any]) -> Any:
    for item in items:
        yield item


def sync_gen(items: list[Any]) -> Iterator[Any]:
    yield from items


class AsyncIterable:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __aiter__(self) -> Any:
        return async_gen(self.items).__aiter__()


CONTENT_KINDS = {
    "async generator": async_gen,
    "sync generator": sync_gen,
    "list": list,
    "async iterable": AsyncIterable,
}


@pytest.mark.parametrize("kind", CONTENT_KINDS)
@pytest.mark.parametrize("sep", [None, "\r\n", "\n", "\r"])
def test_content_is_streamed_byte_for_byte_as_sse_starlette_does(server: Server, kind: str, sep: Any) -> None:
    make = CONTENT_KINDS[kind]
    ours = get(route(server, lambda: EventSourceResponse(make(ITEMS), sep=sep)))
    theirs = get(route(server, lambda: sse_starlette.EventSourceResponse(make(reference_items()), sep=sep)))
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    assert comparable_headers(ours) == comparable_headers(theirs)


def test_documented_bytes_default_separator(server: Server) -> None:
    body = get(route(server, lambda: EventSourceResponse(async_gen(ITEMS)))).content
    assert body == (
        b"data: plain\r\n\r\n"
        b"data: two\r\ndata: lines\r\n\r\n"
        b"verbatim: bytes\n\n"
        b"data: 42\r\n\r\n"
        b": c\r\nid: 7\r\nevent: update\r\ndata: d\r\nretry: 3000\r\n\r\n"
        b"data: x\r\n\r\n"
        b"id: 1\ndata: own sep\n\n"
        b'event: json\r\ndata: {"k":"\xc3\xa9","n":[1,2.5,null]}\r\n\r\n'
    )


def test_httpx_sse_reads_the_events(server: Server) -> None:
    url = route(server, lambda: EventSourceResponse(async_gen(ITEMS)))
    events = [(e.event, e.data, e.id) for e in read_sse(url)]
    assert events[0] == ("message", "plain", "")
    assert events[1] == ("message", "two\nlines", "")
    assert ("update", "d", "7") in events
    assert events[-1] == ("json", '{"k":"é","n":[1,2.5,null]}', "1")


def test_a_dict_item_is_not_changed(server: Server) -> None:
    item = {"data": "d", "sep": "\r"}
    get(route(server, lambda: EventSourceResponse(async_gen([item]))))
    assert item == {"data": "d", "sep": "\r"}


def test_is_a_starlette_response_that_fastapi_returns_as_it_is() -> None:
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/stream")
    async def stream() -> EventSourceResponse:
        async def numbers() -> Any:
            for n in range(3):
                yield JSONServerSentEvent({"n": n})

        return EventSourceResponse(numbers())

    assert issubclass(EventSourceResponse, Response)
    with uvicorn_server(api) as running:
        assert [e.json() for e in read_sse(running.url + "/stream")] == [{"n": 0}, {"n": 1}, {"n": 2}]


# --- headers, status, media type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"headers": {"Cache-Control": "no-cache, public", "X-Custom": "1"}},
        {"headers": {"X-Accel-Buffering": "yes", "Connection": "close"}},
        {"status_code": 201},
        {"media_type": "text/plain"},
        {"headers": {"Content-Type": "text/event-stream"}},
    ],
    ids=["default", "app-headers", "forced-headers", "status", "media-type", "own-content-type"],
)
def test_status_and_headers_are_sse_starlettes(server: Server, options: dict) -> None:
    ours = get(route(server, lambda: EventSourceResponse(async_gen(["x"]), **options)))
    theirs = get(route(server, lambda: sse_starlette.EventSourceResponse(async_gen(["x"]), **options)))
    assert ours.status_code == theirs.status_code == options.get("status_code", 200)
    assert comparable_headers(ours) == comparable_headers(theirs)
    assert ours.content == theirs.content == b"data: x\r\n\r\n"


def test_default_headers(server: Server) -> None:
    headers = get(route(server, lambda: EventSourceResponse(async_gen(["x"])))).headers
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["connection"] == "keep-alive"
    assert headers["x-accel-buffering"] == "no"


def test_media_type_none_still_sends_the_event_stream_type(server: Server) -> None:
    theirs = get(route(server, lambda: sse_starlette.EventSourceResponse(async_gen(["x"]), media_type=None)))
    ours = get(route(server, lambda: EventSourceResponse(async_gen(["x"]), media_type=None)))
    assert "content-type" not in theirs.headers
    assert ours.headers["content-type"] == "text/event-stream; charset=utf-8"


def test_headers_and_cookies_set_on_the_response_are_sent(server: Server) -> None:
    def make() -> Response:
        response = EventSourceResponse(async_gen(["x"]))
        assert response.headers["cache-control"] == "no-store"
        response.headers["X-Later"] = "yes"
        response.set_cookie("session", "abc")
        return response

    sent = get(route(server, make))
    assert sent.headers["x-later"] == "yes"
    assert sent.cookies["session"] == "abc"


def test_head_gets_the_headers_and_no_body_and_the_content_is_not_touched(server: Server) -> None:
    """As sse-starlette >= 3.7 answers HEAD (older ones stream, so this is not compared with the reference)."""
    started: list[str] = []
    background: list[str] = []

    async def content() -> Any:
        started.append("started")
        yield "x"

    url = route(server, lambda: EventSourceResponse(content(), background=BackgroundTask(background.append, "ran")))
    head = get(url, "HEAD")
    assert head.content == b""
    wait_until(lambda: background == ["ran"], GUARD)  # it runs after the response is sent
    assert started == []
    assert comparable_headers(head) == comparable_headers(get(url))


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"sep": "\n\n"}, ValueError),
        ({"sep": ""}, ValueError),
        ({"ping": "15"}, TypeError),
        ({"ping": -1}, ValueError),
        ({"shutdown_grace_period": -1}, ValueError),
        ({"cleanup_timeout": -0.5}, ValueError),
    ],
)
def test_bad_arguments_are_refused_as_by_sse_starlette(options: dict, error: type) -> None:
    if set(options) <= set(inspect.signature(sse_starlette.EventSourceResponse).parameters):
        with pytest.raises(error):  # (sse-starlette < 3.7, the reference on Python 3.9, has no cleanup_timeout)
            sse_starlette.EventSourceResponse(async_gen([]), **options)
    with pytest.raises(error) as info:
        EventSourceResponse(async_gen([]), **options)
    assert isinstance(info.value, sse_fast.SSEError)
    assert "got" in str(info.value)  # what was given, beside what was expected


def test_compression_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        EventSourceResponse(async_gen([])).enable_compression()


# --- ping -------------------------------------------------------------------------------------------


async def quiet_then(seconds: float, last: str = "end") -> Any:
    await asyncio.sleep(seconds)
    yield last


PING = re.compile(rb": ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00:00\r\n\r\n")


def test_ping_cadence(server: Server) -> None:
    body = get(route(server, lambda: EventSourceResponse(quiet_then(1.5), ping=0.2))).content
    frames = body.split(b"\r\n\r\n")[:-1]
    pings = PING.findall(body)
    assert 3 <= len(pings) <= 12, body  # about 7 in 1.5 s; generous bounds
    assert len(frames) == len(pings) + 1 and frames[-1] == b"data: end"
    assert re.sub(PING, b"", body) == b"data: end\r\n\r\n"


def test_ping_uses_the_responses_separator(server: Server) -> None:
    body = get(route(server, lambda: EventSourceResponse(quiet_then(1.0), ping=0.2, sep="\n"))).content
    assert body.count(b": ping - ") >= 2
    assert b"\r" not in body


def test_ping_message_factory(server: Server) -> None:
    calls = itertools.count(1)

    def factory() -> ServerSentEvent:
        return ServerSentEvent(comment=f"custom {next(calls)}")

    body = get(
        route(server, lambda: EventSourceResponse(quiet_then(1.5), ping=0.2, ping_message_factory=factory))
    ).content
    pings = re.findall(rb": custom (\d+)\r\n\r\n", body)
    assert len(pings) >= 3
    assert [int(n) for n in pings] == list(range(1, len(pings) + 1))
    assert b"ping - " not in body


def test_ping_zero_sends_no_ping(server: Server) -> None:
    body = get(route(server, lambda: EventSourceResponse(quiet_then(1.0), ping=0))).content
    assert body == b"data: end\r\n\r\n"


def test_ping_interval_can_be_changed_before_the_stream_starts(server: Server) -> None:
    def make() -> Response:
        response = EventSourceResponse(quiet_then(1.0))
        assert response.ping_interval == EventSourceResponse.DEFAULT_PING_INTERVAL == 15
        response.ping_interval = 0.2
        return response

    assert get(route(server, make)).content.count(b": ping - ") >= 2


# --- send timeout -----------------------------------------------------------------------------------


def stalled_client(url: str) -> socket.socket:
    """A client that sends a GET and then reads nothing (with a small receive buffer)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    path = "/" + url.split("/", 3)[3]
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def test_send_timeout_when_the_client_stops_reading(server: Server) -> None:
    cleaned = threading.Event()

    async def big_frames() -> Any:
        try:
            while True:
                yield "x" * 256 * 1024
        finally:
            cleaned.set()

    url = route(server, lambda: EventSourceResponse(big_frames(), send_timeout=0.5))
    path = "/" + url.split("/", 3)[3]
    sock = stalled_client(url)
    try:
        error = wait_until(lambda: ERRORS.get(path), GUARD)
        assert isinstance(error, SendTimeoutError) and isinstance(error, TimeoutError)
        assert cleaned.wait(GUARD)
    finally:
        sock.close()


def test_send_timeout_on_a_ping(server: Server) -> None:
    cleaned = threading.Event()

    async def one_burst_then_quiet() -> Any:
        try:
            for _ in range(16):
                yield "x" * 256 * 1024
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    url = route(server, lambda: EventSourceResponse(one_burst_then_quiet(), send_timeout=0.5, ping=0.1))
    path = "/" + url.split("/", 3)[3]
    sock = stalled_client(url)
    try:
        assert isinstance(wait_until(lambda: ERRORS.get(path), GUARD), SendTimeoutError)
        assert cleaned.wait(GUARD)
    finally:
        sock.close()


def test_send_timeout_leaves_a_reading_client_alone(server: Server) -> None:
    async def frames() -> Any:
        for _ in range(8):
            yield "x" * 256 * 1024

    url = route(server, lambda: EventSourceResponse(frames(), send_timeout=5))
    assert len(get(url).content) == 8 * (256 * 1024 + 10)
    assert "/" + url.split("/", 3)[3] not in ERRORS


# --- client disconnect, data sender, background ------------------------------------------------------


def test_client_close_handler_is_called_when_the_client_leaves(server: Server) -> None:
    messages: list[dict] = []
    background: list[str] = []
    cleaned = threading.Event()

    async def endless() -> Any:
        try:
            for n in itertools.count():
                yield str(n)
                await asyncio.sleep(0.05)
        finally:
            cleaned.set()

    async def on_close(message: dict) -> None:
        messages.append(message)

    url = route(
        server,
        lambda: EventSourceResponse(
            endless(),
            client_close_handler_callable=on_close,
            background=BackgroundTask(background.append, "ran"),
        ),
    )
    with httpx.Client(timeout=GUARD) as client, client.stream("GET", url) as response:
        assert next(response.iter_raw()).startswith(b"data: 0\r\n\r\n")
    wait_until(lambda: messages, GUARD)
    assert messages == [{"type": "http.disconnect"}]
    assert cleaned.wait(GUARD)
    wait_until(lambda: background == ["ran"], GUARD)  # sse-starlette runs it after a disconnect too


def test_client_close_handler_is_not_called_when_the_stream_ends(server: Server) -> None:
    messages: list[dict] = []

    async def on_close(message: dict) -> None:
        messages.append(message)

    done = threading.Event()
    url = route(
        server,
        lambda: EventSourceResponse(
            async_gen(["x"]), client_close_handler_callable=on_close, background=BackgroundTask(done.set)
        ),
    )
    assert get(url).content == b"data: x\r\n\r\n"
    assert done.wait(GUARD)
    assert messages == []


def test_data_sender_callable(server: Server) -> None:
    """sse-starlette's documented pattern: a memory object stream fed by ``data_sender_callable``."""

    async def data_sender(send_chan: Any) -> None:
        async with send_chan:
            for n in range(3):
                await send_chan.send({"data": f"event {n}", "id": str(n)})

    receivers: list = []

    def make() -> Response:
        send_chan, recv_chan = anyio.create_memory_object_stream(max_buffer_size=10)
        receivers.append(recv_chan)
        return EventSourceResponse(recv_chan, data_sender_callable=functools.partial(data_sender, send_chan))

    assert get(route(server, make)).content == b"".join(b"id: %d\r\ndata: event %d\r\n\r\n" % (n, n) for n in range(3))
    # The response reads the stream to its end but, like sse-starlette's, leaves closing it to its owner.
    for recv_chan in receivers:
        recv_chan.close()


def test_a_failing_data_sender_fails_the_response(server: Server) -> None:
    async def data_sender() -> None:
        raise RuntimeError("sender broke")

    async def forever() -> Any:
        await asyncio.sleep(3600)
        yield "never"

    url = route(server, lambda: EventSourceResponse(forever(), data_sender_callable=data_sender))
    with pytest.raises(httpx.RemoteProtocolError):
        get(url)
    error = ERRORS["/" + url.split("/", 3)[3]]
    assert isinstance(error, RuntimeError) and str(error) == "sender broke"


def test_an_error_in_the_content_reaches_the_server_and_the_body_is_left_unfinished(server: Server) -> None:
    async def failing() -> Any:
        yield "first"
        raise LookupError("content broke")

    url = route(server, lambda: EventSourceResponse(failing()))
    with httpx.Client(timeout=GUARD) as client, client.stream("GET", url) as response:
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
    assert received == b"data: first\r\n\r\n"
    assert isinstance(ERRORS["/" + url.split("/", 3)[3]], LookupError)


def test_a_refused_item_fails_the_response_and_a_hanging_cleanup_is_cut_after_cleanup_timeout(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    cleanup_started = threading.Event()

    async def content() -> Any:
        try:
            yield "first"
            yield {"data": "x", "id": "line\nbreak"}
        finally:
            cleanup_started.set()
            await asyncio.sleep(3600)

    url = route(server, lambda: EventSourceResponse(content(), cleanup_timeout=0.2))
    with caplog.at_level(logging.WARNING, logger="sse_starlette.sse"), pytest.raises(httpx.RemoteProtocolError):
        get(url)
    assert cleanup_started.is_set()
    error = ERRORS["/" + url.split("/", 3)[3]]
    assert isinstance(error, ValueError) and "id must be a single line" in str(error)
    # logged as sse-starlette logs it: its logger, its words
    logged = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("sse_")]
    assert logged == [("sse_starlette.sse", logging.WARNING, "Body iterator cleanup cancelled after 0.2 seconds")]


def test_background_runs_after_the_stream(server: Server) -> None:
    order: list[str] = []

    async def content() -> Any:
        yield "x"
        order.append("content done")

    url = route(server, lambda: EventSourceResponse(content(), background=BackgroundTask(order.append, "background")))
    assert get(url).content == b"data: x\r\n\r\n"
    wait_until(lambda: len(order) == 2, GUARD)
    assert order == ["content done", "background"]


# --- shutdown -----------------------------------------------------------------------------------------


def read_events(url: str, events: list[str], finished: threading.Event) -> threading.Thread:
    """Read ``url``'s events into ``events`` from a thread; ``finished`` is set when the body ends or breaks."""

    def run() -> None:
        try:
            with httpx.Client(timeout=GUARD) as client, connect_sse(client, "GET", url) as source:
                for event in source.iter_sse():
                    events.append(event.data)
        except httpx.TransportError:
            pass
        finally:
            finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_shutdown_sets_the_event_and_the_generator_says_goodbye(server: Server) -> None:
    seen: list[bool] = []

    def make() -> Response:
        stop = anyio.Event()

        async def content() -> Any:
            yield "started"
            await stop.wait()
            seen.append(stop.is_set())
            yield "farewell"

        return EventSourceResponse(content(), shutdown_event=stop, shutdown_grace_period=5)

    events: list[str] = []
    finished = threading.Event()
    read_events(route(server, make), events, finished)
    wait_until(lambda: events == ["started"], GUARD)
    assert sse_fast.shutdown_sync(grace=GUARD) >= 1
    assert finished.wait(GUARD)
    assert events == ["started", "farewell"]
    assert seen == [True]


@pytest.mark.parametrize("grace", [0, 0.3])
def test_shutdown_cancels_a_generator_that_ignores_it_after_the_grace_period(server: Server, grace: float) -> None:
    cancelled = threading.Event()
    stops: list[Any] = []

    def make() -> Response:
        stop = anyio.Event()
        stops.append(stop)

        async def content() -> Any:
            yield "started"
            try:
                await asyncio.sleep(3600)
                yield "never"
            except asyncio.CancelledError:
                cancelled.set()
                raise

        return EventSourceResponse(content(), shutdown_event=stop, shutdown_grace_period=grace)

    events: list[str] = []
    finished = threading.Event()
    read_events(route(server, make), events, finished)
    wait_until(lambda: events == ["started"], GUARD)
    sse_fast.shutdown_sync(grace=GUARD)
    assert cancelled.wait(GUARD) and finished.wait(GUARD)
    assert events == ["started"]
    assert stops[0].is_set()


def test_grace_zero_gives_no_time_for_a_farewell(server: Server) -> None:
    def make() -> Response:
        stop = anyio.Event()

        async def content() -> Any:
            yield "started"
            await stop.wait()
            yield "farewell"

        return EventSourceResponse(content(), shutdown_event=stop)

    events: list[str] = []
    finished = threading.Event()
    read_events(route(server, make), events, finished)
    wait_until(lambda: events == ["started"], GUARD)
    sse_fast.shutdown_sync(grace=GUARD)
    assert finished.wait(GUARD)
    assert events == ["started"]


SIGTERM_APP = "import anyio\nfrom sse_fast.compat.sse_starlette import AppStatus, EventSourceResponse\n" + FAREWELL_APP
NO_DRAIN = "\nAppStatus.disable_automatic_graceful_drain()\n"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
@pytest.mark.parametrize("drain", [True, False], ids=["drain", "drain off"])
def test_sigterm_to_uvicorn_ends_the_stream_with_a_farewell_unless_the_drain_is_off(tmp_path: Any, drain: bool) -> None:
    """No code of the app's calls sse_fast.shutdown: SIGTERM drains the streams as sse-starlette's does. With
    ``AppStatus.disable_automatic_graceful_drain()``, as in sse-starlette: no farewell; uvicorn's own
    graceful-shutdown timeout ends the stream."""
    (tmp_path / "sigterm_app.py").write_text(SIGTERM_APP + ("" if drain else NO_DRAIN))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "sigterm_app:app", "--port", str(port), "--log-level", "warning",
               "--timeout-graceful-shutdown", "1"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _answers(port), GUARD, 0.05)
        events: list[str] = []
        finished = threading.Event()
        read_events(f"http://127.0.0.1:{port}/", events, finished)
        wait_until(lambda: events == ["started"], GUARD)
        os.kill(process.pid, signal.SIGTERM)
        assert finished.wait(GUARD)
        assert events == (["started", "farewell"] if drain else ["started"])
        process.wait(GUARD)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


def test_import_sse_fast_does_not_import_starlette() -> None:
    code = "import sys, sse_fast, sse_fast.compat; sys.exit('starlette' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=GUARD).returncode == 0

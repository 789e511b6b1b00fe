"""AsyncWriter's write-behind, on a real uvicorn: a burst is coalesced into few ASGI body messages, a frame
written before the handler awaits anything else still leaves at once, the queue stays bounded for a client
that stops reading (and ``send_timeout`` still drops it), a failed send makes the next write raise, and
``close()`` sends what is queued before ending the body.

The app observes (never replaces) uvicorn's ``send`` to count the body messages it is given.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Callable, Dict, Iterator

import httpx
import pytest
from support.servers import HOST, Server, uvicorn_server
from support.sse_apps import PROBE

import sse_fast
from sse_fast import ClientDisconnected
from sse_fast.writer import HIGH_WATER

GUARD = 10.0  # seconds: an upper bound against hangs, never a measurement
BURST = 2000
BURST_BYTES = b"".join(b"data: %d\n\n" % i for i in range(BURST))
FRAME = "y" * 4096

Handler = Callable[[sse_fast.AsyncWriter], Any]
HANDLERS: Dict[str, Handler] = {}
BY_HAND: Dict[str, Handler] = {}  # opened with new_writer: no owner task is cancelled when the client goes
OPTIONS: Dict[str, Dict[str, Any]] = {}


def route(path: str, by_hand: bool = False, **options: Any) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        (BY_HAND if by_hand else HANDLERS)[path] = handler
        OPTIONS[path] = options
        return handler

    return register


async def app(scope: dict, receive: Any, send: Any) -> None:
    path = scope["path"]
    bodies = 0

    async def counting_send(message: dict) -> None:
        nonlocal bodies
        if message["type"] == "http.response.body" and message.get("body"):
            bodies += 1
        await send(message)

    if path in BY_HAND:
        writer, _ = await sse_fast.new_writer(scope, receive, counting_send, **OPTIONS[path])
        async with writer:
            await BY_HAND[path](writer)
    else:
        await sse_fast.ASGIResponse(HANDLERS[path], **OPTIONS[path])(scope, receive, counting_send)
    PROBE.put(path + ":bodies", bodies)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with uvicorn_server(app) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    PROBE.clear()
    with httpx.Client(base_url=server.url, timeout=GUARD) as http:
        yield http


def frozen_client(server: Server, path: str) -> socket.socket:
    """A connection that asks for ``path`` and never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((HOST, server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return sock


# -- coalescing --------------------------------------------------------------------------------------


@route("/burst")
async def burst(w: sse_fast.AsyncWriter) -> None:
    for i in range(BURST):
        await w.write_event(i)


def test_a_burst_goes_out_in_fewer_body_messages_than_frames_with_the_same_bytes(client: httpx.Client) -> None:
    with client.stream("GET", "/burst") as response:
        assert b"".join(response.iter_raw()) == BURST_BYTES
    bodies = PROBE.get("/burst:bodies")
    print(f"{BURST} frames in {bodies} body message(s)")
    assert 1 <= bodies < BURST // 10


@route("/interleaved")
async def interleaved(w: sse_fast.AsyncWriter) -> None:
    for i in range(BURST):
        await w.write_event(i)
        if i % 100 == 99:
            await asyncio.sleep(0)  # the loop runs: what is queued goes out, in order


def test_frames_keep_their_order_across_sends(client: httpx.Client) -> None:
    with client.stream("GET", "/interleaved") as response:
        assert b"".join(response.iter_raw()) == BURST_BYTES
    assert PROBE.get("/interleaved:bodies") >= BURST // 100


# -- latency: a frame does not wait for the queue to fill ---------------------------------------------


@route("/token")
async def token(w: sse_fast.AsyncWriter) -> None:
    release = asyncio.Event()
    PROBE.put("token:release", release)
    await w.write_raw_event("token 1")
    await release.wait()  # like a handler awaiting the next token of a model
    await w.write_raw_event("token 2")


def test_a_frame_reaches_the_client_while_the_handler_awaits_something_else(
    client: httpx.Client, server: Server
) -> None:
    with client.stream("GET", "/token") as response:
        chunks = response.iter_raw()
        # The handler is still waiting: only the write-behind sender can have sent this.
        assert next(chunks) == b"data: token 1\n\n"
        assert server.loop is not None
        server.loop.call_soon_threadsafe(PROBE.get("token:release").set)
        assert b"".join(chunks) == b"data: token 2\n\n"


# -- backpressure and send_timeout ---------------------------------------------------------------------


@route("/frozen", send_timeout=0.5)
async def frozen(w: sse_fast.AsyncWriter) -> None:
    peak, written = 0, 0
    try:
        for _ in range(16384):  # 64 MiB if nothing ever pushed back
            await w.write_raw_event(FRAME)
            written += len(FRAME)
            peak = max(peak, w.buffered)
    except ClientDisconnected as exc:
        PROBE.put("frozen", (w.context.reason, str(exc), peak, written))


def test_a_client_that_stops_reading_holds_a_bounded_queue_and_is_dropped_after_send_timeout(
    server: Server,
) -> None:
    PROBE.clear()
    sock = frozen_client(server, "/frozen")
    try:
        reason, message, peak, written = PROBE.get("frozen", timeout=GUARD)
        print(f"dropped after {written // 1024} KiB accepted, queue peaked at {peak} bytes: {message}")
        assert reason == "send_timeout"
        assert "the client read nothing for 0.5 s" in message
        assert peak <= HIGH_WATER + len(FRAME) + 16  # one frame over the mark, at most
        assert written < 16 * 1024 * 1024  # the writes were held back, not queued without end
    finally:
        sock.close()


@route("/late_failure", by_hand=True, send_timeout=0.3)
async def late_failure(w: sse_fast.AsyncWriter) -> None:
    # A frame bigger than every buffer on the way fills them (uvicorn takes it, then pushes back on the next
    # send); a small frame returns at once, and the sender's transport write of it is what times out while
    # the handler waits for something else.
    await w.write_raw_event("z" * (32 * 1024 * 1024))
    await w.write_raw_event("small")
    await w.context.wait()
    try:
        await w.write_raw_event("next")
    except ClientDisconnected as exc:
        PROBE.put("late_failure", (w.context.reason, type(exc).__name__, exc.reason, str(exc)))


def test_a_write_after_a_send_timed_out_raises_send_timed_out(server: Server) -> None:
    PROBE.clear()
    sock = frozen_client(server, "/late_failure")
    try:
        context_reason, error, error_reason, message = PROBE.get("late_failure", timeout=GUARD)
        assert (context_reason, error, error_reason) == ("send_timeout", "SendTimedOut", "send_timeout")
        assert "the client read nothing for 0.3 s" in message
    finally:
        sock.close()


# -- close sends what is queued -----------------------------------------------------------------------


@route("/queued_then_closed", by_hand=True)
async def queued_then_closed(w: sse_fast.AsyncWriter) -> None:
    for i in range(BURST):  # ~20 KB, under the mark: the first goes at once, the rest wait for close()
        await w.write_event(i)
    PROBE.put("queued", w.buffered)


def test_close_sends_what_is_queued_then_ends_the_body(client: httpx.Client) -> None:
    with client.stream("GET", "/queued_then_closed") as response:
        body = b"".join(response.iter_raw())  # raises if the body is not ended properly
    first = b"data: 0\n\n"  # the writer was idle: it went straight to the server
    assert PROBE.get("queued") == len(BURST_BYTES) - len(first)  # the rest was still queued when close() began
    assert body == BURST_BYTES
    assert PROBE.get("/queued_then_closed:bodies") == 2


@route("/aborted", by_hand=True)
async def aborted(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    await w.flush()
    await w.write_raw_event("thrown away")
    w.abort()
    try:
        await w.write_raw_event("after")
    except ClientDisconnected as exc:
        PROBE.put("aborted", (w.context.reason, type(exc).__name__, exc.reason))


def test_abort_drops_what_is_queued_and_leaves_the_body_unfinished(client: httpx.Client) -> None:
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("GET", "/aborted") as response:
            for chunk in response.iter_raw():
                received += chunk
    assert received == b"data: first\n\n"
    assert PROBE.get("aborted") == ("closed", "StreamClosed", "closed")


# -- offer: queue encoded bytes without waiting --------------------------------------------------------


@route("/offer", by_hand=True)
async def offer(w: sse_fast.AsyncWriter) -> None:
    first = w.offer(b"data: 1\n\n", limit=64)
    buffered = w.buffered
    past = w.offer(b"x" * 64, limit=64)  # buffered + 64 > 64: refused
    PROBE.put("offer", (first, buffered, past, w.buffered))
    await w.close()
    PROBE.put("offer:closed", w.offer(b"data: 2\n\n", limit=64))


def test_offer_queues_bytes_refuses_past_the_limit_and_after_close(client: httpx.Client) -> None:
    with client.stream("GET", "/offer") as response:
        assert b"".join(response.iter_raw()) == b"data: 1\n\n"
    assert PROBE.get("offer") == (True, 9, False, 9)
    assert PROBE.get("offer:closed") is False

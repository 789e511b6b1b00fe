"""The compat ``EventSourceResponse`` against sse-starlette 3.7 where its own test suite checks behaviour.

Each case runs on the real sse-starlette (the reference) and on the compat response: under a real uvicorn
read over a socket where the server shows the behaviour (a client that leaves), in-process over ASGI where
only a chosen ``send`` / ``receive`` can (a send that raises, a final send during which ``receive`` returns,
a response cancelled from outside). sse-starlette's own tests run on the drop-in too:
scripts/peer_suite_sse_starlette.sh.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import anyio
import pytest
import sse_starlette
from starlette.responses import Response
from support.servers import Server, uvicorn_server, wait_until
from test_compat_sse_starlette_parity import IMPLEMENTATIONS, OLD_REFERENCE, implementations

from sse_fast.compat.sse_starlette import EventSourceResponse

GUARD = 10.0  # seconds: an upper bound against hangs, never a measurement
SETTLE = 0.3  # seconds given to something that must NOT happen, before checking that it did not
BOTH = implementations("sse-starlette", "compat")
SCOPE = {"type": "http", "method": "GET", "path": "/", "http_version": "1.1", "headers": []}


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, GUARD))


# --- under uvicorn: a client that leaves -------------------------------------------------------------------


class Served:
    """What the app saw of one response: the messages sent after ``receive`` said the client left, the
    error the response raised, and whether it returned."""

    def __init__(self) -> None:
        self.left = False
        self.sent_after_leaving: list[dict[str, Any]] = []
        self.pending_sends = 0
        self.error: BaseException | None = None
        self.returned = threading.Event()
        self.producer_exit: list[type[BaseException]] = []
        self.producer_blocked: Callable[[], bool] = lambda: False
        self.opened: list[Any] = []  # what the route opened for the response: closed once it returned


# a test that compares with sse-starlette's own answer needs the reference this drop-in mirrors, 3.7
NEEDS_37 = pytest.mark.skipif(OLD_REFERENCE, reason=f"sse-starlette {sse_starlette.__version__} is not 3.7")

ROUTES: dict[str, Callable[[Served], Response]] = {}
SEEN: dict[str, Served] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serves ``ROUTES[path]``, recording in ``SEEN[path]`` what the response did."""
    seen = SEEN[scope["path"]] = Served()

    async def watched_receive() -> dict[str, Any]:
        message = await receive()
        if message["type"] == "http.disconnect":
            seen.left = True
        return message

    async def watched_send(message: dict[str, Any]) -> None:
        if seen.left:
            seen.sent_after_leaving.append(message)
        seen.pending_sends += 1
        try:
            await send(message)
        finally:
            seen.pending_sends -= 1

    try:
        await ROUTES[scope["path"]](seen)(scope, watched_receive, watched_send)
    except BaseException as exc:
        seen.error = exc
        raise
    finally:
        for stream in seen.opened:  # (sse-starlette leaves the channel's receiving end to the collector)
            stream.close()
        seen.returned.set()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with uvicorn_server(app) as running:
        yield running


def connect(server: Server, path: str, until: bytes = b"\r\n\r\n") -> socket.socket:
    """A client that sends a GET, reads until ``until`` (the response's head) and then nothing (a small
    receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    sock.settimeout(GUARD)
    received = b""
    while until not in received:
        chunk = sock.recv(4096)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    return sock


def memory_channel_response(impl: str) -> Callable[[Served], Response]:
    """The MCP SDK's pattern: a producer (``data_sender_callable``) feeds a memory channel the response reads;
    its events are large, so a client that stops reading leaves a send pending and the producer blocked."""

    def make(seen: Served) -> Response:
        send_chan, recv_chan = anyio.create_memory_object_stream[dict[str, str]](0)
        seen.producer_blocked = lambda: send_chan.statistics().tasks_waiting_send > 0
        seen.opened += [send_chan, recv_chan]

        async def producer() -> None:
            try:
                async with send_chan:
                    while True:
                        await send_chan.send({"data": "x" * 65536})
            except BaseException as exc:
                seen.producer_exit.append(type(exc))
                raise

        return IMPLEMENTATIONS[impl](recv_chan, ping=0, data_sender_callable=producer)

    return make


@pytest.mark.parametrize("impl", BOTH)
def test_a_client_that_leaves_while_a_send_is_pending_cancels_the_blocked_producer(server: Server, impl: str) -> None:
    path = f"/channel/{impl}"
    ROUTES[path] = memory_channel_response(impl)
    sock = connect(server, path)
    wait_until(lambda: SEEN[path].pending_sends and SEEN[path].producer_blocked(), GUARD)
    sock.close()
    seen = SEEN[path]
    assert seen.returned.wait(GUARD)
    assert seen.error is None  # no anyio.BrokenResourceError out of the response
    assert seen.producer_exit == [asyncio.CancelledError]


def quiet_after_one_event(seen: Served, impl: str) -> Response:
    async def content() -> Any:
        yield {"data": "first"}
        await asyncio.sleep(3600)

    return IMPLEMENTATIONS[impl](content(), ping=0)  # no send_timeout: nothing would bound a send


@pytest.mark.parametrize("impl", BOTH)
def test_nothing_is_sent_after_the_client_left(server: Server, impl: str) -> None:
    path = f"/quiet/{impl}"
    ROUTES[path] = lambda seen: quiet_after_one_event(seen, impl)
    connect(server, path, until=b"first").close()
    seen = SEEN[path]
    assert seen.returned.wait(GUARD)
    assert seen.left
    assert seen.error is None
    assert seen.sent_after_leaving == []  # no closing empty body


# --- in process: what only a chosen send or receive can show -----------------------------------------------


@pytest.mark.parametrize("impl", BOTH)
def test_an_oserror_raised_by_send_is_re_raised(impl: str) -> None:
    failure = OSError("connection closed")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise failure

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    async def content() -> Any:
        yield {"data": "first"}

    async def main() -> None:
        with pytest.raises(OSError) as info:
            await IMPLEMENTATIONS[impl](content(), ping=0)(dict(SCOPE), receive, send)
        assert info.value is failure

    run(main())


@pytest.mark.parametrize("suspended", ["in its own await", "at a yield whose send is pending"])
@pytest.mark.parametrize("impl", BOTH)
def test_a_response_cancelled_from_outside_runs_the_contents_finally(impl: str, suspended: str) -> None:
    log: list[str] = []

    async def main() -> None:
        started = asyncio.Event()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                started.set()
                if suspended != "in its own await":
                    await asyncio.sleep(3600)

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)
            return {}

        async def content() -> Any:
            try:
                yield {"data": "first"}
                await asyncio.sleep(3600)
            finally:
                log.append("finally")

        task = asyncio.ensure_future(IMPLEMENTATIONS[impl](content(), ping=0)(dict(SCOPE), receive, send))
        await started.wait()
        await asyncio.sleep(0.05)  # the content is suspended where the case says
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert log == ["finally"]


@pytest.mark.parametrize("impl", BOTH)
def test_a_final_send_during_which_receive_returns_does_not_hang(impl: str) -> None:
    final = {"type": "http.response.body", "body": b"", "more_body": False}
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        final_started, listener_woke = asyncio.Event(), asyncio.Event()
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                await final_started.wait()
                listener_woke.set()
                return {"type": "http.request", "body": b"", "more_body": False}  # not a disconnect
            await asyncio.sleep(3600)
            return {}

        async def send(message: dict[str, Any]) -> None:
            if message == final:
                final_started.set()
                await listener_woke.wait()  # the server answers receive() before this send returns
            sent.append(message)

        async def content() -> Any:
            yield {"data": "last"}

        await IMPLEMENTATIONS[impl](content(), ping=0)(dict(SCOPE), receive, send)

    run(main())
    assert [message for message in sent if message.get("more_body") is False] == [final]


@NEEDS_37
def test_head_sends_the_same_messages_as_sse_starlette() -> None:
    def messages(factory: Callable[..., Response]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)
            return {}

        async def content() -> Any:
            yield {"data": "never"}

        run(factory(content(), ping=0)({**SCOPE, "method": "HEAD"}, receive, send))
        return [message for message in sent if message["type"] == "http.response.body"]

    assert messages(EventSourceResponse) == messages(sse_starlette.EventSourceResponse)
    assert messages(EventSourceResponse) == [{"type": "http.response.body", "body": b"", "more_body": False}]


@NEEDS_37
@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda cls: cls.EventSourceResponse(iter(()), ping="15"), TypeError),
        (lambda cls: cls.EventSourceResponse(iter(()), ping=-1), ValueError),
        (lambda cls: cls.ServerSentEvent("x", retry="5").encode(), TypeError),
        (lambda cls: cls.ServerSentEvent("x", retry=1.5).encode(), TypeError),
    ],
)
def test_retry_and_ping_refusals_say_what_sse_starlette_says(make: Callable[[Any], Any], error: type) -> None:
    import sse_fast.compat.sse_starlette as compat

    with pytest.raises(error) as theirs:
        make(sse_starlette)
    with pytest.raises(error) as ours:
        make(compat)
    # sse-starlette's sentence, so a `match=` written for it matches; then what was given, when it adds any
    assert str(ours.value).startswith(str(theirs.value))

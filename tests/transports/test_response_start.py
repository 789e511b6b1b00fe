"""The response start is a send like any other: bounded by ``send_timeout``, and never in the way of the
handler or of noticing a client that leaves. Each case drives the ASGI app in-process with a ``send`` that
holds ``http.response.start`` back."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

import sse_fast
from sse_fast.compat.sse_starlette import EventSourceResponse, SendTimeoutError

SCOPE: Dict[str, Any] = {"type": "http", "method": "GET", "http_version": "1.1", "path": "/", "headers": []}
GUARD = 5.0  # seconds; a hang fails the test instead of blocking the suite


class HeldStart:
    """A server that holds the response start back (forever, or until ``release``), and a client that may
    leave (``receive`` then says ``http.disconnect``)."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.release = asyncio.Event()
        self.leave = asyncio.Event()

    async def send(self, message: Dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            await self.release.wait()
        self.sent.append(message)

    async def receive(self) -> Dict[str, Any]:
        await self.leave.wait()
        return {"type": "http.disconnect"}


def test_a_stalled_start_drops_the_stream_at_send_timeout_and_the_handler_ran_beside_it() -> None:
    ran: List[str] = []
    writers: List[sse_fast.AsyncWriter] = []

    async def handler(writer: sse_fast.AsyncWriter) -> None:
        ran.append("started")
        writers.append(writer)
        await writer.write_event(1)
        try:
            await writer.context.wait()
        except asyncio.CancelledError:
            ran.append("cancelled")  # as when a body send stalls
            raise

    async def body() -> None:
        server = HeldStart()
        app = sse_fast.ASGIResponse(handler, send_timeout=0.1)
        await asyncio.wait_for(app(SCOPE, server.receive, server.send), GUARD)
        assert server.sent == []  # neither the start nor a body went out

    asyncio.run(body())
    assert ran == ["started", "cancelled"] and writers[0].context.reason == "send_timeout"


def test_a_client_that_leaves_while_the_start_is_held_back_ends_the_response() -> None:
    async def handler(writer: sse_fast.AsyncWriter) -> None:
        await writer.context.wait()

    async def body() -> str:
        server = HeldStart()
        app = sse_fast.ASGIResponse(handler, send_timeout=None)
        running = asyncio.ensure_future(app(SCOPE, server.receive, server.send))
        await asyncio.sleep(0.05)
        assert not running.done()
        server.leave.set()
        await asyncio.wait_for(running, GUARD)
        return "ended"

    assert asyncio.run(body()) == "ended"


def test_the_start_goes_out_before_the_first_event_even_when_the_handler_waits() -> None:
    async def body() -> List[str]:
        server = HeldStart()
        server.release.set()
        gate = asyncio.Event()

        async def handler(writer: sse_fast.AsyncWriter) -> None:
            await gate.wait()
            await writer.write_event(1)

        running = asyncio.ensure_future(sse_fast.ASGIResponse(handler)(SCOPE, server.receive, server.send))
        await asyncio.sleep(0.05)
        before = [m["type"] for m in server.sent]
        gate.set()
        await asyncio.wait_for(running, GUARD)
        return before

    assert asyncio.run(body()) == ["http.response.start"]  # the browser's onopen does not wait for data


def test_new_writer_raises_send_timed_out_when_the_start_stalls() -> None:
    async def body() -> None:
        server = HeldStart()
        with pytest.raises(sse_fast.SendTimedOut, match="'http.response.start' took over 0.1 s"):
            await sse_fast.new_writer(SCOPE, server.receive, server.send, send_timeout=0.1)
        assert not [w for w in sse_fast.open_streams() if not w.closed]

    asyncio.run(body())


def test_compat_runs_its_producer_and_watcher_beside_a_held_start() -> None:
    produced: List[str] = []
    closed: List[Any] = []

    async def data_sender() -> None:
        produced.append("ran")

    async def forever() -> Any:
        while True:
            yield {"data": "tick"}
            await asyncio.sleep(0.01)

    async def on_close(message: Any) -> None:
        closed.append(message)

    async def body() -> None:
        server = HeldStart()
        response = EventSourceResponse(
            forever(), data_sender_callable=data_sender, client_close_handler_callable=on_close
        )
        running = asyncio.ensure_future(response(SCOPE, server.receive, server.send))
        await asyncio.sleep(0.05)
        assert produced == ["ran"] and not running.done()
        server.leave.set()
        await asyncio.wait_for(running, GUARD)

    asyncio.run(body())
    assert closed == [{"type": "http.disconnect"}]


def test_compat_stalled_start_raises_its_send_timeout_error() -> None:
    async def forever() -> Any:
        while True:
            yield {"data": "tick"}
            await asyncio.sleep(0.01)

    async def body() -> None:
        server = HeldStart()
        response = EventSourceResponse(forever(), send_timeout=0.1)
        with pytest.raises(SendTimeoutError):
            await asyncio.wait_for(response(SCOPE, server.receive, server.send), GUARD)

    asyncio.run(body())

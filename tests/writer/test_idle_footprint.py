"""What an idle stream holds: one timer for its heartbeat and its send bound, no attribute dict, no flag for
threads until one waits, and still every duty of them (a heartbeat on silence, a frozen client dropped at
``send_timeout``); and what an ended one leaves: nothing the cyclic garbage collector has to find."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import types
from collections import Counter
from typing import Any, Awaitable, Callable

import httpx
import pytest
from support.servers import asyncio_server, uvicorn_server, wait_until

import sse_fast
from sse_fast.testing import MemorySink, ThreadSink
from sse_fast.writer import HEARTBEAT, State


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())


def _timers_of(writer: sse_fast.AsyncWriter) -> int:
    """Timers armed on the loop whose callback is ``writer``'s sender (the timer calls it) or belongs to
    ``writer`` or its sender."""
    owners = (writer, writer._sender)
    loop = asyncio.get_running_loop()
    return sum(
        1
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled()
        and any(handle._callback is o or getattr(handle._callback, "__self__", None) is o for o in owners)
    )


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)


def test_an_idle_stream_with_a_heartbeat_holds_one_timer_after_a_send() -> None:
    async def body() -> None:
        writer = sse_fast.AsyncWriter(MemorySink(), send_timeout=30)
        writer.start_heartbeat(15)
        await writer.write_event(1)  # arms the send bound
        await asyncio.sleep(0)
        assert _timers_of(writer) == 1
        await writer.close()
        assert _timers_of(writer) == 0

    run(body)


def _bound_to(*owners: Any) -> int:
    """Bound methods of ``owners`` that the cyclic garbage collector tracks (what an idle stream would hold
    per stream for a loop callback)."""
    methods = (types.MethodType, types.BuiltinMethodType)
    # type(), not isinstance(): isinstance reads __class__, which sets up a lazy object (Django's) another
    # test left in the heap
    return sum(1 for o in gc.get_objects() if type(o) in methods and any(o.__self__ is x for x in owners))


def test_an_idle_asgi_stream_holds_no_bound_method_of_its_sender_or_sink_and_no_queue_list(sender: Any) -> None:
    """The loop calls the sender itself (its timer) and the sink itself (the watched ``receive()``'s done
    callback), and the sender's queue list is made at the first queued frame: objects, not bytes, so the
    count does not move with the machine or the Python version."""

    async def send(message: Any) -> None:
        pass

    async def body() -> None:
        disconnect = asyncio.Event()  # made in the loop (on 3.9 an Event binds the loop it is made in)

        async def receive() -> Any:
            await disconnect.wait()
            return {"type": "http.disconnect"}

        scope = {"type": "http", "method": "GET", "http_version": "1.1"}
        writer, _ = await sse_fast.new_writer(scope, receive, send)
        writer.start_heartbeat(15)
        await writer.write_event(1)  # straight to the sink: nothing queued
        await asyncio.sleep(0)
        gc.collect()
        sink = writer.sink
        assert _bound_to(writer._sender, sink) == 0
        assert _timers_of(writer) == 1 and writer._sender.pending is None
        disconnect.set()
        await _until(lambda: writer.closed)
        assert writer.state is State.LOST
        await writer.close()

    run(body)


def test_a_send_that_begins_under_a_longer_heartbeat_is_still_dropped_at_send_timeout() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=0.05)
        writer.start_heartbeat(3600)  # its timer is armed when the send begins
        sink.stall()
        with pytest.raises(sse_fast.SendTimedOut):
            await asyncio.wait_for(writer.write_event(1), 5)
        assert writer.state is State.DROPPED and sink.aborted

    run(body)


@pytest.mark.parametrize("send_timeout", [None, 0.02, 30.0])
def test_a_heartbeat_goes_out_on_silence_whatever_the_send_bound(send_timeout: Any) -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=send_timeout)
        await writer.write_event(1)
        writer.start_heartbeat(0.05)
        await _until(lambda: sink.data.count(HEARTBEAT) >= 2)
        assert sink.data.count(HEARTBEAT) >= 2
        await writer.close()
        assert writer.state is State.ENDED

    run(body)


def test_a_heartbeat_writes_the_frame_it_is_given_on_both_writers() -> None:
    ping = sse_fast.encode_comment("ping")  # FastAPI's keepalive (sse_fast.integrations.fastapi_sse)

    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=None)
        writer.start_heartbeat(0.02, ping)
        await _until(lambda: ping in sink.data)
        await writer.close()
        assert HEARTBEAT not in sink.data

    run(body)
    sink = ThreadSink()
    writer = sse_fast.Writer(sink)
    stop = writer.start_heartbeat(0.02, ping)
    for _ in range(500):  # the heartbeat thread writes: poll, as _until does on a loop
        if ping in sink.data:
            break
        threading.Event().wait(0.01)
    stop()
    assert ping in sink.data and HEARTBEAT not in sink.data
    writer.close()


def test_a_stopped_heartbeat_sends_nothing_more_and_leaves_no_timer() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=None)
        stop = writer.start_heartbeat(0.02)
        await _until(lambda: HEARTBEAT in sink.data)
        stop()
        stop()  # idempotent
        sent = sink.data
        await asyncio.sleep(0.1)
        assert sink.data == sent and _timers_of(writer) == 0
        await writer.close()

    run(body)


def test_writers_hold_no_attribute_dict_but_still_take_attributes_of_ones_own() -> None:
    async def body() -> None:
        writer = sse_fast.AsyncWriter(MemorySink())
        assert vars(writer) == {}  # every attribute of its own is a slot
        writer.tag = "mine"  # type: ignore[attr-defined]
        assert vars(writer) == {"tag": "mine"}
        await writer.close()

    run(body)
    writer = sse_fast.Writer(ThreadSink())
    assert vars(writer) == {}
    writer.close()


def test_responses_made_per_request_share_their_options_and_refusals_still_raise() -> None:
    async def handler(writer: Any) -> None:
        pass

    first, second = sse_fast.ASGIResponse(handler, heartbeat=7), sse_fast.ASGIResponse(handler, heartbeat=7)
    assert first.options is second.options
    assert sse_fast.ASGIResponse(handler, heartbeat=8).options.heartbeat == 8
    own = sse_fast.ASGIResponse(handler, headers={"x-a": "1"})  # a dict: unhashable, options of its own
    assert own.options.headers == {"x-a": "1"}
    sse_fast.ASGIResponse(handler, send_timeout=1)
    with pytest.raises(sse_fast.InvalidValue):  # True == 1, but a bool is refused all the same
        sse_fast.ASGIResponse(handler, send_timeout=True)


def own_objects() -> "Counter[str]":
    """sse_fast's own objects that the cyclic garbage collector tracks, by type."""
    return Counter(
        type(o).__qualname__ for o in gc.get_objects() if str(getattr(type(o), "__module__", "")).startswith("sse_fast")
    )


@pytest.mark.parametrize("transport", ["asgi", "asyncio streams"])
@pytest.mark.parametrize("ending", ["the handler returns", "the client leaves"])
def test_an_ended_stream_is_freed_by_reference_counting_alone(sender: Any, transport: str, ending: str) -> None:
    broker = sse_fast.Broker()

    async def handler(writer: sse_fast.AsyncWriter) -> None:
        if ending == "the handler returns":
            await writer.write_event(1)
        else:
            await broker.stream(writer, "room")

    async def streams_app(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer, _ = await sse_fast.new_writer(reader, stream)
        await writer.run(handler)

    def stream(url: str) -> None:
        with httpx.Client(timeout=5) as client, client.stream("GET", url) as response:
            if ending == "the handler returns":
                assert response.read() == sse_fast.encode_json(1)
        wait_until(lambda: broker.stats()["subscribers"] == 0)

    serve = uvicorn_server(sse_fast.ASGIResponse(handler)) if transport == "asgi" else asyncio_server(streams_app)
    with serve as server:
        stream(server.url)  # the server's and the broker's own objects made once (per loop)
        gc.collect()
        gc.disable()
        try:
            before = own_objects()
            for _ in range(3):
                stream(server.url)
            for _ in range(500):  # the server's side ends a moment after the client's
                left = own_objects() - before
                if not left:
                    break
                time.sleep(0.01)
        finally:
            gc.enable()
    assert not left, f"left after 3 ended streams, with the collector off: {dict(left)}"


def test_an_idle_stream_makes_no_flag_until_a_thread_waits_and_one_made_late_is_already_set() -> None:
    async def body() -> None:
        flags = own_objects()["Flag"]
        writer = sse_fast.AsyncWriter(MemorySink())
        assert own_objects()["Flag"] == flags  # the writer's two and its context's one: made on demand
        closed = writer.closed_event
        assert not closed.is_set() and not writer.finished.is_set()
        waiter = threading.Thread(target=writer.context.wait_sync)
        waiter.start()
        await writer.close()
        await asyncio.get_running_loop().run_in_executor(None, waiter.join, 5)
        assert not waiter.is_alive() and closed.is_set() and writer.finished.is_set()
        assert writer.context.wait_sync(0)

    run(body)

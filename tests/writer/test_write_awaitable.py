"""What an ``AsyncWriter`` write returns, on both twins of the write path (the ``sender`` fixture: the compiled
core's write is an awaitable object, the pure twin's a coroutine). Both must be usable wherever a coroutine is:
``await``, ``create_task``, ``run_coroutine_threadsafe``, ``asyncio.wait_for``; a write thrown into, closed or
awaited twice behaves as a coroutine would, and leaves the writer able to send the next frame."""

from __future__ import annotations

import asyncio
import collections.abc
import functools
import gc
import inspect
import threading
import warnings
from typing import Any, Awaitable, Callable

import httpx
import pytest
from support.servers import uvicorn_server

import sse_fast
from sse_fast import AsyncWriter, ClientDisconnected
from sse_fast.testing import MemorySink


def on_a_loop(test: Callable[[], Awaitable[Any]]) -> Callable[[], None]:
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())  # type: ignore[arg-type]

    return run


pytestmark = pytest.mark.usefixtures("sender")  # every test here runs on both twins of the write path


@on_a_loop
async def test_a_write_is_a_coroutine_for_asyncio() -> None:
    sink = MemorySink()
    writer = AsyncWriter(sink)
    write = writer.write_event({"n": 1})
    assert asyncio.iscoroutine(write) and isinstance(write, collections.abc.Coroutine)
    await asyncio.create_task(write)
    await asyncio.wait_for(writer.write_event({"n": 2}), 5)
    await asyncio.gather(writer.write_raw_event("three"), writer.write_comment("four"))
    await writer.flush()
    assert sink.data == b'data: {"n":1}\n\ndata: {"n":2}\n\ndata: three\n\n: four\n\n'


@on_a_loop
async def test_a_write_from_another_thread() -> None:
    sink = MemorySink()
    writer = AsyncWriter(sink)
    loop = asyncio.get_running_loop()
    done = []

    def from_a_thread() -> None:
        done.append(asyncio.run_coroutine_threadsafe(writer.write_event("t"), loop).result(5))

    thread = threading.Thread(target=from_a_thread)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.01)
    thread.join()
    assert done == [None] and sink.data == b'data: "t"\n\n'


@on_a_loop
async def test_inspect_tells_where_a_write_is() -> None:
    """anyio asks ``inspect.getcoroutinestate`` of its tasks' coroutines (``start_soon(writer.write_event, x)``)."""
    sink = MemorySink()
    writer = AsyncWriter(sink, send_timeout=None)
    sink.stall()
    write = writer.write_event("w")
    assert inspect.getcoroutinestate(write) == inspect.CORO_CREATED  # type: ignore[arg-type]
    task = asyncio.ensure_future(write)
    await asyncio.sleep(0.01)
    assert inspect.getcoroutinestate(write) == inspect.CORO_SUSPENDED  # type: ignore[arg-type]
    sink.resume()
    await task
    assert inspect.getcoroutinestate(write) == inspect.CORO_CLOSED  # type: ignore[arg-type]


@on_a_loop
async def test_a_write_awaited_twice_is_refused() -> None:
    writer = AsyncWriter(MemorySink())
    write = writer.write_event(1)
    await write
    with pytest.raises(RuntimeError, match="already awaited"):
        await write


@on_a_loop
async def test_a_write_never_awaited_sends_nothing_and_warns() -> None:
    """On both cores, as any coroutine left unawaited: nothing is written, and a RuntimeWarning says so."""
    sink = MemorySink()
    writer = AsyncWriter(sink)
    with pytest.warns(RuntimeWarning, match=r"^coroutine '[\w.]+' was never awaited$"):
        writer.write_event("never")  # type: ignore[unused-coroutine]
    await writer.write_event("awaited")
    await writer.flush()
    assert sink.data == b'data: "awaited"\n\n'


@on_a_loop
async def test_a_write_closed_before_it_ran_warns_nothing() -> None:
    """``close()`` on a write not yet begun (as on any coroutine) discards it without the warning."""
    writer = AsyncWriter(MemorySink())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write = writer.write_comment("dropped")
        write.close()
        del write
        gc.collect()
    await writer.write_comment("next")
    assert writer._sender.size == 0


def test_a_handler_that_forgets_await_is_warned_under_a_real_server() -> None:
    """The silent failure of issue 21: a handler answering 200 with no event; now the server warns."""

    async def handler(writer: AsyncWriter) -> None:
        writer.write_event("lost")  # type: ignore[unused-coroutine]
        await writer.write_event("sent")

    with pytest.warns(RuntimeWarning, match="was never awaited"):
        with uvicorn_server(sse_fast.ASGIResponse(handler, heartbeat=None)) as server:
            body = httpx.get(server.url, timeout=10).text
    assert body == 'data: "sent"\n\n'


@on_a_loop
async def test_a_stalled_write_that_is_cancelled_leaves_the_stream_unusable() -> None:
    """Cancelled from outside mid-send (asyncio throws into the write): the half-sent stream is closed."""
    sink = MemorySink()
    writer = AsyncWriter(sink, send_timeout=None)
    sink.stall()
    task = asyncio.ensure_future(writer.write_event("stuck"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert writer.closed
    with pytest.raises(sse_fast.StreamClosed):
        await writer.write_event("after")


@on_a_loop
async def test_a_write_closed_mid_send_frees_the_sender() -> None:
    """``close()`` on a write suspended in the sink (as when its coroutine is dropped) ends that send: the next
    write goes to the sink again instead of queueing behind a send that will never finish."""
    sink = MemorySink()
    writer = AsyncWriter(sink, send_timeout=None)
    sink.stall()
    write = writer.write_event("dropped").__await__()
    next(write)  # suspended in the sink's send
    write.close()
    sink.resume()
    await asyncio.sleep(0)  # the turn's mark passes
    await writer.write_event("next")
    assert sink.writes == [b'data: "next"\n\n']


@on_a_loop
async def test_a_failed_send_raises_client_disconnected_from_that_write() -> None:
    sink = MemorySink()
    writer = AsyncWriter(sink)
    sink.fail(ConnectionResetError("reset by peer"))
    with pytest.raises(ClientDisconnected, match="reset by peer"):
        await writer.write_event("lost")
    assert writer.context.reason == "client_disconnected"


@on_a_loop
async def test_a_burst_queued_past_high_water_waits_and_then_goes_out_whole() -> None:
    sink = MemorySink()
    writer = AsyncWriter(sink)
    chunk = "x" * 4096
    await asyncio.gather(*(writer.write_raw_event(chunk) for _ in range(40)))
    await writer.flush()
    assert sink.data == b"".join(b"data: " + chunk.encode() + b"\n\n" for _ in range(40))
    assert len(sink.writes) < 40


@on_a_loop
async def test_a_writer_class_changed_after_writes_is_read_anew() -> None:
    """A write reads the writer's fields as Python does: a class changed since the last write (here: ``state``
    made a property that says the stream is closing) is read as it is now (the compiled write once kept slot
    offsets per class, and had to check this)."""

    class Changed(AsyncWriter):
        __slots__ = ()

    sink = MemorySink()
    writer = Changed(sink)
    await writer.write_event(1)  # the write path learns where Changed keeps its fields
    Changed.state = property(lambda self: sse_fast.State.CLOSING)  # type: ignore[assignment]
    with pytest.raises(sse_fast.StreamClosed):
        await writer.write_event(2)
    await writer.flush()
    assert sink.data == b"data: 1\n\n"

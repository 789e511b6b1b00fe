"""The writer's one state, moved by each close path, on in-memory sinks (no socket, no server).

OPEN -> CLOSING -> ENDED (close), OPEN/CLOSING -> LOST -> ENDED (the client left, then close),
-> DROPPED (abort, or a send timeout). Each path is checked for what reaches the sink, what a later write
raises, and the context's reason.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import weakref
from typing import Any, Awaitable, Callable, List, Tuple

import pytest

import sse_fast
from sse_fast.testing import MemorySink, ThreadSink
from sse_fast.writer import HIGH_WATER, State
from sse_fast.writer.sender import MARK_EVERY

pytestmark = pytest.mark.usefixtures("sender")  # on both twins of the write path

FRAME = b"data: x\n\n"


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())


def test_close_sends_what_is_queued_then_ends_the_body() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        assert writer.state is State.OPEN and writer in sse_fast.open_streams()
        await writer.write_event({"n": 1})
        await writer.write_event({"n": 2})
        await writer.close()
        assert writer.state is State.ENDED and writer.closed
        assert [e.data for e in sink.events()] == ['{"n":1}', '{"n":2}']
        assert sink.ended and not sink.aborted
        assert writer.context.reason == "closed" and writer.finished.is_set() and writer.closed_event.is_set()
        assert writer not in sse_fast.open_streams()
        with pytest.raises(sse_fast.StreamClosed, match="closed on the server side"):
            await writer.write_event({"n": 3})

    run(body)


def test_a_client_that_leaves_loses_the_queue_and_close_only_ends_the_body() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        assert writer.offer(FRAME, HIGH_WATER, start=False)  # queued, not yet sent
        sink.leave()
        assert writer.state is State.LOST and writer.buffered == 0
        assert writer.context.reason == "client_disconnected" and writer.finished.is_set()
        with pytest.raises(sse_fast.ClientDisconnected, match="the client left") as raised:
            await writer.write_event(1)
        assert type(raised.value) is sse_fast.ClientDisconnected and raised.value.reason == "client_disconnected"
        await writer.close()
        assert writer.state is State.ENDED and sink.ended and not sink.aborted
        assert sink.writes == []  # the frame queued before the client left never reached it

    run(body)


def test_abort_drops_the_queue_and_the_connection_and_close_then_does_nothing() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        writer.offer(FRAME, HIGH_WATER, start=False)
        writer.abort("slow")
        assert writer.state is State.DROPPED and sink.aborted and writer.buffered == 0
        assert writer.context.reason == "slow"
        await writer.close()
        assert writer.state is State.DROPPED and not sink.ended and sink.writes == []
        with pytest.raises(sse_fast.StreamClosed, match="reason: slow"):
            await writer.write_comment("x")

    run(body)


def test_a_client_that_stops_reading_is_dropped_at_send_timeout() -> None:
    async def body() -> None:
        sink = MemorySink()
        sink.stall()
        writer = sse_fast.AsyncWriter(sink, send_timeout=0.05)
        with pytest.raises(sse_fast.SendTimedOut):  # the writer was idle: this write itself waits in the sink
            await asyncio.wait_for(writer.write_event(1), 5)
        assert writer.context.reason == "send_timeout"
        assert getattr(asyncio.current_task(), "cancelling", lambda: 0)() == 0  # the wait it cut is undone
        assert writer.state is State.DROPPED and sink.aborted and not sink.ended
        with pytest.raises(sse_fast.SendTimedOut, match="read nothing for 0.05 s"):
            await writer.write_event(2)
        await writer.close()  # nothing to end: the connection was dropped
        assert writer.state is State.DROPPED and not sink.ended

    run(body)


def test_close_of_a_stalled_stream_gives_up_at_send_timeout() -> None:
    async def body() -> None:
        sink = MemorySink()
        sink.stall()
        writer = sse_fast.AsyncWriter(sink, send_timeout=0.05)
        assert writer.offer(FRAME, HIGH_WATER)  # queued for the sender, whose send never returns
        await asyncio.wait_for(writer.close(), 5)
        assert writer.state is State.DROPPED and writer.context.reason == "closed" and sink.aborted

    run(body)


def test_a_send_that_fails_closes_the_stream_with_its_cause() -> None:
    async def body() -> None:
        sink = MemorySink()
        broken = ConnectionResetError("reset by peer")
        sink.fail(broken)
        writer = sse_fast.AsyncWriter(sink)
        with pytest.raises(sse_fast.ClientDisconnected) as raised:
            await writer.write_event(1)  # idle writer: the write is the send, and says it failed
        assert writer.state is State.LOST and raised.value.__cause__ is broken
        with pytest.raises(sse_fast.ClientDisconnected):
            await writer.flush()
        await writer.close()
        assert writer.state is State.ENDED and sink.writes == []

    run(body)


def test_run_cancels_the_handler_when_the_client_leaves_and_ends_the_body() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        seen: List[str] = []

        async def handler(w: sse_fast.AsyncWriter) -> None:
            await w.write_event("hello")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        running = asyncio.ensure_future(writer.run(handler))
        while not sink.writes:
            await asyncio.sleep(0)
        sink.leave()
        await asyncio.wait_for(running, 5)
        assert seen == ["cancelled"] and writer.state is State.ENDED and sink.ended

    run(body)


def test_run_takes_back_its_own_cancellation_of_the_callers_task_and_passes_on_anyone_elses() -> None:
    # The handler runs in the task that awaits run(): when the client leaves, run() cancels that task and
    # takes the cancellation back once the handler has stopped, so the caller goes on (and is not left
    # "cancelling", which asyncio.timeout and TaskGroup read). Someone else's cancellation still raises.
    async def handler(w: sse_fast.AsyncWriter) -> None:
        await w.write_event("hello")
        await asyncio.Event().wait()

    async def opened() -> Tuple[MemorySink, sse_fast.AsyncWriter, "asyncio.Future[int]"]:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)

        async def app() -> int:
            await writer.run(handler)
            task = asyncio.current_task()
            return task.cancelling() if hasattr(task, "cancelling") else 0  # type: ignore[union-attr]

        running = asyncio.ensure_future(app())
        while not sink.writes:
            await asyncio.sleep(0)
        return sink, writer, running

    async def body() -> None:
        sink, writer, running = await opened()
        sink.leave()
        assert await asyncio.wait_for(running, 5) == 0
        assert writer.state is State.ENDED and sink.ended

        sink, writer, running = await opened()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert writer.state is State.ENDED and sink.ended

        if sys.version_info >= (3, 11):  # before, a task does not count who cancelled it
            sink, writer, running = await opened()
            sink.leave()
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            assert writer.state is State.ENDED and sink.ended

    run(body)


def test_run_sends_what_was_written_then_breaks_the_body_off_and_raises_the_handlers_error() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        bug = KeyError("bug")

        async def handler(w: sse_fast.AsyncWriter) -> None:
            await w.write_event("first")
            await w.write_event("last")  # queued behind the first (same loop turn): flushed before the break
            raise bug

        with pytest.raises(KeyError, match="bug"):
            await writer.run(handler)
        assert [e.data for e in sink.events()] == ['"first"', '"last"']
        assert writer.state is State.DROPPED and sink.broken is bug and not sink.ended and not sink.aborted
        assert writer.context.reason == "error"
        with pytest.raises(sse_fast.StreamClosed, match="handler raised KeyError") as late:
            await writer.write_event("late")
        assert late.value.reason == "error" and late.value.__cause__ is bug

    run(body)


def test_a_task_the_handler_returns_is_freed_with_its_error_without_the_garbage_collector() -> None:
    # run() awaits what the handler returns (sse_fast.integrations.fastapi_sse hands it a task); the task's
    # error holds run()'s frame, which must not hold the task: that cycle would keep both until a collection.
    async def failing(w: sse_fast.AsyncWriter) -> None:
        raise KeyError("bug")

    async def body() -> "weakref.ref[asyncio.Task[None]]":
        tasks = []

        def handler(w: sse_fast.AsyncWriter) -> "asyncio.Task[None]":
            task = asyncio.get_running_loop().create_task(failing(w))
            tasks.append(weakref.ref(task))
            return task

        try:
            await sse_fast.AsyncWriter(MemorySink()).run(handler)
        except KeyError:
            pass  # (pytest.raises would hold the error, and so the frames)
        else:
            raise AssertionError("run() did not raise the task's error")
        return tasks[0]

    gc.disable()
    try:
        task = run(body)
        assert task() is None
    finally:
        gc.enable()


def test_a_write_refused_after_the_client_left_is_no_error_of_the_handler() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)

        async def handler(w: sse_fast.AsyncWriter) -> None:
            sink.leave()
            try:
                await w.write_event("late")
            except sse_fast.ClientDisconnected:
                raise ConnectionResetError("the handler's own report of it") from None

        await writer.run(handler)
        assert writer.state is State.ENDED and sink.broken is None and writer.context.reason == "client_disconnected"

    run(body)


def test_a_with_block_that_raises_breaks_the_body_off_on_both_writers() -> None:
    async def body() -> None:
        sink = MemorySink()
        with pytest.raises(ValueError, match="bug"):
            async with sse_fast.AsyncWriter(sink) as writer:
                await writer.write_event(1)
                raise ValueError("bug")
        assert writer.state is State.DROPPED and isinstance(sink.broken, ValueError) and sink.data == b"data: 1\n\n"

    run(body)
    sink = ThreadSink()
    with pytest.raises(ValueError, match="bug"):
        with sse_fast.Writer(sink) as sync:
            sync.write_event(1)
            raise ValueError("bug")
    assert sync.state is State.DROPPED and isinstance(sink.broken, ValueError) and sink.data == b"data: 1\n\n"
    assert sync.context.reason == "error" and not sink.ended


def test_a_second_close_waits_for_the_first_and_late_news_changes_nothing() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        await writer.write_event(1)
        sink.stall()
        first = asyncio.ensure_future(writer.close())
        second = asyncio.ensure_future(writer.close())
        await asyncio.sleep(0.01)
        assert writer.state is State.CLOSING and not second.done()
        sink.resume()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert writer.state is State.ENDED and len(sink.events()) == 1
        sink.leave()
        writer.abort()
        assert writer.state is State.ENDED and not sink.aborted and writer.context.reason == "closed"

    run(body)


def test_writes_wait_for_room_past_the_high_water_mark() -> None:
    async def body() -> None:
        sink = MemorySink()
        sink.stall()
        writer = sse_fast.AsyncWriter(sink, send_timeout=None)
        assert writer.offer(b": x\n\n", HIGH_WATER)  # the sender takes it and blocks in the stalled send
        await asyncio.sleep(0)
        big = b"data: " + b"y" * HIGH_WATER + b"\n\n"
        waiting = asyncio.ensure_future(writer.write_frame(big))
        await asyncio.sleep(0.01)
        assert not waiting.done() and writer.buffered == len(big)
        sink.resume()
        await asyncio.wait_for(waiting, 5)
        await writer.close()
        assert sink.data == b": x\n\n" + big

    run(body)


# -- the thread-side Writer ---------------------------------------------------------------------------


def test_sync_close_ends_the_body_and_refuses_later_writes() -> None:
    sink = ThreadSink()
    writer = sse_fast.Writer(sink)
    writer.write_event({"n": 1})
    writer.close()
    assert writer.state is State.ENDED and sink.ended and [e.data for e in sink.events()] == ['{"n":1}']
    with pytest.raises(sse_fast.StreamClosed):
        writer.write_event(2)


def test_sync_client_that_leaves_from_the_servers_thread() -> None:
    sink = ThreadSink()
    writer = sse_fast.Writer(sink)
    server = threading.Thread(target=sink.leave)  # the server notices on its own thread
    server.start()
    server.join()
    assert writer.state is State.LOST and writer.context.reason == "client_disconnected"
    with pytest.raises(sse_fast.ClientDisconnected, match="the client left"):
        writer.write_event(1)
    writer.close()
    assert writer.state is State.ENDED and sink.ended and not sink.aborted


def test_sync_send_timeout_drops_the_stream() -> None:
    sink = ThreadSink()
    sink.stall()
    writer = sse_fast.Writer(sink, send_timeout=0.05)
    with pytest.raises(sse_fast.SendTimedOut, match="read nothing for 0.05 s"):
        writer.write_event(1)
    assert writer.state is State.DROPPED and sink.aborted and writer.context.reason == "send_timeout"
    writer.close()
    assert not sink.ended


def test_sync_abort() -> None:
    sink = ThreadSink()
    writer = sse_fast.Writer(sink)
    writer.abort()
    assert writer.state is State.DROPPED and sink.aborted and writer.finished.is_set()
    writer.close()
    assert not sink.ended


def test_paced_writes_go_straight_to_the_sink_and_bursts_are_still_gathered() -> None:
    """A write that finds the writer idle is sent from the writer's own task (no task per event); the
    writes that follow it in the same loop turn are gathered into one send. After a paced run the turn is
    marked only every few writes, so a burst's first few writes may go alone, never more than MARK_EVERY;
    once a write queued behind a mark, every turn is marked again."""

    async def burst(writer: sse_fast.AsyncWriter, numbers: range) -> None:
        for i in numbers:  # no turn between writes
            await writer.write_event(i)
        while writer.buffered:  # the sender starts once the loop has run what was ready
            await asyncio.sleep(0)
        await writer.flush()

    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=None)
        loop = asyncio.get_running_loop()
        made: List[Any] = []
        loop.set_task_factory(lambda lp, coro, **kw: made.append(coro) or asyncio.Task(coro, loop=lp, **kw))
        for i in range(50):
            await writer.write_event(i)
            assert len(sink.writes) == i + 1  # it reached the sink before the write returned
            await asyncio.sleep(0)  # a loop turn between events: paced
        assert made == []
        await burst(writer, range(50, 100))
        alone = len(sink.writes) - 50 - 1  # the burst's writes that went alone, before one send of the rest
        assert 1 <= alone <= MARK_EVERY and len(made) == 1
        await asyncio.sleep(0)
        await burst(writer, range(100, 150))
        loop.set_task_factory(None)
        assert len(sink.writes) == 50 + alone + 1 + 2 and len(made) == 2  # its first write, then one send
        assert [e.data for e in sink.events()] == [str(i) for i in range(150)]
        await writer.close()

    run(body)


def test_a_burst_resumed_after_waiting_for_room_still_goes_out_in_full_batches() -> None:
    """Writes woken when the sender takes the queue are the rest of a burst: they queue behind its send,
    even when that send returns at once, instead of going out a frame at a time."""
    sent: List[int] = []

    async def body() -> None:
        async def receive() -> Any:
            await asyncio.Event().wait()

        async def send(message: Any) -> None:
            sent.append(len(message.get("body", b"")))
            if len(sent) % 3 == 0:
                await asyncio.sleep(0)  # now and then the server makes a send wait (flow control)

        async def handler(writer: sse_fast.AsyncWriter) -> None:
            for i in range(20_000):
                await writer.write_event({"n": i, "pad": "x" * 200})

        scope = {"type": "http", "method": "GET", "http_version": "1.1", "headers": []}
        await sse_fast.ASGIResponse(handler, heartbeat=None)(scope, receive, send)

    run(body)
    bodies = [n for n in sent[1:] if n]  # after the start
    assert sum(bodies) > 20_000 * 200
    assert len(bodies) <= sum(bodies) // HIGH_WATER + 3  # full batches, not frames

"""What keeps one loop responsive with many streams: a publish reaches its subscribers a slice per loop turn
(no callback in proportion to them all), in order; heartbeats of streams written at the same moment do not
all come due in the same loop turn. Counted in subscribers and timers, never in time."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, List, Tuple

import sse_fast
from sse_fast.broker.fanout import SLICE
from sse_fast.broker.flusher import SLICE as FLUSH_SLICE
from sse_fast.testing import MemorySink
from sse_fast.writer import HEARTBEAT


def reached(sinks: List[MemorySink], writers: List[sse_fast.AsyncWriter]) -> int:
    """Subscribers that got something: queued on their writer or written to their sink."""
    return sum(1 for sink, writer in zip(sinks, writers) if sink.writes or writer.buffered)


async def publish_to_many(subscribers: int, events: int) -> Tuple[int, int, List[MemorySink]]:
    """The most subscribers reached between two turns of the publisher's task, the turns the first publish
    took to reach them all, and the sinks once every event went out."""
    broker = sse_fast.Broker()
    sinks = [MemorySink() for _ in range(subscribers)]
    writers = [sse_fast.AsyncWriter(sink) for sink in sinks]
    streams = [asyncio.ensure_future(broker.stream(w, "room")) for w in writers]
    while broker.stats()["subscribers"] < subscribers:
        await asyncio.sleep(0)
    await broker.publish("room", "e0", id="0")
    most = turns = before = 0
    while before < subscribers:
        await asyncio.sleep(0)
        now = reached(sinks, writers)
        most, turns, before = max(most, now - before), turns + 1, now
    for n in range(1, events):
        await broker.publish("room", f"e{n}", id=str(n))
    while broker.stats()["delivered"] < subscribers * events or any(w.buffered for w in writers):
        await asyncio.sleep(0)
    for w in writers:
        await w.close()
    await asyncio.gather(*streams)
    await broker.close()
    return most, turns, sinks


def test_a_publish_reaches_many_subscribers_a_slice_per_loop_turn_and_each_gets_every_event_in_order() -> None:
    subscribers, events = 3 * SLICE + 5, 4
    most, turns, sinks = asyncio.run(publish_to_many(subscribers, events))
    assert most <= SLICE, f"{most} subscribers reached in one loop turn (slice: {SLICE})"
    assert turns >= 4, f"{subscribers} subscribers reached in {turns} loop turns"
    expected = b"".join(sse_fast.encode(f"e{n}", id=str(n)) for n in range(events))
    assert all(b"".join(s.writes) == expected for s in sinks)


def test_the_heartbeats_of_streams_written_at_the_same_moment_come_due_at_different_times() -> None:
    async def body() -> List[float]:
        interval, streams = 1.0, 300
        writers = [sse_fast.AsyncWriter(MemorySink()) for _ in range(streams)]
        for w in writers:
            w.start_heartbeat(interval)
        await asyncio.sleep(interval / 2)
        for w in writers:  # a publish to all of them: the same moment of silence begins for each
            assert w.offer(b"data: x\n\n", 1 << 16)
        written = asyncio.get_running_loop().time()
        await asyncio.sleep(0.8 * interval)  # every timer came due once since, saw the write, was armed again
        due = [w._sender._watchdog.when() - written for w in writers]  # type: ignore[union-attr]
        for w in writers:
            await w.close()
        return due

    due = asyncio.run(body())
    together = max(Counter(round(d, 3) for d in due).values())  # due in the same millisecond
    assert together <= len(due) // 10, f"{together} of {len(due)} heartbeats come due together"
    assert all(0.9 - 0.01 <= d <= 1.0 + 0.01 for d in due), sorted(due)[:: len(due) // 10]


def counting_tasks(loop: asyncio.AbstractEventLoop) -> List[int]:
    """Make ``loop`` count the tasks made on it from now on, in the one-item list returned."""
    made = [0]

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> "asyncio.Task[Any]":
        made[0] += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    return made


async def tasks_per_publish(subscribers: int, stalled: int) -> Tuple[int, List[MemorySink]]:
    """Tasks the loop made while one publish reached ``subscribers`` (the first ``stalled`` of them not
    reading until it was out to the rest), and the sinks after."""
    broker = sse_fast.Broker()
    sinks = [MemorySink() for _ in range(subscribers)]
    writers = [sse_fast.AsyncWriter(sink, send_timeout=30) for sink in sinks]
    streams = [asyncio.ensure_future(broker.stream(w, "room")) for w in writers]
    while broker.stats()["subscribers"] < subscribers:
        await asyncio.sleep(0)
    for sink in sinks[:stalled]:
        sink.stall()
    loop = asyncio.get_running_loop()
    made = counting_tasks(loop)
    await broker.publish("room", "e0", id="0")
    while sum(1 for s in sinks if s.writes) < subscribers - stalled:
        await asyncio.sleep(0)
    loop.set_task_factory(None)
    for sink in sinks[:stalled]:
        sink.resume()
    while broker.stats()["delivered"] < subscribers or any(w.buffered for w in writers):
        await asyncio.sleep(0)
    for w in writers:
        await w.close()
    await asyncio.gather(*streams)
    await broker.close()
    return made[0], sinks


def test_a_publish_makes_no_task_per_subscriber_when_their_transports_take_the_frame_at_once(sender: Any) -> None:
    made, sinks = asyncio.run(tasks_per_publish(3 * FLUSH_SLICE, 0))
    assert made <= 3, f"{made} tasks for one publish to {3 * FLUSH_SLICE} subscribers"  # the flusher's
    assert all(s.writes == [sse_fast.encode("e0", id="0")] for s in sinks)


def test_a_subscriber_whose_transport_makes_the_send_wait_gets_the_frame_once_it_reads_again(sender: Any) -> None:
    made, sinks = asyncio.run(tasks_per_publish(100, 3))
    assert made <= 3 + 3, f"{made} tasks for one publish to 100 subscribers, 3 of them stalled"
    assert all(s.writes == [sse_fast.encode("e0", id="0")] for s in sinks)


def test_heartbeats_make_no_task_when_the_transport_takes_them_at_once(sender: Any) -> None:
    async def body() -> Tuple[int, List[MemorySink]]:
        sinks = [MemorySink() for _ in range(50)]
        writers = [sse_fast.AsyncWriter(sink) for sink in sinks]
        loop = asyncio.get_running_loop()
        made = counting_tasks(loop)
        for w in writers:
            w.start_heartbeat(0.02)
        await asyncio.sleep(0.15)  # several heartbeats each
        loop.set_task_factory(None)
        for w in writers:
            await w.close()
        return made[0], sinks

    made, sinks = asyncio.run(body())
    assert all(s.writes.count(HEARTBEAT) >= 2 for s in sinks)
    assert made <= 1, f"{made} tasks for the heartbeats of 50 streams"


def test_a_heartbeat_whose_send_waits_goes_out_with_the_next_ones_once_the_client_reads_again(sender: Any) -> None:
    async def body() -> Tuple[int, MemorySink, int]:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink, send_timeout=30)
        sink.stall()
        loop = asyncio.get_running_loop()
        made = counting_tasks(loop)
        stop = writer.start_heartbeat(0.02)
        await asyncio.sleep(0.15)  # the first heartbeat's send waits, the next ones queue behind it
        stop()
        loop.set_task_factory(None)
        sink.resume()
        await writer.flush()
        await writer.close()
        return made[0], sink, writer.written()[2]

    made, sink, beats = asyncio.run(body())
    assert made == 1, f"{made} tasks for heartbeats whose send waited"  # the sender task, taking the send over
    assert beats >= 2 and sink.writes == [HEARTBEAT, HEARTBEAT * (beats - 1)]


def test_a_send_that_waits_past_send_timeout_drops_that_subscriber_and_no_other(sender: Any) -> None:
    async def body() -> Tuple[List[Any], List[MemorySink], List[sse_fast.AsyncWriter]]:
        errors: List[Any] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
        broker = sse_fast.Broker()
        sinks = [MemorySink() for _ in range(5)]
        writers = [sse_fast.AsyncWriter(sink, send_timeout=0.1) for sink in sinks]
        streams = [asyncio.ensure_future(broker.stream(w, "room")) for w in writers]
        while broker.stats()["subscribers"] < 5:
            await asyncio.sleep(0)
        sinks[0].stall()  # its send waits: the sender task takes it over, and the watchdog ends it
        await broker.publish("room", "e0", id="0")
        await asyncio.wait_for(streams[0], 5)
        await broker.publish("room", "e1", id="1")
        while any(len(s.writes) < 2 for s in sinks[1:]):
            await asyncio.sleep(0.01)
        for w in writers[1:]:
            await w.close()
        await asyncio.gather(*streams)
        await broker.close()
        return errors, sinks, writers

    errors, sinks, writers = asyncio.run(body())
    assert not errors
    assert writers[0].context.reason == "send_timeout" and sinks[0].aborted
    frames = [sse_fast.encode(f"e{n}", id=str(n)) for n in range(2)]
    assert all(s.writes == frames for s in sinks[1:])

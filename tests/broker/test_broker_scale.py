"""What keeps one loop responsive with many streams: a publish reaches its subscribers a slice per loop turn
(no callback in proportion to them all), in order; heartbeats of streams written at the same moment do not
all come due in the same loop turn. Counted in subscribers and timers, never in time."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, List, Tuple

import sse_fast
from sse_fast.broker.fanout import SLICE
from sse_fast.testing import MemorySink


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


async def publish_with_stalled(subscribers: int, stalled: int) -> List[MemorySink]:
    """One publish reaching ``subscribers`` (the first ``stalled`` of them not reading until it was out to the
    rest); the sinks after."""
    broker = sse_fast.Broker()
    sinks = [MemorySink() for _ in range(subscribers)]
    writers = [sse_fast.AsyncWriter(sink, send_timeout=30) for sink in sinks]
    streams = [asyncio.ensure_future(broker.stream(w, "room")) for w in writers]
    while broker.stats()["subscribers"] < subscribers:
        await asyncio.sleep(0)
    for sink in sinks[:stalled]:
        sink.stall()
    await broker.publish("room", "e0", id="0")
    while sum(1 for s in sinks if s.writes) < subscribers - stalled:
        await asyncio.sleep(0)
    for sink in sinks[:stalled]:
        sink.resume()
    while broker.stats()["delivered"] < subscribers or any(w.buffered for w in writers):
        await asyncio.sleep(0)
    for w in writers:
        await w.close()
    await asyncio.gather(*streams)
    await broker.close()
    return sinks


def test_a_subscriber_whose_transport_makes_the_send_wait_gets_the_frame_once_it_reads_again() -> None:
    sinks = asyncio.run(publish_with_stalled(100, 3))
    assert all(s.writes == [sse_fast.encode("e0", id="0")] for s in sinks)


def test_a_send_that_waits_past_send_timeout_drops_that_subscriber_and_no_other() -> None:
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

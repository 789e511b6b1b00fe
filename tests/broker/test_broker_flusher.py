"""The broker starts its subscribers' senders a slice at a time: on a loaded loop, events published while
a pass is under way leave in the same transport write as the ones already queued."""

from __future__ import annotations

import asyncio
from typing import List

import sse_fast
from sse_fast.broker.flusher import SLICE
from sse_fast.testing import MemorySink


async def fan_out(subscribers: int, events: int, turns_between: int) -> List[MemorySink]:
    broker = sse_fast.Broker()
    sinks = [MemorySink() for _ in range(subscribers)]
    writers = [sse_fast.AsyncWriter(sink) for sink in sinks]
    streams = [asyncio.ensure_future(broker.stream(w, "room")) for w in writers]
    while broker.stats()["subscribers"] < subscribers:
        await asyncio.sleep(0)
    for n in range(events):
        await broker.publish("room", f"e{n}", id=str(n))
        for _ in range(turns_between):  # the loop turns a producer gives between two events
            await asyncio.sleep(0)
    while any(w.buffered for w in writers):
        await asyncio.sleep(0)
    for w in writers:
        await w.close()
    await asyncio.gather(*streams)
    await broker.close()
    return sinks


def expected(events: int) -> bytes:
    return b"".join(sse_fast.encode(f"e{n}", id=str(n)) for n in range(events))


def test_a_loaded_loop_sends_several_events_per_write_and_every_subscriber_gets_all_in_order() -> None:
    subscribers, events = 10 * SLICE, 20
    sinks = asyncio.run(fan_out(subscribers, events, turns_between=1))
    assert all(b"".join(s.writes) == expected(events) for s in sinks)
    writes = sum(len(s.writes) for s in sinks)
    assert writes < subscribers * events // 2, f"{writes} writes for {subscribers * events} deliveries"


def test_a_quiet_loop_sends_each_event_at_once() -> None:
    sinks = asyncio.run(fan_out(3, 5, turns_between=10))
    assert all(s.writes == [sse_fast.encode(f"e{n}", id=str(n)) for n in range(5)] for s in sinks)

"""The in-process workloads that bench/gate.py counts under callgrind, one per run:

    python bench/callgrind_workloads.py WORKLOAD EVENTS

``encode``: ``encode_json`` of a chat chunk and ``encode`` of 4 KiB of text, EVENTS times each. ``burst``: an
``ASGIResponse`` handler writes EVENTS chat chunks back to back. ``paced``: the same with ``await
asyncio.sleep(0)`` after each. ``fanout``: a memory ``Broker`` publishes EVENTS chat chunks, each to
``SUBSCRIBERS`` ``ASGIResponse`` subscribers (an event here is one delivery: the count is per subscriber).
The ASGI ``send`` takes each message and does nothing; ``receive`` never answers (no disconnect).

``SSE_FAST_BENCH_SLOWDOWN=N`` (read here only, by no library code) adds N turns of an empty Python loop per
event: the deliberate slowdown that shows the gate failing (bench/test_gate.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Awaitable, Callable, Dict

from sse_fast import ASGIResponse, Broker, encode, encode_json
from sse_fast._bench import chat_chunk, token

SUBSCRIBERS = 10
SLOWDOWN = range(int(os.environ.get("SSE_FAST_BENCH_SLOWDOWN", "0")))
SCOPE: Dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
    "path": "/", "raw_path": b"/", "query_string": b"", "headers": [],
}  # fmt: skip


def _slowdown() -> None:
    for _ in SLOWDOWN:
        pass


async def _send(message: Dict[str, Any]) -> None:
    """An ASGI server's send that takes the message and drops it."""


async def _receive() -> Dict[str, Any]:
    """An ASGI server's receive with nothing to say: the client never leaves."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")


def encode_run(events: int) -> None:
    chunk, text = chat_chunk(" world"), "\n".join(["x" * 63] * 64) + "x"
    for _ in range(events):
        encode_json(chunk)
        encode(text)
        _slowdown()


async def _respond(events: int, paced: bool) -> None:
    async def handler(writer: Any) -> None:
        for i in range(events):
            await writer.write_event(chat_chunk(token(i), i))
            _slowdown()
            if paced:
                await asyncio.sleep(0)

    await ASGIResponse(handler)(SCOPE, _receive, _send)


async def _fanout(events: int) -> None:
    broker = Broker()
    delivered = 0

    async def send(message: Dict[str, Any]) -> None:
        nonlocal delivered
        for _ in range(message.get("body", b"").count(b"data: ")):
            delivered += 1
            _slowdown()

    streams = [asyncio.ensure_future(ASGIResponse(broker.subscriber("chat"))(SCOPE, _receive, send))
               for _ in range(SUBSCRIBERS)]  # fmt: skip
    while broker.stats()["subscribers"] < SUBSCRIBERS:
        await asyncio.sleep(0)
    for i in range(events):
        await broker.publish("chat", chat_chunk(token(i), i))
        await asyncio.sleep(0)
    while delivered < events * SUBSCRIBERS:
        await asyncio.sleep(0)
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)


WORKLOADS: Dict[str, Callable[[int], Awaitable[None] | None]] = {
    "encode": encode_run,
    "burst": lambda events: _respond(events, paced=False),
    "paced": lambda events: _respond(events, paced=True),
    "fanout": _fanout,
}
PER_EVENT = {"fanout": SUBSCRIBERS}  # deliveries per published event


def main() -> None:
    name, events = sys.argv[1], int(sys.argv[2])
    run = WORKLOADS[name](events)
    if run is not None:
        asyncio.run(run)


if __name__ == "__main__":
    main()

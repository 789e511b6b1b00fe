"""sse_fast.compat.sse_starlette against sse-starlette itself: event encoding and whole responses.

    python bench/compat.py             # in-process
    python bench/compat.py --uvicorn   # and each response under a real uvicorn (bench/e2e.py's harness)

Event encoding: best of 5 timeit runs per case. Responses: N events through ``EventSourceResponse``
driven in-process over ASGI (a ``send`` that only counts bytes), best of 5, for the compat response's
default (lockstep: each event handed to ``send`` before the content resumes, as sse-starlette does) and
for ``write_behind=True``. All sides get the same content; the outputs are compared before anything is
timed. ``--uvicorn``: the same three responses, each in its own uvicorn process (h11, asyncio), stream
bench/e2e.py's chat chunks to 1 client (20,000) and to 100 clients (200 each); events/s and server CPU
seconds per 100k events, as bench/e2e.py measures them. Needs the bench extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import timeit
from typing import Any, Callable, Dict, Tuple

import sse_starlette
import sse_starlette.event as theirs_event

import sse_fast
from sse_fast.compat import sse_starlette as ours

CHUNK = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o",
    "choices": [{"index": 0, "delta": {"content": "Hello"}, "logprobs": None, "finish_reason": None}],
}
EVENTS = 20_000
EVENT_CASES: Dict[str, Callable[[Any], Callable[[], bytes]]] = {
    "JSONServerSentEvent(chunk).encode()": lambda m: lambda: m.JSONServerSentEvent(CHUNK).encode(),
    "ServerSentEvent('hello', event=, id=).encode()": lambda m: (
        lambda: m.ServerSentEvent("hello", event="m", id="1").encode()
    ),
    "ensure_bytes('text', sep)": lambda m: lambda: m.ensure_bytes("text", "\r\n"),
    "ensure_bytes({'data': 'x', 'event': 'e'}, sep)": lambda m: (
        lambda: m.ensure_bytes({"data": "x", "event": "e"}, "\r\n")
    ),
}


def best_ns(fn: Callable[[], Any], number: int = 100_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


def time_events() -> None:
    for name, make in EVENT_CASES.items():
        theirs, mine = make(theirs_event), make(ours)
        assert theirs() == mine(), f"{name}: outputs differ"
        t_theirs, t_mine = best_ns(theirs), best_ns(mine)
        print(f"{name:48s} sse-starlette {t_theirs:7,.0f} ns  compat {t_mine:6,.0f} ns  {t_theirs / t_mine:5.1f}x")


def content(module: Any, kind: str) -> Any:
    async def items() -> Any:
        for _ in range(EVENTS):
            if kind == "JSONServerSentEvent":
                yield module.JSONServerSentEvent(CHUNK)
            elif kind == "dict":
                yield {"data": json.dumps(CHUNK), "event": "chunk"}
            else:
                yield "hello world"

    return items()


async def serve_once(module: Any, kind: str, **options: Any) -> Tuple[float, bytes]:
    scope = {"type": "http", "method": "GET", "path": "/", "http_version": "1.1", "headers": []}
    finished = asyncio.Event()
    body = bytearray()

    async def receive() -> Dict[str, str]:
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Dict[str, Any]) -> None:
        body.extend(message.get("body", b""))

    started = time.perf_counter()
    await module.EventSourceResponse(content(module, kind), ping=0, **options)(scope, receive, send)
    elapsed = time.perf_counter() - started
    finished.set()
    return elapsed, bytes(body)


RESPONSES = (
    ("sse-starlette", sse_starlette, {}),
    ("compat (lockstep, default)", ours, {}),
    ("compat write_behind=True", ours, {"write_behind": True}),
)


async def time_responses() -> None:
    for kind in ("JSONServerSentEvent", "dict", "str"):
        best: Dict[str, float] = {}
        bodies = {}
        for label, module, options in RESPONSES:
            runs = [await serve_once(module, kind, **options) for _ in range(5)]
            best[label] = min(elapsed for elapsed, _ in runs)
            bodies[label] = runs[0][1]
        assert len(set(bodies.values())) == 1, f"{kind}: bodies differ"
        rates = {label: EVENTS / seconds for label, seconds in best.items()}
        print(f"EventSourceResponse, {EVENTS:,} {kind} items (events/s):")
        for label, rate in rates.items():
            print(f"  {label:28s} {rate:11,.0f}  {rate / rates['sse-starlette']:4.1f}x")


async def compat_app(scope: Dict[str, Any], receive: Any, send: Any, **options: Any) -> None:
    """bench/e2e.py's ``/stream?n=N`` route on the compat response (imported by uvicorn as ``compat``)."""
    from e2e import IDLE_PING, _query

    from sse_fast._bench import chat_chunk, token

    _, n = _query(scope)

    async def chunks() -> Any:
        for i in range(n):
            yield ours.JSONServerSentEvent(chat_chunk(token(i), i))

    await ours.EventSourceResponse(chunks(), ping=IDLE_PING, **options)(scope, receive, send)


async def lockstep_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    await compat_app(scope, receive, send)


async def write_behind_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    await compat_app(scope, receive, send, write_behind=True)


def time_servers() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import e2e

    apps = {
        "sse-starlette": "e2e:sse_starlette_app",
        "compat (lockstep, default)": "compat:lockstep_app",
        "compat write_behind=True": "compat:write_behind_app",
    }
    print("uvicorn (h11, asyncio): events/s, server CPU s per 100k events")
    for label, app in apps.items():
        server = e2e.Server(app, "h11", "asyncio")
        try:
            runs = {
                "1 x 20,000": e2e.stream_run(server, 20_000, 1, 1),
                "100 x 200": e2e.stream_run(server, 200, 100, 2),
            }
        finally:
            server.stop()
        print(f"  {label:28s}", "  ".join(
            f"{run}: {r['events_per_s']:9,.0f} ev/s {r['cpu_per_100k']:5.2f} CPU s" for run, r in runs.items()
        ))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uvicorn", action="store_true", help="also time the responses under a real uvicorn")
    args = parser.parse_args()
    print(f"encoder: {sse_fast.IMPLEMENTATION}, sse-starlette {sse_starlette.__version__}")
    time_events()
    asyncio.run(time_responses())
    if args.uvicorn:
        time_servers()

"""The app of the fault-injection tests, one ``uvicorn support.fault_app:app`` process each. The engine comes from
the environment: ``SSE_FAST_REDIS`` (a URL: ``Broker(url, history=N, timeout=T, max_backoff=B)``) or none
(the in-process ``Broker(history=N)``); ``SSE_FAST_HISTORY`` (default 1000), ``SSE_FAST_TIMEOUT`` and
``SSE_FAST_MAX_BACKOFF`` (Redis only).

- ``GET /events?topic=..[&topic=..]``: follows the topics, resuming from ``Last-Event-ID``.
- ``POST /publish?topic=..&data=..[&id=..]``: the id, or 400 ``<ErrorClass>: <message>``.
- ``POST /burst?topic=..&n=..&pad=..&threads=..``: ``n`` publishes (``pad`` bytes each) in a tight
  ``await publish`` loop, or from ``threads`` threads with ``publish_sync``; the ids as a JSON list.
- ``GET /stats``: ``{"pid": .., **broker.stats()}``."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any, Dict, List
from urllib.parse import parse_qs

import sse_fast
from sse_fast.errors import SSEError
from sse_fast.resume import from_scope

HISTORY = int(os.environ.get("SSE_FAST_HISTORY", "1000"))
REDIS = os.environ.get("SSE_FAST_REDIS")

if REDIS:
    options: Dict[str, Any] = {}
    if "SSE_FAST_TIMEOUT" in os.environ:
        options["timeout"] = float(os.environ["SSE_FAST_TIMEOUT"])
    if "SSE_FAST_MAX_BACKOFF" in os.environ:
        options["max_backoff"] = float(os.environ["SSE_FAST_MAX_BACKOFF"])
    broker = sse_fast.Broker(REDIS, history=HISTORY, **options)
else:
    broker = sse_fast.Broker(history=HISTORY)


async def events(scope: Dict[str, Any], receive: Any, send: Any, query: Dict[str, List[str]]) -> None:
    topics = query.get("topic", ["room"])
    last = from_scope(scope)
    response = sse_fast.ASGIResponse(lambda w: broker.stream(w, topics, last), send_timeout=5)
    await response(scope, receive, send)


def burst_in_threads(topic: str, n: int, data: str, threads: int) -> List[str]:
    """``n`` publishes shared by ``threads`` threads with ``publish_sync``; the ids, each thread's in order."""
    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    results: List[List[str]] = [[] for _ in range(threads)]
    errors: List[BaseException] = []

    def run(i: int) -> None:
        try:
            for _ in range(shares[i]):
                results[i].append(broker.publish_sync(topic, data))
        except BaseException as error:  # answered to the test below
            errors.append(error)

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    if errors:
        raise errors[0]
    return [id for ids in results for id in ids]


async def answer(send: Any, status: int, body: bytes, kind: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = parse_qs(scope["query_string"].decode(), keep_blank_values=True)
    path = scope["path"]
    try:
        if path == "/events":
            await events(scope, receive, send, query)
            return
        if path == "/publish":
            id = query["id"][0] if "id" in query else None
            new_id = await broker.publish(query.get("topic", ["room"])[0], query["data"][0], id=id)
            await answer(send, 200, new_id.encode())
        elif path == "/burst":
            topic = query.get("topic", ["room"])[0]
            n, pad, threads = (
                int(query.get(name, [default])[0]) for name, default in (("n", "1"), ("pad", "0"), ("threads", "0"))
            )
            data = "x" * pad
            if threads:
                ids = await asyncio.get_running_loop().run_in_executor(None, burst_in_threads, topic, n, data, threads)
            else:
                ids = [await broker.publish(topic, data) for _ in range(n)]
            await answer(send, 200, json.dumps(ids).encode(), b"application/json")
        elif path == "/stats":
            await answer(send, 200, json.dumps({"pid": os.getpid(), **broker.stats()}).encode(), b"application/json")
        else:
            await answer(send, 404, b"not found")
    except SSEError as error:
        await answer(send, 400, f"{type(error).__name__}: {error}".encode())

"""``sse_fast.compat.httpx_sse`` against httpx-sse itself, over uvicorn: the same events, the same errors,
and a reconnection that resumes from ``last_event_id`` after the ``retry`` the server asked for."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import httpx_sse
import pytest
from servers import uvicorn_server

import sse_fast
from sse_fast.compat import httpx_sse as ours


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/plain":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hi"})
        return
    headers = dict(scope["headers"])
    start = int(headers.get(b"last-event-id", b"0"))

    async def handler(w: sse_fast.AsyncWriter) -> None:
        await w.set_retry(50)
        for i in range(start + 1, start + 4):
            await w.write_full_event(sse_fast.Event(id=str(i), event="n", data={"i": i}))
        await w.write_raw_event("two\nlines")

    await sse_fast.ASGIResponse(handler)(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Any:
    with uvicorn_server(app) as running:
        yield running


def fields(events: Any) -> list:
    """What both agree on. httpx-sse also dispatches a data-less "retry:" frame as an empty event and keeps
    ``retry`` only on the event that carried it; sse_fast follows the WHATWG rules there (checked below)."""
    return [(e.event, e.data, e.id) for e in events if e.data]


def test_same_events_as_httpx_sse(server):
    with httpx.Client(timeout=10) as client:
        with httpx_sse.connect_sse(client, "GET", server.url + "/") as source:
            theirs = fields(source.iter_sse())
        with ours.connect_sse(client, "GET", server.url + "/") as source:
            mine = fields(source.iter_sse())
    assert mine == theirs
    assert mine[-1] == ("message", "two\nlines", "3")
    with httpx.Client(timeout=10) as client, ours.connect_sse(client, "GET", server.url + "/") as source:
        assert [e.retry for e in source.iter_sse()] == [50] * 4


def test_async_same_events_as_httpx_sse(server):
    async def read(module: Any) -> list:
        async with httpx.AsyncClient(timeout=10) as client:
            async with module.aconnect_sse(client, "GET", server.url + "/") as source:
                return fields([e async for e in source.aiter_sse()])

    assert asyncio.run(read(ours)) == asyncio.run(read(httpx_sse))


def test_not_an_event_stream_is_the_same_error(server):
    with httpx.Client(timeout=10) as client:
        errors = []
        for module in (httpx_sse, ours):
            with module.connect_sse(client, "GET", server.url + "/plain") as source:
                with pytest.raises(httpx.TransportError) as info:
                    list(source.iter_sse())
                errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_reconnecting_resumes_from_last_event_id_after_retry(server):
    with httpx.Client(timeout=10) as client:
        with ours.connect_sse(client, "GET", server.url + "/") as source:
            first = [e.id for e in source.iter_sse()]
            resume, wait_ms = source.last_event_id, source.retry
        assert (first, resume, wait_ms) == (["1", "2", "3", "3"], "3", 50)
        with ours.connect_sse(client, "GET", server.url + "/", last_event_id=resume) as source:
            assert [e.id for e in source.iter_sse()] == ["4", "5", "6", "6"]

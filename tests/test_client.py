"""``sse_fast.client`` over real sockets: httpx reading sse_fast's own server and sse-starlette's, under uvicorn."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from servers import uvicorn_server
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route

import sse_fast
from sse_fast.client import aiter_events, iter_events

TEXT = "line one\nline two\r\nline three"
EXPECTED = [
    ("message", '{"n":0}', "", None),
    ("tick", '{"n":1}', "1", None),
    ("message", TEXT.replace("\r\n", "\n"), "1", 2500),
    ("message", "é" * 5000, "1", 2500),  # larger than a socket read: cut between chunks
]


async def ours(w: sse_fast.AsyncWriter) -> None:
    await w.write_event({"n": 0})
    await w.write_full_event(sse_fast.Event(id="1", event="tick", data={"n": 1}))
    await w.set_retry(2500)
    await w.write_raw_event(TEXT)
    await w.write_comment("keep-alive")
    await w.write_raw_event("é" * 5000)


async def theirs(request: Any) -> EventSourceResponse:
    async def events() -> Any:
        yield {"data": '{"n":0}'}
        yield {"event": "tick", "id": "1", "data": '{"n":1}'}
        yield {"retry": 2500, "data": TEXT}
        yield {"comment": "keep-alive"}
        yield {"data": "é" * 5000}

    return EventSourceResponse(events(), ping=600)


SERVERS = {
    "sse_fast": sse_fast.ASGIResponse(ours),
    "sse-starlette": Starlette(routes=[Route("/", theirs)]),
}


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest) -> Any:
    with uvicorn_server(SERVERS[request.param]) as running:
        yield running


def test_iter_events_reads_every_event(server):
    with httpx.Client(timeout=10) as client, client.stream("GET", server.url + "/") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert [tuple(e) for e in iter_events(response)] == EXPECTED


def test_aiter_events_reads_every_event(server):
    async def read() -> list:
        async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", server.url + "/") as response:
            return [tuple(e) async for e in aiter_events(response)]

    assert asyncio.run(read()) == EXPECTED


def test_limits_reach_the_parser(server):
    with httpx.Client(timeout=10) as client, client.stream("GET", server.url + "/") as response:
        with pytest.raises(sse_fast.errors.EventTooLarge):
            list(iter_events(response, max_event=1000))

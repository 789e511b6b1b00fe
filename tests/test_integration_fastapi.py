"""FastAPI on uvicorn, read by httpx-sse: the EventStream dependency (writer handler, Last-Event-ID),
an iterable body, and a client that leaves closes the writer."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest
from integration_common import Seen, check_headers, read_sse
from servers import uvicorn_server

from sse_fast import AsyncWriter, ClientDisconnected, Event
from sse_fast.testing import read_events

fastapi = pytest.importorskip("fastapi")
from sse_fast.integrations.fastapi import EventStream, LastEventID  # noqa: E402

SEEN = Seen()
app = fastapi.FastAPI()


@app.get("/events")
async def events(stream: EventStream) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        start = int(stream.last_event_id or 0) + 1
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()

    return stream.response(handler, headers={"X-Extra": "1"})


@app.get("/items")
async def items(stream: EventStream) -> Any:
    async def gen() -> AsyncIterator[Any]:
        yield {"a": 1}
        yield Event(event="named", data="raw")

    return stream.response(gen())


@app.get("/id")
async def only_id(last_id: LastEventID) -> Any:
    return {"last_event_id": last_id}


@app.get("/endless")
async def endless(stream: EventStream) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        try:
            i = 0
            while True:
                await writer.write_event(i)
                i += 1
                await asyncio.sleep(0.01)
        finally:
            SEEN.put("reason", writer.context.reason)
            try:
                await writer.write_event("late")
            except ClientDisconnected as exc:
                SEEN.put("late", exc)

    return stream.response(handler)


@pytest.fixture(scope="module")
def server() -> Any:
    with uvicorn_server(app) as srv:
        yield srv


def test_handler_with_last_event_id(server: Any) -> None:
    headers, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "41"})
    check_headers(headers)
    assert headers["x-extra"] == "1"
    assert [(e.id, e.json()) for e in got[:3]] == [("42", {"i": 42}), ("43", {"i": 43}), ("44", {"i": 44})]
    assert got[3].data == "[DONE]"


def test_query_fallback_and_invalid_id(server: Any) -> None:
    _, got = read_sse(server.url + "/events?lastEventId=9")
    assert [e.id for e in got[:3]] == ["10", "11", "12"]
    _, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "x" * 2000})
    assert [e.id for e in got[:3]] == ["1", "2", "3"]


def test_last_event_id_dependency(server: Any) -> None:
    import httpx

    assert httpx.get(server.url + "/id?lastEventId=a%00").json() == {"last_event_id": None}
    assert httpx.get(server.url + "/id", headers={"Last-Event-ID": "e-7"}).json() == {"last_event_id": "e-7"}


def test_iterable_body(server: Any) -> None:
    _, got = read_sse(server.url + "/items")
    assert [(e.event, e.data) for e in got] == [
        ("message", '{"a":1}'),
        ("named", "raw"),
        ("message", "[DONE]"),
    ]


def test_client_leaving_closes_the_writer(server: Any) -> None:
    SEEN.clear()
    _, got = read_sse(server.url + "/endless", n=3)
    assert [e.data for e in got] == ["0", "1", "2"]
    assert SEEN.wait("reason") == "client_disconnected"
    assert isinstance(SEEN.wait("late"), ClientDisconnected)


def test_in_process_with_the_testing_client() -> None:
    got = read_events(app, "/events", headers={"Last-Event-ID": "1"}, n=2)
    assert [e.json() for e in got] == [{"i": 2}, {"i": 3}]
    SEEN.clear()
    assert [e.data for e in read_events(app, "/endless", n=2)] == ["0", "1"]
    assert SEEN.wait("reason") == "client_disconnected"

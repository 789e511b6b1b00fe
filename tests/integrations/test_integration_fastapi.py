"""FastAPI on uvicorn, read by httpx-sse: the EventStream dependency (writer handler, Last-Event-ID),
an iterable body, and a client that leaves closes the writer."""

from __future__ import annotations

from typing import Any

import pytest
from support.integration_common import (
    SEEN,
    TOO_LONG_ID,
    async_items,
    check_client_leaving,
    check_cut_off,
    check_first_ids,
    check_items,
    check_resumed,
    endless,
    fails,
    first_after,
)
from support.servers import uvicorn_server

from sse_fast import AsyncWriter
from sse_fast.resume import UNREADABLE
from sse_fast.testing import read_events

fastapi = pytest.importorskip("fastapi")
from sse_fast.integrations.fastapi import EventStream, LastEventID  # noqa: E402

app = fastapi.FastAPI()


@app.get("/events")
async def events(stream: EventStream) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        start = first_after(stream.last_event_id)
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()

    return stream.response(handler, headers={"X-Extra": "1"})


@app.get("/items")
async def items(stream: EventStream) -> Any:
    return stream.response(async_items())


@app.get("/id")
async def only_id(last_id: LastEventID) -> Any:
    return {"last_event_id": last_id}


@app.get("/endless")
async def endless_view(stream: EventStream) -> Any:
    return stream.response(endless)


@app.get("/fails")
async def fails_view(stream: EventStream) -> Any:
    return stream.response(fails)


@app.get("/starlette/fails")
async def starlette_fails() -> Any:
    from sse_fast.integrations.starlette import SSEResponse

    return SSEResponse(fails)


@app.get("/headers_later")
async def headers_later(stream: EventStream) -> Any:
    response = stream.response(async_items(), headers={"X-Extra": "1"})
    response.headers["X-Later"] = "yes"  # Starlette's ways of changing a response's headers after it was made
    response.set_cookie("seen", "1")
    return response


@pytest.fixture(scope="module")
def server() -> Any:
    with uvicorn_server(app) as srv:
        yield srv


def test_handler_with_last_event_id(server: Any) -> None:
    check_resumed(server.url + "/events")


def test_query_fallback_and_invalid_id(server: Any) -> None:
    check_first_ids(server.url + "/events?lastEventId=9", 10)
    check_first_ids(server.url + "/events", 1, headers=TOO_LONG_ID)


def test_last_event_id_dependency(server: Any) -> None:
    import httpx

    assert httpx.get(server.url + "/id?lastEventId=a%00").json() == {"last_event_id": UNREADABLE}
    assert httpx.get(server.url + "/id").json() == {"last_event_id": None}
    assert httpx.get(server.url + "/id", headers={"Last-Event-ID": "e-7"}).json() == {"last_event_id": "e-7"}


def test_iterable_body(server: Any) -> None:
    check_items(server.url + "/items")


def test_client_leaving_closes_the_writer(server: Any) -> None:
    check_client_leaving(server.url + "/endless")


def test_in_process_with_the_testing_client() -> None:
    got = read_events(app, "/events", headers={"Last-Event-ID": "1"}, n=2)
    assert [e.json() for e in got] == [{"i": 2}, {"i": 3}]
    SEEN.clear()
    assert [e.data for e in read_events(app, "/endless", n=2)] == ["0", "1"]
    assert SEEN.wait("reason") == "client_disconnected"


@pytest.mark.parametrize("path", ["/fails", "/starlette/fails"])
def test_a_handler_that_raises_cuts_the_body_off(server: Any, path: str) -> None:
    check_cut_off(server.port, path)


def test_headers_set_on_the_response_after_it_was_made_are_sent(server: Any) -> None:
    import httpx

    with httpx.stream("GET", server.url + "/headers_later") as later:
        assert later.headers["x-later"] == "yes" and later.headers["x-extra"] == "1"
        assert later.headers["set-cookie"].startswith("seen=1")
        assert later.headers["content-type"] == "text/event-stream; charset=utf-8"
    with httpx.stream("GET", server.url + "/events") as made:  # no change: the shared table, Connection added
        assert made.headers["x-extra"] == "1" and made.headers["connection"] == "keep-alive"
        assert "x-later" not in made.headers and "set-cookie" not in made.headers

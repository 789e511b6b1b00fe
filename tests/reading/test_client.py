"""``sse_fast.client`` over real sockets: httpx reading sse_fast's own server and sse-starlette's, under uvicorn."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route
from support.servers import uvicorn_server

import sse_fast
from sse_fast.client import afollow, aiter_events, follow, iter_events

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


# ---- follow / afollow: a stream followed across reconnects -------------------------------------------


def resumable(last: int = 9, per_connection: int = 3, abrupt: bool = False) -> Any:
    """Events 1..last, ``per_connection`` per connection after the ``Last-Event-ID`` sent, with ``retry: 10``;
    then 204. ``abrupt``: each connection is cut mid-body (the app raises) instead of ending cleanly."""
    seen: list = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        after = int(headers.get(b"last-event-id", b"0"))
        seen.append(after)
        if after >= last:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        body = b"retry: 10\n\n" + b"".join(
            sse_fast.encode(f"e{n}", id=str(n)) for n in range(after + 1, min(after + per_connection, last) + 1)
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        if abrupt:
            raise RuntimeError("the server drops this connection")
        await send({"type": "http.response.body", "body": b""})

    app.seen = seen  # type: ignore[attr-defined]
    return app


def follow_all(url: str, mode: str, **options: Any) -> list:
    """Every event ``follow`` (sync) or ``afollow`` (async) yields from ``url``, as ``(id, data)``."""
    if mode == "sync":
        with httpx.Client(timeout=10) as client:
            return [(e.id, e.data) for e in follow(client, url, **options)]

    async def read() -> list:
        async with httpx.AsyncClient(timeout=10) as client:
            return [(e.id, e.data) async for e in afollow(client, url, **options)]

    return asyncio.run(read())


@pytest.mark.parametrize("abrupt", [False, True], ids=["ended", "dropped"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_follow_reconnects_with_the_last_id_until_204(mode: str, abrupt: bool) -> None:
    app = resumable(abrupt=abrupt)
    got: list = []
    with uvicorn_server(app) as server:
        # the server's retry: 10 (ms) must win over the hour asked for here, or the reader never finishes
        reader = threading.Thread(target=lambda: got.extend(follow_all(server.url + "/", mode, reconnect_delay=3600)))
        reader.daemon = True
        reader.start()
        reader.join(30)
        assert not reader.is_alive(), "follow waited reconnect_delay instead of the server's retry:"
    assert got == [(str(n), f"e{n}") for n in range(1, 10)]
    assert app.seen == [0, 3, 6, 9]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_follow_starts_from_the_given_id_and_stops_after_max_reconnects(mode: str) -> None:
    app = resumable(last=100, per_connection=2)
    with uvicorn_server(app) as server:
        got = follow_all(server.url + "/", mode, last_event_id="10", max_reconnects=2)
    assert got == [(str(n), f"e{n}") for n in range(11, 17)]
    assert app.seen == [10, 12, 14]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_follow_refuses_what_is_not_an_event_stream(mode: str) -> None:
    async def not_found(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no"})

    with uvicorn_server(not_found) as server:
        with pytest.raises(sse_fast.StreamRefused, match="answered 404 text/plain, expected 200 text/event-stream"):
            follow_all(server.url + "/", mode)

"""``sse_fast.testing`` and ``sse_fast.parse``: read N events from an endless stream, in-process over ASGI
and over a real socket, then leave; the server side sees the client go."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import pytest
from support.servers import uvicorn_server
from support.sse_parser import parse as spec_parse

from sse_fast import ASGIResponse, AsyncWriter, Event
from sse_fast.parse import EventParser, ServerSentEvent, parse
from sse_fast.testing import aread_events, read_events, read_response

REASONS: List[str] = []
ENDED = threading.Event()


async def endless(writer: AsyncWriter) -> None:
    try:
        await writer.set_retry(1500)
        i = 0
        while True:
            await writer.write_full_event(Event(id=str(i), event="tick", data={"i": i}))
            i += 1
            await asyncio.sleep(0.005)
    finally:
        REASONS.append(writer.context.reason or "open")
        ENDED.set()


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/finite":

        async def three(writer: AsyncWriter) -> None:
            await writer.stream([1, 2, 3])

        await ASGIResponse(three, headers={"X-Test": "yes"})(scope, receive, send)
    elif scope["path"] == "/stalls":

        async def two_then_nothing(writer: AsyncWriter) -> None:
            await writer.write_event(1)
            await writer.write_event(2)
            await asyncio.sleep(60)

        await ASGIResponse(two_then_nothing)(scope, receive, send)
    elif scope["path"] == "/stubborn":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:  # ignores http.disconnect and every send error
            try:
                await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
            except OSError:
                pass
            await asyncio.sleep(0.01)
    else:
        await ASGIResponse(endless)(scope, receive, send)


@pytest.fixture(autouse=True)
def _reset() -> None:
    REASONS.clear()
    ENDED.clear()


def check_ticks(events: List[ServerSentEvent], n: int) -> None:
    assert [e.event for e in events] == ["tick"] * n
    assert [e.json() for e in events] == [{"i": i} for i in range(n)]
    assert [e.id for e in events] == [str(i) for i in range(n)]
    assert {e.retry for e in events} == {1500}


def test_asgi_in_process_reads_n_then_disconnects() -> None:
    events = read_events(app, "/events", n=5)
    check_ticks(events, 5)
    assert ENDED.wait(5)
    assert REASONS == ["client_disconnected"]


def test_asgi_until_predicate() -> None:
    events = read_events(app, "/events", until=lambda e: e.id == "3")
    check_ticks(events, 4)
    assert REASONS == ["client_disconnected"]


def test_asgi_finite_stream_status_and_headers() -> None:
    result = read_response(app, "/finite")
    assert result.status == 200
    assert result.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert result.headers["x-test"] == "yes"
    assert [e.data for e in result.events] == ["1", "2", "3", "[DONE]"]


def test_asgi_stream_that_ends_early_gives_what_arrived() -> None:
    assert [e.data for e in read_events(app, "/finite", n=10)] == ["1", "2", "3", "[DONE]"]


def test_timeout_says_what_arrived() -> None:
    with pytest.raises(TimeoutError, match=r"read 2 event\(s\) in 0.5 s, wanted 10"):
        read_events(app, "/stalls", n=10, timeout=0.5)
    with uvicorn_server(app) as server, pytest.raises(TimeoutError, match="read 2 event"):
        read_events(server.url, "/stalls", n=10, timeout=0.5)


def test_asgi_app_that_ignores_disconnect_is_reported() -> None:
    with pytest.raises(TimeoutError, match="did not return"):
        read_events(app, "/stubborn", n=2, timeout=0.5)


def test_async_variant_inside_a_loop() -> None:
    async def main() -> List[ServerSentEvent]:
        with pytest.raises(RuntimeError, match="aread_response"):
            read_events(app, "/events", n=1)
        return await aread_events(app, "/events", n=3)

    check_ticks(asyncio.run(main()), 3)


def test_real_socket_reads_n_then_disconnects() -> None:
    with uvicorn_server(app) as server:
        events = read_events(server.url, "/events", n=5)
        check_ticks(events, 5)
        assert ENDED.wait(5), "the server never saw the client leave"
        assert REASONS == ["client_disconnected"]
        ENDED.clear()
        check_ticks(asyncio.run(aread_events(server.url, "/events", n=2)), 2)
        assert ENDED.wait(5)
        result = read_response(server.url, "/finite")
        assert result.headers["x-test"] == "yes"
        assert [e.data for e in result.events] == ["1", "2", "3", "[DONE]"]


# -- the parser ---------------------------------------------------------------------------------------------

STREAMS = [
    b"data: a\n\n",
    b"\xef\xbb\xbfdata: bom\r\n\r\n",
    b"id: 1\nevent: e\ndata: x\ndata:  y\n\n: comment\n\ndata\n\n",
    b"data: a\rdata: b\r\rid: \x00bad\ndata: c\n\nid\ndata: d\n\n",
    b"retry: 10\nretry: x\ndata: r\n\nevent: empty\n\ndata: cut",
    b"data: \xff\xfe\n\nfield-without-colon\nunknown: 1\ndata:no space\n\n",
]


@pytest.mark.parametrize("raw", STREAMS)
def test_parser_agrees_with_the_spec_parser_in_any_chunking(raw: bytes) -> None:
    expected = [(m.type, m.data, m.last_event_id, m.retry) for m in spec_parse(raw).events]
    assert [tuple(e) for e in parse(raw)] == expected
    for size in (1, 2, 3):
        parser = EventParser()
        got: List[ServerSentEvent] = []
        for i in range(0, len(raw), size):
            got += parser.feed(raw[i : i + size])
        assert [tuple(e) for e in got] == expected


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == [ServerSentEvent("message", "a", "", None)]
    assert parser.feed(b"\ndata: b\n\n") == [ServerSentEvent("message", "b", "", None)]

"""``sse_fast.compat.httpx_sse`` against httpx-sse itself, over uvicorn: the same events, the same errors,
and a reconnection that resumes from ``last_event_id`` after the ``retry`` the server asked for."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import httpx_sse
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.servers import uvicorn_server

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


def test_events_read_are_httpx_sse_events(server):
    with httpx.Client(timeout=10) as client, ours.connect_sse(client, "GET", server.url + "/") as source:
        event = next(source.iter_sse())
    assert type(event) is ours.ServerSentEvent and isinstance(event, sse_fast.ServerSentEvent)
    assert repr(event) == "ServerSentEvent(event='n', data='{\"i\":1}', id='1', retry=50)"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"event": None, "data": None, "id": None, "retry": None},
        {"event": ""},
        {"data": "data", "retry": 3, "id": "id", "event": "event"},
        {"data": "a\nb", "id": "", "retry": 0},
        {"event": "x", "data": ""},
    ],
)
def test_server_sent_event_is_httpx_sses(kwargs):
    theirs, mine = httpx_sse.ServerSentEvent(**kwargs), ours.ServerSentEvent(**kwargs)
    assert (mine.event, mine.data, mine.id, mine.retry) == (theirs.event, theirs.data, theirs.id, theirs.retry)
    assert repr(mine) == repr(theirs)
    positional = [kwargs.get(name) for name in ("event", "data", "id", "retry")]
    assert ours.ServerSentEvent(*positional) == mine  # httpx-sse's order of arguments


def test_the_layout_is_httpx_sses():
    from sse_fast.compat.httpx_sse import _api, _decoders, _exceptions, _models

    assert ours.__version__ == httpx_sse.__version__ == "0.4.3"
    assert set(ours.__all__) == set(httpx_sse.__all__)
    assert _api.EventSource is ours.EventSource and _exceptions.SSEError is ours.SSEError
    assert _models.ServerSentEvent is ours.ServerSentEvent
    assert _decoders.SSEDecoder().decode("data: x") is None


pieces = st.lists(
    st.text(st.sampled_from(["\r", "\n", "a", "b", ":", " ", "\u2028", "\x85", "\u00e9"]), max_size=6), max_size=8
)


@given(pieces)
def test_line_decoder_splits_as_httpx_sses(chunks):
    from httpx_sse._decoders import SSELineDecoder as Theirs
    from httpx_sse._decoders import _splitlines_sse as their_split

    from sse_fast.compat.httpx_sse._decoders import SSELineDecoder, _splitlines_sse

    theirs, mine = Theirs(), SSELineDecoder()
    for chunk in chunks:
        assert _splitlines_sse(chunk) == their_split(chunk)
        if chunk:  # httpx never hands its line decoder empty text
            assert mine.decode(chunk) == theirs.decode(chunk)
    assert mine.flush() == theirs.flush()


lines = st.lists(
    st.one_of(
        st.just(""),
        st.sampled_from(["data", "data:", "data: x", "data:  y", "event: e", "event:", "id: 7", "id: a\x00b", ": hi"]),
        st.sampled_from(["retry: 10", "retry: 1a", "other: 1", 'data: {"a":1}', "id"]),
    ),
    max_size=20,
)


@given(lines)
def test_decoder_gives_httpx_sses_events_by_whatwg_rules(stream):
    """The events with data are httpx-sse's, retry aside (it is the time in force: WHATWG); httpx-sse also
    dispatches a data-less frame as an event, sse_fast does not."""
    from httpx_sse._decoders import SSEDecoder as Theirs

    from sse_fast.compat.httpx_sse._decoders import SSEDecoder

    theirs, mine = Theirs(), SSEDecoder()
    for line in stream:
        has_data = bool(theirs._data)  # a "data" line since the last dispatch
        their_event, my_event = theirs.decode(line), mine.decode(line)
        assert (my_event is not None) == (line == "" and has_data)
        if my_event is not None:
            assert type(my_event) is ours.ServerSentEvent
            assert (my_event.event, my_event.data, my_event.id) == (their_event.event, their_event.data, their_event.id)


def decoded(module: Any, lines: list) -> list:
    """(data, retry) of each event ``module``'s ``SSEDecoder`` makes of ``lines``."""
    decoder = module._decoders.SSEDecoder()
    return [(e.data, e.retry) for e in map(decoder.decode, lines) if e is not None]


@pytest.mark.parametrize(
    ("lines", "by_httpx_sse", "by_whatwg"),
    [
        (["retry: 5", "data: a", "", "data: b", ""], [("a", 5), ("b", None)], [("a", 5), ("b", 5)]),
        (["retry: -1", "data: a", ""], [("a", -1)], [("a", None)]),
        (["retry: 1_000", "data: a", ""], [("a", 1000)], [("a", None)]),
        (["event: e", "", "id: 1", "", "data: a", ""], [("", None), ("", None), ("a", None)], [("a", None)]),
        (["data: a\ndata: b", ""], [("a\ndata: b", None)], [("a\nb", None)]),
    ],
)
def test_decoder_differs_where_documented(lines, by_httpx_sse, by_whatwg):
    assert decoded(httpx_sse, lines) == by_httpx_sse
    assert decoded(ours, lines) == by_whatwg


def read_body(module: Any, body: bytes, content_type: str = "text/event-stream") -> list:
    response = httpx.Response(200, headers={"content-type": content_type}, content=body)
    return [e.data for e in module.EventSource(response).iter_sse()]


def test_a_stream_is_utf8_whatever_its_charset_and_its_bom_is_dropped():
    latin = "text/event-stream; charset=latin-1"
    assert read_body(httpx_sse, "data: é\n\n".encode(), latin) == ["Ã©"]
    assert read_body(ours, "data: é\n\n".encode(), latin) == ["é"]
    assert read_body(httpx_sse, b"\xef\xbb\xbfdata: x\n\n") == []
    assert read_body(ours, b"\xef\xbb\xbfdata: x\n\n") == ["x"]


def test_a_line_over_the_bound_is_refused():
    body = b"data: " + b"x" * (1 << 20) + b"\n\n"
    assert read_body(httpx_sse, body) == ["x" * (1 << 20)]
    with pytest.raises(sse_fast.LineTooLong):
        read_body(ours, body)


def test_events_compare_by_value():
    assert ours.ServerSentEvent(data="x", id="1") == ours.ServerSentEvent("message", "x", "1")
    assert httpx_sse.ServerSentEvent(data="x") != httpx_sse.ServerSentEvent(data="x")

"""Django, read by httpx-sse: a sync view under waitress (WSGI) and an async view under uvicorn (ASGI),
Last-Event-ID, and a client that leaves closes the writer."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Iterator

import pytest
from integration_common import Seen, check_headers, read_sse
from servers import uvicorn_server, waitress_server

from sse_fast import AsyncWriter, ClientDisconnected, Event, StreamingNotSupported, Writer
from sse_fast.testing import read_events, read_response

django = pytest.importorskip("django")
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="sse-fast-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402

from sse_fast.integrations.django import last_event_id, sse_response  # noqa: E402

SEEN = Seen()
ASYNC_DISCONNECT = django.VERSION >= (5, 0)  # older Django does not watch for http.disconnect


def sync_events(request: Any) -> Any:
    start = int(last_event_id(request) or 0) + 1

    def handler(writer: Writer) -> None:
        for i in range(start, start + 3):
            writer.write_event_with_id(str(i), {"i": i})
        writer.write_done()

    return sse_response(request, handler, headers={"X-Extra": "1"})


async def async_events(request: Any) -> Any:
    start = int(last_event_id(request) or 0) + 1

    async def handler(writer: AsyncWriter) -> None:
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()

    return sse_response(request, handler, headers={"X-Extra": "1"})


def sync_items(request: Any) -> Any:
    def gen() -> Iterator[Any]:
        yield {"a": 1}
        yield Event(event="named", data="raw")

    return sse_response(request, gen())


async def async_items(request: Any) -> Any:
    async def gen() -> AsyncIterator[Any]:
        yield {"a": 1}
        yield Event(event="named", data="raw")

    return sse_response(request, gen())


def sync_endless(request: Any) -> Any:
    def handler(writer: Writer) -> None:
        try:
            i = 0
            while True:
                writer.write_event(i)
                i += 1
                time.sleep(0.01)
        finally:
            SEEN.put("reason", writer.context.reason)
            try:
                writer.write_event("late")
            except ClientDisconnected as exc:
                SEEN.put("late", exc)

    return sse_response(request, handler)


async def async_endless(request: Any) -> Any:
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

    return sse_response(request, handler)


async def async_idle(request: Any) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        await writer.write_event("hello")
        try:
            await asyncio.sleep(30)
        finally:
            SEEN.put("reason", writer.context.reason)

    return sse_response(request, handler)


async def async_fails(request: Any) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        await writer.write_event(1)
        raise RuntimeError("handler failed")

    return sse_response(request, handler)


urlpatterns = [
    path("sync/events", sync_events),
    path("sync/items", sync_items),
    path("sync/endless", sync_endless),
    path("async/events", async_events),
    path("async/items", async_items),
    path("async/endless", async_endless),
    path("async/idle", async_idle),
    path("async/fails", async_fails),
    path("wrong/events", sync_events),  # a sync view served under ASGI
]


@pytest.fixture(scope="module", params=["sync", "async"])
def served(request: pytest.FixtureRequest) -> Any:
    if request.param == "sync":
        with waitress_server(get_wsgi_application()) as srv:
            yield srv, srv.url + "/sync"
    else:
        with uvicorn_server(get_asgi_application()) as srv:
            yield srv, srv.url + "/async"


def test_view_with_last_event_id(served: Any) -> None:
    _, base = served
    headers, got = read_sse(base + "/events", headers={"Last-Event-ID": "41"})
    check_headers(headers)
    assert headers["x-extra"] == "1"
    assert [(e.id, e.json()) for e in got[:3]] == [("42", {"i": 42}), ("43", {"i": 43}), ("44", {"i": 44})]
    assert got[3].data == "[DONE]"


def test_query_fallback_and_invalid_id(served: Any) -> None:
    _, base = served
    _, got = read_sse(base + "/events?lastEventId=9")
    assert [e.id for e in got[:3]] == ["10", "11", "12"]
    _, got = read_sse(base + "/events?lastEventId=a%0Ab")
    assert [e.id for e in got[:3]] == ["1", "2", "3"]


def test_generator_body(served: Any) -> None:
    _, base = served
    _, got = read_sse(base + "/items")
    assert [(e.event, e.data) for e in got] == [
        ("message", '{"a":1}'),
        ("named", "raw"),
        ("message", "[DONE]"),
    ]


def test_client_leaving_closes_the_writer(served: Any) -> None:
    _, base = served
    if base.endswith("/async") and not ASYNC_DISCONNECT:
        pytest.skip("Django < 5.0 does not watch an ASGI stream for http.disconnect")
    SEEN.clear()
    _, got = read_sse(base + "/endless", n=3)
    assert [e.data for e in got] == ["0", "1", "2"]
    assert SEEN.wait("reason") == "client_disconnected"
    assert isinstance(SEEN.wait("late"), ClientDisconnected)


@pytest.mark.skipif(not ASYNC_DISCONNECT, reason="Django < 5.0 does not watch for http.disconnect")
def test_async_idle_stream_notices_the_client_leaving() -> None:
    SEEN.clear()
    app = get_asgi_application()
    assert [e.data for e in read_events(app, "/async/idle", n=1)] == ['"hello"']
    assert SEEN.wait("reason") == "client_disconnected"


def test_async_handler_error_fails_the_response() -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        read_events(get_asgi_application(), "/async/fails")


def test_sync_view_under_asgi_is_refused() -> None:
    from django.test import RequestFactory

    assert read_response(get_asgi_application(), "/wrong/events").status == 500
    request = RequestFactory().get("/")
    request.scope = {"type": "http"}  # what marks an ASGIRequest
    with pytest.raises(StreamingNotSupported, match="expected an async view"):
        sync_events(request)

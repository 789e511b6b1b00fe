"""Django, read by httpx-sse: a sync view under waitress (WSGI) and an async view under uvicorn (ASGI),
Last-Event-ID, and a client that leaves closes the writer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from integration_common import (
    first_after,
    SEEN,
    async_items,
    check_client_leaving,
    check_cut_off,
    check_first_ids,
    check_head,
    check_items,
    check_resumed,
    endless,
    endless_sync,
    fails,
    fails_sync,
    items,
)
from servers import uvicorn_server, waitress_server

from sse_fast import AsyncWriter, StreamingNotSupported, Writer
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

ASYNC_DISCONNECT = django.VERSION >= (5, 0)  # older Django does not watch for http.disconnect


def sync_events(request: Any) -> Any:
    start = first_after(last_event_id(request))

    def handler(writer: Writer) -> None:
        SEEN.put("ran", True)
        for i in range(start, start + 3):
            writer.write_event_with_id(str(i), {"i": i})
        writer.write_done()

    return sse_response(request, handler, headers={"X-Extra": "1"})


async def async_events(request: Any) -> Any:
    start = first_after(last_event_id(request))

    async def handler(writer: AsyncWriter) -> None:
        SEEN.put("ran", True)
        for i in range(start, start + 3):
            await writer.write_event_with_id(str(i), {"i": i})
        await writer.write_done()

    return sse_response(request, handler, headers={"X-Extra": "1"})


def sync_items(request: Any) -> Any:
    return sse_response(request, items())


async def async_items_view(request: Any) -> Any:
    return sse_response(request, async_items())


def sync_endless(request: Any) -> Any:
    return sse_response(request, endless_sync)


async def async_endless(request: Any) -> Any:
    return sse_response(request, endless)


async def async_idle(request: Any) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        await writer.write_event("hello")
        try:
            await asyncio.sleep(30)
        finally:
            SEEN.put("reason", writer.context.reason)

    return sse_response(request, handler)


def sync_fails(request: Any) -> Any:
    return sse_response(request, fails_sync, heartbeat=None)


async def async_fails(request: Any) -> Any:
    return sse_response(request, fails, heartbeat=None)


urlpatterns = [
    path("sync/events", sync_events),
    path("sync/items", sync_items),
    path("sync/endless", sync_endless),
    path("sync/fails", sync_fails),
    path("async/events", async_events),
    path("async/items", async_items_view),
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


def test_head_gets_the_headers_without_running_the_view_handler(served: Any) -> None:
    _, base = served
    check_head(base + "/events")


def test_view_with_last_event_id(served: Any) -> None:
    _, base = served
    check_resumed(base + "/events")


def test_query_fallback_and_invalid_id(served: Any) -> None:
    _, base = served
    check_first_ids(base + "/events?lastEventId=9", 10)
    check_first_ids(base + "/events?lastEventId=a%0Ab", 1)


def test_generator_body(served: Any) -> None:
    _, base = served
    check_items(base + "/items")


def test_a_handler_that_raises_cuts_the_body_off(served: Any) -> None:
    srv, base = served
    check_cut_off(srv.port, base[len(srv.url) :] + "/fails")


def test_client_leaving_closes_the_writer(served: Any) -> None:
    _, base = served
    if base.endswith("/async") and not ASYNC_DISCONNECT:
        pytest.skip("Django < 5.0 does not watch an ASGI stream for http.disconnect")
    check_client_leaving(base + "/endless")


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

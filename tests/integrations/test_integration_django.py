"""Django, read by httpx-sse: a sync view under waitress (WSGI) and under uvicorn (ASGI), an async view under
uvicorn, Last-Event-ID, heartbeats, a client that leaves closes the writer (and ends a sync handler's thread),
and a handler that raises cuts the body off."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from support.integration_common import (
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
    fails_late,
    fails_late_sync,
    fails_sync,
    first_after,
    items,
    logged_errors,
    wait_for_one,
)
from support.servers import leave_after_first_event, uvicorn_server, wait_until, waitress_server

from sse_fast import AsyncWriter, Writer
from sse_fast.testing import read_events

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


def sync_heartbeat(request: Any) -> Any:
    def handler(writer: Writer) -> None:
        writer.write_raw_event("first")
        time.sleep(0.5)  # ten heartbeat intervals of silence
        writer.write_raw_event("last")

    return sse_response(request, handler, heartbeat=0.05)


async def async_heartbeat(request: Any) -> Any:
    async def handler(writer: AsyncWriter) -> None:
        await writer.write_raw_event("first")
        await asyncio.sleep(0.5)
        await writer.write_raw_event("last")

    return sse_response(request, handler, heartbeat=0.05)


def sync_fails(request: Any) -> Any:
    return sse_response(request, fails_sync, heartbeat=None)


async def async_fails(request: Any) -> Any:
    return sse_response(request, fails, heartbeat=None)


def sync_fails_late(request: Any) -> Any:
    return sse_response(request, fails_late_sync)


async def async_fails_late(request: Any) -> Any:
    return sse_response(request, fails_late)


urlpatterns = [
    path("sync/events", sync_events),
    path("sync/items", sync_items),
    path("sync/endless", sync_endless),
    path("sync/heartbeat", sync_heartbeat),
    path("sync/fails", sync_fails),
    path("sync/fails_late", sync_fails_late),
    path("async/events", async_events),
    path("async/items", async_items_view),
    path("async/endless", async_endless),
    path("async/idle", async_idle),
    path("async/heartbeat", async_heartbeat),
    path("async/fails", async_fails),
    path("async/fails_late", async_fails_late),
]


@pytest.fixture(scope="module", params=["sync-wsgi", "sync-asgi", "async-asgi"])
def served(request: pytest.FixtureRequest) -> Any:
    """A server and the base URL of the views: sync views under waitress and under uvicorn (Django runs them
    on a thread there), async views under uvicorn."""
    views, interface = request.param.split("-")
    if interface == "wsgi":
        with waitress_server(get_wsgi_application()) as srv:
            yield srv, srv.url + "/" + views
    else:
        with uvicorn_server(get_asgi_application()) as srv:
            yield srv, srv.url + "/" + views


def handler_threads() -> int:
    """The threads of sync handlers and their heartbeats alive now."""
    return sum(t.name in ("sse-wsgi-handler", "sse-heartbeat") for t in threading.enumerate())


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


def test_client_leaving_closes_the_writer(served: Any) -> None:
    srv, base = served
    if srv.loop is not None and not ASYNC_DISCONNECT:
        pytest.skip("Django < 5.0 does not watch an ASGI stream for http.disconnect")
    before = handler_threads()
    check_client_leaving(base + "/endless")
    wait_until(lambda: handler_threads() <= before)  # a sync handler's thread ended with its stream


def test_heartbeat_while_the_handler_is_silent(served: Any) -> None:
    _, base = served
    with httpx.Client(timeout=10) as client:
        body = client.get(base + "/heartbeat").content
    assert body.startswith(b"data: first\n\n: heartbeat\n\n") and body.endswith(b": heartbeat\n\ndata: last\n\n")


def test_a_handler_that_raises_cuts_the_body_off(served: Any) -> None:
    srv, base = served
    check_cut_off(srv.port, base[len(srv.url) :] + "/fails")


@pytest.mark.skipif(not ASYNC_DISCONNECT, reason="Django < 5.0 does not watch for http.disconnect")
def test_async_idle_stream_notices_the_client_leaving() -> None:
    SEEN.clear()
    app = get_asgi_application()
    assert [e.data for e in read_events(app, "/async/idle", n=1)] == ['"hello"']
    assert SEEN.wait("reason") == "client_disconnected"


def test_async_handler_error_fails_the_response() -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        read_events(get_asgi_application(), "/async/fails")


def test_a_handler_that_raises_after_its_client_left_is_logged_once(served: Any) -> None:
    srv, base = served
    if srv.loop is not None and not ASYNC_DISCONNECT:
        pytest.skip("Django < 5.0 does not watch an ASGI stream for http.disconnect")
    with logged_errors() as records, httpx.Client(timeout=10) as client:
        leave_after_first_event(client, base + "/fails_late")
        record = wait_for_one(records)
    views = "async" if base.endswith("/async") else "sync"
    assert record.name == {"sync": "sse_fast.transports.wsgi", "async": "sse_fast.integrations.django"}[views]


def test_the_readmes_sync_view_streams_under_asgi() -> None:
    # a sync view's stream under ASGI was refused (500, StreamingNotSupported): it streams now, as under WSGI
    assert [e.data for e in read_events(get_asgi_application(), "/sync/items")] == ['{"a":1}', "raw", "[DONE]"]

"""Every transport and integration subscribes through ``broker.subscriber``; WSGI views, Django views and
plain threads publish with ``publish_sync``. Real servers, httpx-sse clients."""

import asyncio
import contextlib
import threading
from typing import Any, Callable, Iterator, List

import httpx
import pytest
from support.broker_apps import read_events
from support.servers import (
    Server,
    asyncio_server,
    read_request,
    run_aiohttp,
    uvicorn_server,
    wait_until,
    waitress_server,
)

import sse_fast

BROKER = sse_fast.Broker()
N = 5


def check_follow(url: str, publish: Callable[[int], Any], notices_leaving: bool = True) -> None:
    """A subscriber at ``url`` gets N events, published by ``publish(i)`` once it is subscribed; then (where
    the server notices a client leaving) its subscription ends with the client."""
    before = BROKER.stats()["subscribers"]
    got: List[Any] = []
    reader = threading.Thread(target=lambda: got.extend(asyncio.run(read_events(url, N))), daemon=True)
    reader.start()
    wait_until(lambda: BROKER.stats()["subscribers"] == before + 1)
    ids = [publish(i) for i in range(N)]
    reader.join(20)
    assert got == [(ids[i], "message", f'{{"i":{i}}}') for i in range(N)]
    if notices_leaving:
        wait_until(lambda: BROKER.stats()["subscribers"] == before)


def from_thread(topic: str) -> Callable[[int], Any]:
    return lambda i: BROKER.publish_sync(topic, {"i": i})


def over_http(url: str) -> Callable[[int], Any]:
    """Publish by POSTing to the app's own publish view (which calls ``publish_sync``)."""
    return lambda i: httpx.post(url, json={"i": i}, timeout=10).text


# -- Flask on waitress ----------------------------------------------------------------------------


def test_flask_subscribes_and_publishes_from_a_view() -> None:
    flask = pytest.importorskip("flask")
    from sse_fast.integrations.flask import last_event_id, sse_response

    app = flask.Flask(__name__)

    @app.get("/events")
    def events() -> Any:
        return sse_response(BROKER.subscriber("flask", last_event_id()))

    @app.post("/publish")
    def publish() -> Any:
        return BROKER.publish_sync("flask", flask.request.get_json())

    with waitress_server(app) as server:
        check_follow(server.url + "/events", over_http(server.url + "/publish"))


# -- Django: sync views on waitress, an async view on uvicorn ------------------------------------


@pytest.fixture(scope="module")
def django_app() -> Iterator[Any]:
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(SECRET_KEY="x", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[])
        django.setup()
    from django.test.utils import override_settings

    with override_settings(ROOT_URLCONF=__name__):
        yield django


def _django_urls() -> List[Any]:
    from django.http import HttpResponse
    from django.urls import path

    from sse_fast.integrations.django import last_event_id, sse_response

    def sync_events(request: Any) -> Any:
        return sse_response(request, BROKER.subscriber("django", last_event_id(request)))

    async def async_events(request: Any) -> Any:
        return sse_response(request, BROKER.subscriber("django", last_event_id(request)))

    def publish(request: Any) -> Any:
        import json

        return HttpResponse(BROKER.publish_sync("django", json.loads(request.body)))

    return [path("sync", sync_events), path("async", async_events), path("publish", publish)]


def __getattr__(name: str) -> Any:  # Django reads urlpatterns lazily, after it is set up
    if name == "urlpatterns":
        return _django_urls()
    raise AttributeError(name)


def test_django_sync_view_subscribes_and_a_view_publishes(django_app: Any) -> None:
    from django.core.wsgi import get_wsgi_application

    with waitress_server(get_wsgi_application()) as server:
        check_follow(server.url + "/sync", over_http(server.url + "/publish"))


def test_django_async_view_subscribes_on_uvicorn(django_app: Any) -> None:
    import django
    from django.core.asgi import get_asgi_application

    with uvicorn_server(get_asgi_application()) as server:
        # Django < 5 does not watch an ASGI stream for http.disconnect: its subscriber stays until shutdown
        check_follow(server.url + "/async", from_thread("django"), notices_leaving=django.VERSION >= (5, 0))


# -- FastAPI, publishing from a thread while ASGI subscribers listen ----------------------------------


def test_fastapi_subscribes_and_a_thread_publishes() -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from sse_fast.integrations.fastapi import EventStream

    app = FastAPI()

    @app.get("/events")
    async def events(stream: EventStream) -> Any:
        return stream.response(BROKER.subscriber("fastapi", stream.last_event_id))

    with uvicorn_server(app) as server:
        check_follow(server.url + "/events", from_thread("fastapi"))


# -- aiohttp and bare asyncio streams --------------------------------------------------------------


@contextlib.contextmanager
def aiohttp_server() -> Iterator[Server]:
    web = pytest.importorskip("aiohttp.web")
    from sse_fast.integrations.aiohttp import last_event_id, sse_response

    async def events(request: Any) -> Any:
        return await sse_response(request, BROKER.subscriber("aiohttp", last_event_id(request)))

    app = web.Application()
    app.router.add_get("/events", events)
    with run_aiohttp(app) as server:
        yield server


def test_aiohttp_subscribes_and_the_loop_publishes() -> None:
    with aiohttp_server() as server:

        def publish(i: int) -> str:
            return asyncio.run_coroutine_threadsafe(BROKER.publish("aiohttp", {"i": i}), server.loop).result(5)

        check_follow(server.url + "/events", publish)


async def streams_handler(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer, _ = await sse_fast.new_writer(reader, stream)
    await writer.run(BROKER.subscriber("streams"))


def test_asyncio_streams_subscribe() -> None:
    with asyncio_server(streams_handler) as server:
        check_follow(server.url + "/", from_thread("streams"))

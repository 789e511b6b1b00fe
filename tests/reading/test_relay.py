"""``sse_fast.relay`` over uvicorn: an upstream sse_fast server, a relaying gateway, an httpx client."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import httpx
import pytest
from support.servers import uvicorn_server, wait_until, waitress_server

import sse_fast
from sse_fast.client import iter_events
from sse_fast.relay import Reframer, relay, relay_sync

TEXT = "two\nlines"
ENDED: Dict[str, str] = {}  # path -> how the handler's stream ended
RELAYED: Dict[str, str] = {}  # what relay() returned


async def finite(w: sse_fast.AsyncWriter) -> None:
    await w.write_event({"content": "hello"})
    await w.write_full_event(sse_fast.Event(id="7", event="delta", data={"content": " world"}))
    await w.set_retry(1500)
    await w.write_raw_event(TEXT)
    await w.write_done()


async def endless(w: sse_fast.AsyncWriter) -> None:
    try:
        for i in range(10_000):
            await w.write_event_with_id(str(i), {"i": i})
            await asyncio.sleep(0.01)
    finally:
        ENDED["endless"] = w.context.reason or "running"


async def upstream_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/broken":  # two events, then the connection is cut mid-body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        body = sse_fast.encode("one", id="1") + sse_fast.encode("two", id="2")
        await send({"type": "http.response.body", "body": body, "more_body": True})
        raise RuntimeError("the upstream breaks")
    handler = finite if scope["path"] == "/finite" else endless
    await sse_fast.ASGIResponse(handler)(scope, receive, send)


def gateway_app(upstream_url: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]

        async def forward(w: sse_fast.AsyncWriter) -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                async with client.stream("GET", upstream_url + path) as upstream:
                    RELAYED[path] = await relay(upstream, w)

        await sse_fast.ASGIResponse(forward)(scope, receive, send)

    return app


def sync_gateway_app(upstream_url: str) -> Any:
    """The WSGI gateway: ``relay_sync`` from an ``httpx.Client`` response through a ``Writer``."""

    def app(environ: Any, start_response: Any) -> Any:
        path = environ["PATH_INFO"]

        def forward(w: sse_fast.Writer) -> None:
            with httpx.Client(timeout=10) as client, client.stream("GET", upstream_url + path) as upstream:
                RELAYED["sync" + path] = relay_sync(upstream, w)

        return sse_fast.WSGIResponse(forward)(environ, start_response)

    return app


GATEWAYS = {"async": (gateway_app, uvicorn_server, ""), "sync": (sync_gateway_app, waitress_server, "sync")}


@pytest.mark.parametrize("kind", list(GATEWAYS))
def test_relay_keeps_names_ids_retry_and_data(kind: str) -> None:
    make, serve, prefix = GATEWAYS[kind]
    with uvicorn_server(upstream_app) as upstream, serve(make(upstream.url)) as gw:
        with httpx.Client(timeout=10) as client:
            with client.stream("GET", upstream.url + "/finite") as response:
                direct = [tuple(e) for e in iter_events(response)]
            with client.stream("GET", gw.url + "/finite") as response:
                relayed = [tuple(e) for e in iter_events(response)]
    assert direct == [
        ("message", '{"content":"hello"}', "", None),
        ("delta", '{"content":" world"}', "7", None),
        ("message", TEXT, "7", 1500),
        ("message", "[DONE]", "7", 1500),
    ]
    assert relayed == direct
    assert RELAYED[prefix + "/finite"] == "upstream_ended"


@pytest.mark.parametrize("kind", list(GATEWAYS))
def test_an_upstream_that_breaks_ends_the_relay_cleanly_after_what_it_sent(kind: str) -> None:
    make, serve, prefix = GATEWAYS[kind]
    with uvicorn_server(upstream_app) as upstream, serve(make(upstream.url)) as gw:
        with httpx.Client(timeout=10) as client, client.stream("GET", gw.url + "/broken") as response:
            relayed = [(e.id, e.data) for e in iter_events(response)]  # the gateway's body ends cleanly
    assert relayed == [("1", "one"), ("2", "two")]
    assert wait_until(lambda: RELAYED.get(prefix + "/broken")) == "upstream_lost"


def test_client_leaving_the_gateway_closes_the_upstream_request():
    ENDED.clear()
    with uvicorn_server(upstream_app) as upstream, uvicorn_server(gateway_app(upstream.url)) as gw:
        with httpx.Client(timeout=10) as client, client.stream("GET", gw.url + "/endless") as response:
            events = []
            for event in iter_events(response):
                events.append(event)
                if len(events) == 3:
                    break
        assert [e.id for e in events] == ["0", "1", "2"]
        assert wait_until(lambda: RELAYED.get("/endless")) == "client_disconnected"
        assert wait_until(lambda: ENDED.get("endless")) == "client_disconnected"


def test_a_retry_clients_cannot_take_is_not_passed_on():
    """The encoder refuses a retry over 2**31 - 1 ms; the relay drops it instead of failing the stream."""
    reframe = Reframer()
    upstream = b"retry: 2147483648\ndata: a\n\nretry: 2147483647\ndata: b\n\n"
    assert reframe(upstream) == b"data: a\n\nretry: 2147483647\ndata: b\n\n"

"""``new_writer`` picks the transport from what it is given, and says what it got when it cannot."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support.servers import uvicorn_server
from support.sse_apps import PROBE, a_methods, asgi_app
from support.wire_table import TABLE_BYTES

import sse_fast
from sse_fast.integrations.starlette import SSEResponse


async def never(*args: object) -> None:
    raise AssertionError("a refused transport must not be used")


@pytest.mark.parametrize("given", [(), (42,), ("GET /",), ({"REQUEST_METHOD": "GET"},), ({"x": 1}, never, never)])
def test_nothing_it_knows_is_transport_not_found(given: tuple) -> None:
    with pytest.raises(sse_fast.TransportNotFound, match="new_writer\\(\\) got .*expected an ASGI"):
        sse_fast.new_writer(*given)


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_an_asgi_scope_that_is_not_http_is_not_http(kind: str) -> None:
    with pytest.raises(sse_fast.NotHTTP, match=f"got an ASGI '{kind}' scope; expected an 'http' scope"):
        sse_fast.new_writer({"type": kind}, never, never)


def test_a_head_request_cannot_stream() -> None:
    with pytest.raises(sse_fast.StreamingNotSupported, match="HEAD request"):
        sse_fast.new_writer({"type": "http", "method": "HEAD"}, never, never)
    with pytest.raises(sse_fast.StreamingNotSupported, match="HEAD request"):
        sse_fast.new_writer({"REQUEST_METHOD": "HEAD", "wsgi.url_scheme": "http"}, lambda *a: None)


async def refused_request(request: Request) -> PlainTextResponse:
    """An endpoint that hands new_writer its Request: refused, with the ways that work (it answers the text)."""
    try:
        sse_fast.new_writer(request)
    except sse_fast.TransportNotFound as exc:
        return PlainTextResponse(str(exc), status_code=500)
    return PlainTextResponse("opened", status_code=200)


def test_a_starlette_request_is_refused_with_the_ways_that_work() -> None:
    fastapi_app = FastAPI()
    fastapi_app.get("/events")(refused_request)
    for app in (Starlette(routes=[Route("/events", refused_request)]), fastapi_app):
        with uvicorn_server(app) as server:
            response = httpx.get(server.url + "/events")
        assert response.status_code == 500
        assert response.text.startswith("new_writer() got a Starlette Request, whose ASGI send Starlette keeps private")
        assert (
            "SSEResponse(handler)" in response.text
            and "new_writer(request.scope, request.receive, send)" in response.text
        )


def test_a_send_that_already_started_a_response_fails_to_open() -> None:
    PROBE.clear()
    with uvicorn_server(asgi_app) as server:
        httpx.get(server.url + "/started_twice")
    message = PROBE.get("started_twice")
    assert "could not start the response on ASGI send" in message
    assert "RuntimeError" in message


def test_headers_connection_only_on_http1() -> None:
    names = lambda version: [name for name, _ in sse_fast.sse_headers(version)]  # noqa: E731
    assert "Connection" in names("1.1") and "Connection" in names("1.0")
    assert "Connection" not in names("2") and "Connection" not in names("3")
    merged = dict(sse_fast.sse_headers("1.1", {"cache-control": "no-store", "X-A": "b"}))
    assert merged["cache-control"] == "no-store" and "Cache-Control" not in merged and merged["X-A"] == "b"


def test_fastapi_returns_sse_response_as_it_is() -> None:
    app = FastAPI()

    @app.get("/events")
    async def events() -> SSEResponse:
        return SSEResponse(a_methods, headers={"X-Route": "events"})

    with uvicorn_server(app) as server:
        with httpx.stream("GET", server.url + "/events") as response:
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.headers["connection"] == "keep-alive"
            assert response.headers["x-route"] == "events"
            assert b"".join(response.iter_raw()) == TABLE_BYTES


def test_new_writer_in_an_asgi_app_that_reads_the_request_through_starlette() -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        request = Request(scope, receive, send)
        writer, ctx = await sse_fast.new_writer(request.scope, request.receive, send)
        async with writer:
            await a_methods(writer)

    with uvicorn_server(app) as server:
        assert httpx.get(server.url).content == TABLE_BYTES


def test_import_sse_fast_imports_no_framework() -> None:
    frameworks = "{'starlette', 'fastapi', 'uvicorn', 'waitress', 'flask'}"
    code = f"import sys, sse_fast; print(sorted({{m.split('.')[0] for m in sys.modules}} & {frameworks}))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_context_run_returns_the_result_while_open() -> None:
    async def main() -> int:
        return await sse_fast.StreamContext().run(asyncio.sleep(0, result=7))

    assert asyncio.run(main()) == 7

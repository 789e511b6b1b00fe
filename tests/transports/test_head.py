"""HEAD gets the SSE status and headers with an empty body, and the handler never runs: on the ASGI and WSGI
responses and through FastAPI and Flask, over real servers."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator, List

import flask
import httpx
import pytest
from fastapi import FastAPI
from support.servers import uvicorn_server, waitress_server

import sse_fast
from sse_fast.integrations.fastapi import EventStream
from sse_fast.integrations.flask import sse_response

RAN: List[str] = []  # handlers that ran


def handler(writer: Any) -> Any:
    RAN.append(type(writer).__name__)
    return writer.write_event({"n": 1})


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/", methods=["GET", "HEAD"])  # FastAPI, unlike Starlette and Flask, adds no HEAD itself
    async def events(stream: EventStream) -> Any:
        return stream.response(handler, headers={"X-Room": "lobby"})

    return app


def flask_app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.add_url_rule("/", "events", lambda: sse_response(handler, headers={"X-Room": "lobby"}))
    return app


APPS: dict = {
    "ASGIResponse": (uvicorn_server, lambda: sse_fast.ASGIResponse(handler, headers={"X-Room": "lobby"})),
    "WSGIResponse": (waitress_server, lambda: sse_fast.WSGIResponse(handler, headers={"X-Room": "lobby"})),
    "fastapi": (uvicorn_server, fastapi_app),
    "flask": (waitress_server, flask_app),
}


@pytest.fixture(params=list(APPS))
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    serve, make = APPS[request.param]
    with serve(make()) as server:
        yield server.url + "/"


def test_head_answers_the_headers_of_get_with_no_body_and_does_not_run_the_handler(url: str) -> None:
    RAN.clear()
    head = httpx.head(url, timeout=10)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.headers["cache-control"] == "no-cache"
    assert head.headers["x-room"] == "lobby"
    assert head.content == b""
    assert RAN == []
    get = httpx.get(url, timeout=10)  # the same route still streams for GET
    assert get.content == b'data: {"n":1}\n\n'
    assert len(RAN) == 1


def test_a_head_whose_send_stalls_fails_within_send_timeout() -> None:
    async def stalled_send(message: Any) -> None:
        await asyncio.Event().wait()  # a server that never takes the start

    async def nothing() -> Any:
        return {"type": "http.request"}

    response = sse_fast.ASGIResponse(handler, send_timeout=0.2)
    scope = {"type": "http", "method": "HEAD", "http_version": "1.1", "headers": []}
    RAN.clear()
    with pytest.raises(sse_fast.SendTimedOut, match="'http.response.start' for HEAD took over 0.2 s"):
        asyncio.run(response(scope, nothing, stalled_send))
    assert RAN == []

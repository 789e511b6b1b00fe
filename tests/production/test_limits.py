"""``StreamLimit`` over real servers: the caps, the 503 + Retry-After, open streams untouched, no leak."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable, Iterator, List

import httpx
import pytest
from support.servers import run_aiohttp, uvicorn_server, wait_until, waitress_server

import sse_fast
from sse_fast.errors import InvalidType, InvalidValue
from sse_fast.limits import BODY, ASGILimit, StreamLimit, WSGILimit

TICK = 0.05


async def ticking(writer: sse_fast.AsyncWriter) -> None:
    """``first``, then ``tick`` every TICK seconds until the client leaves."""
    await writer.write_raw_event("first")
    while not writer.context.done:
        await asyncio.sleep(TICK)
        await writer.write_raw_event("tick")


def ticking_sync(writer: sse_fast.Writer) -> None:
    writer.write_raw_event("first")
    while not writer.context.wait_sync(TICK):
        writer.write_raw_event("tick")


def user(scope_or_environ: Any) -> str:
    """The client key of these tests' per-user caps: the ``x-user`` header."""
    if "headers" in scope_or_environ:
        return dict(scope_or_environ["headers"]).get(b"x-user", b"").decode()
    return str(scope_or_environ.get("HTTP_X_USER", ""))


@contextlib.contextmanager
def limited(kind: str, limit: StreamLimit) -> Iterator[str]:
    """A ticking stream behind ``limit`` on a real server of ``kind``; yields its URL."""
    if kind == "asgi":
        with uvicorn_server(ASGILimit(sse_fast.ASGIResponse(ticking, heartbeat=None), limit)) as server:
            yield server.url
    else:
        app = WSGILimit(sse_fast.WSGIResponse(ticking_sync, heartbeat=None), limit)
        with waitress_server(app, threads=8) as server:
            yield server.url


class Stream:
    """An open stream read line by line; ``next_data()`` is the next ``data:`` line's text."""

    def __init__(self, stack: contextlib.ExitStack, http: httpx.Client, headers: Any = None) -> None:
        self.response = stack.enter_context(http.stream("GET", "/", headers=headers))
        assert self.response.status_code == 200
        self.lines = self.response.iter_lines()
        assert self.next_data() == "first"

    def next_data(self) -> str:
        for line in self.lines:
            if line.startswith("data: "):
                return line[6:]
        raise AssertionError("the stream ended")


def refused(http: httpx.Client, headers: Any = None) -> httpx.Response:
    response = http.get("/", headers=headers)
    assert response.status_code == 503, response.status_code
    return response


KINDS = ["asgi", "wsgi"]


@pytest.mark.parametrize("kind", KINDS)
def test_over_the_process_cap_a_request_gets_503_with_retry_after_and_open_streams_keep_streaming(kind: str) -> None:
    limit = StreamLimit(per_process=2, retry_after=7)
    with limited(kind, limit) as url, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=url, timeout=10))
        streams = [Stream(stack, stack.enter_context(httpx.Client(base_url=url, timeout=10))) for _ in range(2)]
        response = refused(http)
        assert response.headers["retry-after"] == "7"
        assert response.headers["content-type"].startswith("text/plain")
        assert response.content == BODY  # no stream: the body is the refusal and it is complete
        assert [s.next_data() for s in streams] == ["tick", "tick"]
        assert (limit.open, limit.admitted, limit.refused) == (2, 2, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_the_per_client_cap_counts_each_key_apart(kind: str) -> None:
    limit = StreamLimit(per_client=1, key=user)
    with limited(kind, limit) as url, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=url, timeout=10))
        ann = Stream(stack, http, {"x-user": "ann"})
        refused(stack.enter_context(httpx.Client(base_url=url, timeout=10)), {"x-user": "ann"})
        bob = Stream(stack, stack.enter_context(httpx.Client(base_url=url, timeout=10)), {"x-user": "bob"})
        assert (ann.next_data(), bob.next_data()) == ("tick", "tick")
        assert limit.clients() == 2


def test_the_default_client_key_is_the_peer_address() -> None:
    limit = StreamLimit(per_client=1)
    with limited("asgi", limit) as url, contextlib.ExitStack() as stack:
        held = stack.enter_context(httpx.Client(base_url=url, timeout=10))  # held: a dropped client hangs up
        stream = Stream(stack, held)
        other = stack.enter_context(httpx.Client(base_url=url, timeout=10))
        refused(other, {"x-user": "someone else"})  # the same address: refused
        assert stream.next_data() == "tick"


@pytest.mark.parametrize("kind", KINDS)
def test_streams_that_end_leave_the_count_so_new_ones_are_admitted(kind: str) -> None:
    limit = StreamLimit(per_process=1, per_client=1)
    with limited(kind, limit) as url:
        for _ in range(5):  # a leak of one stream would refuse the next
            with httpx.Client(base_url=url, timeout=10) as http, contextlib.ExitStack() as stack:
                Stream(stack, http)
            wait_until(lambda: limit.open == 0)
        assert (limit.admitted, limit.refused, limit.clients()) == (5, 0, 0)


def test_paths_limit_only_the_streams_they_name() -> None:
    limit = StreamLimit(per_process=0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with uvicorn_server(ASGILimit(app, limit, paths=["/events"])) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/other").text == "ok"
        assert http.get("/events/news").status_code == 503


def test_fastapi_add_middleware_limits_the_streaming_route() -> None:
    from fastapi import FastAPI

    from sse_fast.integrations.starlette import SSEResponse

    limit = StreamLimit(per_process=1)
    app = FastAPI()
    app.add_middleware(ASGILimit, limit=limit, paths=["/events"])

    @app.get("/events")
    async def events() -> Any:
        return SSEResponse(ticking, heartbeat=None)

    @app.get("/health")
    async def health() -> Any:
        return "ok"

    with uvicorn_server(app) as server, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
        response = stack.enter_context(http.stream("GET", "/events"))
        assert response.status_code == 200
        with httpx.Client(base_url=server.url, timeout=10) as other:
            assert other.get("/events").status_code == 503
            assert other.get("/health").json() == "ok"


def test_aiohttp_middleware_limits_streams() -> None:
    from aiohttp import web

    from sse_fast.integrations.aiohttp import sse_response
    from sse_fast.limits import aiohttp_middleware

    limit = StreamLimit(per_process=1, retry_after=3)

    async def events(request: web.Request) -> web.StreamResponse:
        return await sse_response(request, ticking, heartbeat=None)

    app = web.Application(middlewares=[aiohttp_middleware(limit, paths=["/events"])])
    app.router.add_get("/events", events)
    with run_aiohttp(app) as server, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
        response = stack.enter_context(http.stream("GET", "/events"))
        lines = response.iter_lines()
        assert next(lines) == "data: first"
        with httpx.Client(base_url=server.url, timeout=10) as other:
            answer = other.get("/events")
            assert (answer.status_code, answer.headers["retry-after"], answer.content) == (503, "3", BODY)
        response.close()
        wait_until(lambda: limit.open == 0)
        assert limit.refused == 1


def test_a_refusal_is_answered_at_once_even_while_every_stream_is_open() -> None:
    limit = StreamLimit(per_process=1)
    with limited("wsgi", limit) as url, contextlib.ExitStack() as stack:
        stream = Stream(stack, stack.enter_context(httpx.Client(base_url=url, timeout=10)))
        with httpx.Client(base_url=url, timeout=10) as http:
            answers: List[int] = [http.get("/").status_code for _ in range(50)]
        assert answers == [503] * 50
        assert stream.next_data() == "tick"


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: StreamLimit(per_process=-1), InvalidValue),
        (lambda: StreamLimit(per_client=1.5), InvalidValue),
        (lambda: StreamLimit(retry_after="5"), InvalidValue),
        (lambda: StreamLimit(key="user"), InvalidType),
        (lambda: ASGILimit(lambda *a: None, limit=3), InvalidType),  # type: ignore[arg-type]
        (lambda: WSGILimit(lambda *a: [], StreamLimit(), paths="/events"), InvalidType),
    ],
)
def test_wrong_arguments_are_refused_saying_what_was_given(make: Callable[[], Any], error: type) -> None:
    with pytest.raises(error) as info:
        make()
    assert "got" in str(info.value)


def test_release_forgets_a_client_with_no_stream_left() -> None:
    limit = StreamLimit(per_client=2)
    assert limit.acquire("a") and limit.acquire("a") and not limit.acquire("a")
    limit.release("a")
    limit.release("a")
    assert (limit.open, limit.clients(), limit.refused) == (0, 0, 1)
    assert limit.acquire("a")

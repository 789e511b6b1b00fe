"""FastAPI's native SSE under sse_fast's switch, on uvicorn over sockets, read by httpx and httpx-sse: GET and
POST, HEAD, sync generators in the thread pool, a client that leaves (the generator's ``finally`` runs then),
dependencies with ``yield`` closed after the stream, the keepalive comment, and ``install()``."""

import asyncio
import json
import subprocess
import sys
import threading
from typing import Any, AsyncIterable, Dict, Iterable, Iterator, List

import httpx
import pytest
from httpx_sse import connect_sse
from support.servers import uvicorn_server, wait_until

pytest.importorskip("fastapi")
pytest.importorskip("fastapi.sse")

import fastapi.routing  # noqa: E402
from fastapi import APIRouter, Depends, FastAPI  # noqa: E402
from fastapi.sse import EventSourceResponse, ServerSentEvent  # noqa: E402
from pydantic import BaseModel  # noqa: E402

import sse_fast  # noqa: E402
from sse_fast import Broker  # noqa: E402
from sse_fast.integrations import fastapi_sse  # noqa: E402
from sse_fast.integrations.fastapi import LastEventID  # noqa: E402
from sse_fast.integrations.fastapi_sse import FastAPIEventStream, SSERoute, current_writer  # noqa: E402


class Prompt(BaseModel):
    text: str


class Token(BaseModel):
    text: str
    index: int


LOG: List[str] = []  # what generators and dependencies did, in order
SEEN: Dict[str, Any] = {}
LEFT = {"async": threading.Event(), "sync": threading.Event()}
PING_SEEN = threading.Event()
MAKING = threading.Event()  # /busy-sync is making its second item


def session() -> Iterator[str]:
    LOG.append("dependency opened")
    yield "session"
    LOG.append("dependency closed")


router = APIRouter(route_class=SSERoute)


@router.post("/chat", response_class=EventSourceResponse)
async def chat(prompt: Prompt) -> AsyncIterable[Token]:
    for i, word in enumerate(prompt.text.split()):
        yield Token(text=word, index=i)
    yield ServerSentEvent(raw_data="[DONE]", event="done")


@router.api_route("/head", methods=["GET", "HEAD"], response_class=EventSourceResponse)
async def head() -> AsyncIterable[Token]:
    SEEN["head ran"] = True
    yield Token(text="x", index=0)


@router.get("/sync", response_class=EventSourceResponse)
def sync() -> Iterable[Dict[str, int]]:
    SEEN["sync thread"] = threading.get_ident()
    for i in range(3):
        yield {"i": i}


@router.get("/endless", response_class=EventSourceResponse)
async def endless() -> AsyncIterable[Dict[str, int]]:
    i = 0
    try:
        while True:
            yield {"i": i}
            i += 1
            await asyncio.sleep(0.001)
    finally:
        LEFT["async"].set()


@router.get("/endless-sync", response_class=EventSourceResponse)
def endless_sync() -> Iterable[Dict[str, int]]:
    i = 0
    try:
        while True:
            yield {"i": i}
            i += 1
            threading.Event().wait(0.001)
    finally:
        LEFT["sync"].set()


def resource() -> Iterator[str]:
    yield "resource"
    LOG.append("dependency closed")


@router.get("/busy-sync", response_class=EventSourceResponse)
def busy_sync(held: str = Depends(resource)) -> Iterable[Dict[str, int]]:
    try:
        yield {"i": 0}
        MAKING.set()
        writer = current_writer()
        for _ in range(10_000):  # making the next item takes until the server has seen the client leave
            if writer.closed:
                break
            threading.Event().wait(0.001)
        LOG.append("item made")
        yield {"i": 1}
        LOG.append("resumed after the leave")
    finally:
        LOG.append("generator closed")
        SEEN["closed in"] = threading.get_ident()


@router.get("/session", response_class=EventSourceResponse)
async def with_session(name: str = Depends(session)) -> AsyncIterable[Dict[str, str]]:
    for i in range(2):
        LOG.append(f"item {i}")
        yield {"session": name}
    LOG.append("generator ended")


@router.get("/quiet", response_class=EventSourceResponse)
async def quiet() -> AsyncIterable[Dict[str, int]]:
    yield {"n": 1}
    await asyncio.get_running_loop().run_in_executor(None, PING_SEEN.wait, 10)  # until the client saw a ping
    yield {"n": 2}


broker = Broker()


@router.get("/rooms/{room}", response_class=EventSourceResponse)
async def room(room: str, last_event_id: LastEventID) -> AsyncIterable[ServerSentEvent]:
    await broker.stream(current_writer(), room, last_event_id)  # until the client leaves
    return
    yield  # pragma: no cover  (a generator: FastAPI streams it as SSE)


@router.get("/writer-in-thread", response_class=EventSourceResponse)
def writer_in_thread() -> Iterable[Dict[str, bool]]:
    yield {"open": not current_writer().closed}


@router.get("/farewell", response_class=EventSourceResponse)
async def farewell() -> AsyncIterable[ServerSentEvent]:
    context = current_writer().context
    yield ServerSentEvent(raw_data="hello")
    if await context.wait() == "shutdown":
        yield ServerSentEvent(event="bye", raw_data="see you", retry=2000)


@router.get("/busy", response_class=EventSourceResponse)
async def busy() -> AsyncIterable[int]:
    i = 0
    while True:  # never awaits: FastAPI's own path adds a loop turn per item so that it can be cancelled
        yield i
        i += 1


app = FastAPI()
app.include_router(router)


@pytest.fixture(scope="module")
def server() -> Any:
    with uvicorn_server(app) as srv:
        yield srv


def test_post_with_a_body_validated_and_typed_items(server: Any) -> None:
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(client, "POST", server.url + "/chat", json={"text": "hello there"}) as source,
    ):
        assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert source.response.headers["cache-control"] == "no-cache"
        assert source.response.headers["x-accel-buffering"] == "no"
        got = [(e.event, e.data) for e in source.iter_sse()]
    assert got == [
        ("message", '{"text":"hello","index":0}'),
        ("message", '{"text":"there","index":1}'),
        ("done", "[DONE]"),
    ]
    refused = httpx.post(server.url + "/chat", json={"words": 1}, timeout=10)
    assert refused.status_code == 422  # FastAPI's request validation, before any stream


def test_head_gets_the_headers_and_the_generator_never_runs(server: Any) -> None:
    SEEN.clear()
    response = httpx.head(server.url + "/head", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == b""
    assert "head ran" not in SEEN
    assert httpx.get(server.url + "/head", timeout=10).text == 'data: {"text":"x","index":0}\n\n'
    assert SEEN["head ran"]


def test_sync_generator_runs_in_the_thread_pool(server: Any) -> None:
    SEEN.clear()
    response = httpx.get(server.url + "/sync", timeout=10)
    assert response.text == 'data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\n'  # typed: pydantic's JSON
    loop_thread = server.call(threading.get_ident)
    assert SEEN["sync thread"] != loop_thread


@pytest.mark.parametrize("kind, path", [("async", "/endless"), ("sync", "/endless-sync")])
def test_a_client_that_leaves_closes_the_generator(server: Any, kind: str, path: str) -> None:
    LEFT[kind].clear()
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", server.url + path) as source:
        events = source.iter_sse()
        assert [json.loads(next(events).data)["i"] for _ in range(3)] == [0, 1, 2]
    # the generator's finally ran: the server noticed the leave and closed it (no write had to fail first)
    assert LEFT[kind].wait(10)
    wait_until(lambda: server.tasks() <= 2)  # nothing of the stream is left running on the server's loop


def test_a_sync_generator_busy_when_the_client_leaves_is_closed_once_its_item_is_made(server: Any) -> None:
    """It cannot be closed while it runs in its thread: the close waits for the item, as FastAPI's producer task
    does, then closes it in the thread pool, and only then are the path operation's dependencies closed."""
    LOG.clear()
    MAKING.clear()
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", server.url + "/busy-sync") as source:
        events = source.iter_sse()  # held: an iterator dropped closes the response
        assert json.loads(next(events).data) == {"i": 0}
        assert MAKING.wait(10)  # leave while it runs
    wait_until(lambda: "dependency closed" in LOG)
    assert LOG == ["item made", "generator closed", "dependency closed"]
    assert SEEN["closed in"] != server.call(threading.get_ident)  # in a worker thread


def test_a_dependency_with_yield_is_closed_after_the_stream(server: Any) -> None:
    LOG.clear()
    assert httpx.get(server.url + "/session", timeout=10).text == 'data: {"session":"session"}\n\n' * 2
    wait_until(lambda: "dependency closed" in LOG)
    assert LOG == ["dependency opened", "item 0", "item 1", "generator ended", "dependency closed"]


def test_keepalive_is_fastapis_comment_at_its_interval(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.02)  # read per stream, as FastAPI reads it
    PING_SEEN.clear()
    body = b""
    with httpx.Client(timeout=10) as client, client.stream("GET", server.url + "/quiet") as response:
        for chunk in response.iter_raw():
            body += chunk
            if b": ping\n\n" in body:
                PING_SEEN.set()
    first, second = b'data: {"n":1}\n\n', b'data: {"n":2}\n\n'
    assert body.startswith(first + b": ping\n\n") and body.endswith(second)
    assert set(body[len(first) : -len(second)].split(b"\n\n")) == {b": ping", b""}  # pings only, between


def test_a_generator_follows_broker_topics_on_its_writer_with_last_event_id(server: Any) -> None:
    first = broker.publish_sync("lobby", {"n": 1})
    broker.publish_sync("lobby", {"n": 2})
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(client, "GET", server.url + "/rooms/lobby", headers={"Last-Event-ID": first}) as source,
    ):
        events = source.iter_sse()
        assert json.loads(next(events).data) == {"n": 2}  # resumed after the first
        broker.publish_sync("lobby", {"n": 3})
        assert json.loads(next(events).data) == {"n": 3}  # live


def test_current_writer_in_a_sync_generator_and_outside(server: Any) -> None:
    assert httpx.get(server.url + "/writer-in-thread", timeout=10).text == 'data: {"open":true}\n\n'
    with pytest.raises(LookupError, match="outside a FastAPI SSE generator"):
        current_writer()


def test_a_generator_says_goodbye_on_shutdown(server: Any) -> None:
    shutting: List[int] = []
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", server.url + "/farewell") as source:
        events = source.iter_sse()
        assert next(events).data == "hello"
        stopper = threading.Thread(target=lambda: shutting.append(sse_fast.shutdown_sync(grace=5)))
        stopper.start()
        bye = next(events)
        assert (bye.event, bye.data, bye.retry) == ("bye", "see you", 2000)
        assert list(events) == []  # then the body ends
    stopper.join(10)
    assert shutting and shutting[0] >= 1


def test_a_generator_that_never_awaits_can_still_be_cancelled() -> None:
    """FastAPI's tests/test_stream_cancellation.py for an SSE path operation: a server's cancellation (here
    ``wait_for``'s) reaches a stream whose generator never awaits and whose sends never block, since the writer
    waits for its sender once 64 KiB are queued."""
    sends: List[int] = []

    async def send(message: Dict[str, Any]) -> None:
        sends.append(len(message.get("body", b"")))

    async def receive() -> Dict[str, Any]:
        await asyncio.Event().wait()  # a client that never leaves
        return {}  # pragma: no cover

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.0"}, "http_version": "1.1",
             "method": "GET", "path": "/busy", "raw_path": b"/busy", "query_string": b"", "root_path": "",
             "headers": [], "server": ("test", 80), "client": ("test", 1), "scheme": "http"}  # fmt: skip
    outcome: List[str] = []

    async def main() -> None:
        try:
            await asyncio.wait_for(app(scope, receive, send), 0.2)
        except asyncio.TimeoutError:
            outcome.append("cancelled")

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(30)  # a guard against a hang, not a measure
    assert outcome == ["cancelled"] and len(sends) > 1


def test_install_switches_routes_declared_after_it_and_uninstall_undoes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    streamed: List[str] = []
    original = FastAPIEventStream.__call__

    async def spy(self: FastAPIEventStream, scope: Any, receive: Any, send: Any) -> None:
        streamed.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(FastAPIEventStream, "__call__", spy)

    def declared() -> FastAPI:  # an application that knows nothing of sse_fast, with an included router
        plain, included = FastAPI(), APIRouter()

        @included.get("/s", response_class=EventSourceResponse)
        async def stream() -> AsyncIterable[int]:
            yield 1

        plain.include_router(included, prefix="/r")
        return plain

    async def get(application: FastAPI) -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client:
            return (await client.get("/r/s")).text

    fastapi_sse.install()
    try:  # FastAPI builds an included route's handler at its first request: the switch is on until then
        switched = asyncio.run(get(declared()))
    finally:
        fastapi_sse.uninstall()
    assert streamed == ["/r/s"]
    assert asyncio.run(get(declared())) == switched == "data: 1\n\n"
    assert streamed == ["/r/s"]  # the second app is FastAPI's own again


def test_import_sse_fast_does_not_import_fastapi() -> None:
    code = "import sys, sse_fast, sse_fast.integrations; assert 'fastapi' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

"""A user's typed code, as the README writes it: ``mypy --strict`` must accept it (tests/project/test_typing.py).

It is type-checked, never run: each ``assert_type`` states what a user's checker must infer.
"""

from __future__ import annotations

import asyncio
from typing import Iterable, List, Literal, Optional, Tuple

import starlette.types
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from typing_extensions import assert_type

import sse_fast
from sse_fast import (
    ASGIResponse,
    AsyncWriter,
    Broker,
    Event,
    EventParser,
    FrameBuffer,
    ServerSentEvent,
    StreamContext,
    Writer,
    WSGIResponse,
    encode,
    encode_comment,
    encode_json,
    encode_retry,
    new_writer,
)
from sse_fast.integrations.starlette import SSEResponse
from sse_fast.parse import parse
from sse_fast.resume import from_scope
from sse_fast.types import Environ, Receive, Scope, Send, StartResponse

broker = Broker()


# -- encoder and parser -----------------------------------------------------------------------------------

frames: List[bytes] = [
    encode("a\nb", event="message", id="7"),
    encode(b"raw bytes"),
    encode(None, retry=1000),
    encode_json({"content": "hello"}, default=str),
    encode_comment("heartbeat"),
    encode_retry(3000),
    Event(data={"value": 100}, event="update", id="evt-001").encode(),
]
buffer = FrameBuffer()
buffer.add("a")
buffer.add_json({"b": 1}, event="json")
buffer.add_comment("c")
buffer.add_retry(10)
assert_type(len(buffer), int)
assert_type(buffer.take(), bytes)

parser = EventParser(last_event_id="7", max_line=1 << 16)
received = parser.feed(b"".join(frames))
assert_type(received, List[ServerSentEvent])
assert_type(parser.last_event_id, str)
assert_type(parser.retry, Optional[int])
first: ServerSentEvent = parse(b"data: x\n\n")[0]
assert_type(first.data, str)
assert_type(sse_fast.IMPLEMENTATION, Literal["c", "python"])


# -- plain ASGI: ASGIResponse and new_writer(scope, receive, send) ----------------------------------------


async def events(writer: AsyncWriter) -> None:
    await writer.set_retry(3000)
    for i in range(3):
        await writer.write_event({"count": i})
        await writer.write_event_with_name("tick", i)
        await writer.write_event_with_id(str(i), i)
    await writer.write_full_event(Event(data="x", event="e"))
    await writer.write_comment("note")
    await writer.write_frame(encode("raw"))
    await writer.flush()
    await writer.write_done()


stream = ASGIResponse(events, heartbeat=15)
room = ASGIResponse(broker.subscriber("room", None), heartbeat=15)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/events":
        await stream(scope, receive, send)
    else:
        opened = await new_writer(scope, receive, send, headers={"X-A": "1"})
        assert_type(opened, Tuple[AsyncWriter, StreamContext])
        writer, ctx = opened
        async with writer:
            await writer.write_event({"path": scope["path"]})
            await ctx.run(asyncio.sleep(0.1))
        reason: Optional[str] = writer.context.reason
        print(reason, writer.closed)


# -- Starlette / FastAPI: sse_fast's ASGI types are Starlette's ---------------------------------------


async def by_hand(scope: starlette.types.Scope, receive: starlette.types.Receive, send: starlette.types.Send) -> None:
    request = Request(scope, receive, send)  # an ASGI app that reads the request through Starlette's
    writer, ctx = await new_writer(request.scope, request.receive, send)
    assert_type(writer, AsyncWriter)
    async with writer:
        await writer.write_event({"last_event_id": from_scope(request.scope)})


async def chat(request: Request) -> SSEResponse:
    async def handler(writer: AsyncWriter) -> None:
        await writer.write_event({"content": "hi"})

    return SSEResponse(handler, headers={"X-Chat": "1"}, heartbeat=15)


async def publish(request: Request) -> Response:
    event_id: str = await broker.publish("room", await request.json(), event="message")
    return Response(event_id)


starlette_app = Starlette(
    routes=[
        Route("/by-hand", by_hand),
        Route("/chat", chat),
        Route("/publish", publish, methods=["POST"]),
        Mount("/events", app=stream),  # an ASGIResponse is a Starlette ASGIApp
        Mount("/room", app=room),
        Mount("/plain", app=app),
    ]
)


async def in_starlette_endpoint(request: Request) -> None:
    await stream(request.scope, request.receive, request._send)  # Starlette's own scope, receive and send


# -- asyncio streams ------------------------------------------------------------------------------------


async def handle(reader: asyncio.StreamReader, stream_writer: asyncio.StreamWriter) -> None:
    writer, ctx = await new_writer(reader, stream_writer)
    assert_type(writer, AsyncWriter)
    async with writer:
        await writer.write_event({"count": 1})
    alone, _ = await new_writer(stream_writer, send_timeout=5.0)
    assert_type(alone, AsyncWriter)
    await alone.close()


# -- WSGI: new_writer returns the pair at once ----------------------------------------------------------


def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    opened = new_writer(environ, start_response)
    assert_type(opened, Tuple[Writer, StreamContext])
    writer, ctx = opened

    def write() -> None:
        with writer:
            writer.write_event({"count": 1})
            writer.write_event_with_name("tick", 1)
            writer.write_comment("note")
            writer.set_retry(1000)
            if ctx.wait_sync(0.1):
                return
            writer.write_done()

    write()
    body: Iterable[bytes] = writer.sink
    return body


def sync_handler(writer: Writer) -> None:
    event_id: str = broker.publish_sync("room", {"text": "hi"})
    writer.write_event_with_id(event_id, {"text": "hi"})


wsgi_stream = WSGIResponse(sync_handler, heartbeat=15)
wsgi_room = WSGIResponse(broker.subscriber(["room", "broadcast"], "f08f444e5b5f-1"))


# -- who may subscribe to what (docs/production.md) --
from sse_fast.auth import Credentials, Grant, Guard, JWTGuard, Refused, refusal_asgi  # noqa: E402


def grant_for(credentials: Credentials) -> Optional[Grant]:
    user = credentials.header("x-user")
    return None if user is None else Grant(subscribe=[f"user:{user}"], publish=[])


guarded = Broker(guard=Guard(grant_for, public=["news"]))
by_callable = Broker(guard=grant_for)
by_jwt = Broker(guard=JWTGuard("a-secret-of-at-least-32-bytes-long", ["HS256"], public=["news"]))


async def guarded_app(scope: Scope, receive: Receive, send: Send) -> None:
    try:
        handler = by_jwt.subscriber(["news", "user:42"], from_scope(scope), request=scope)
    except Refused as error:
        assert_type(error.status, int)
        await refusal_asgi(error)(scope, receive, send)
        return
    await ASGIResponse(handler)(scope, receive, send)
    assert_type(await by_jwt.publish("news", {"n": 1}, private=True, request=scope), str)

"""A real client reads what the encoder wrote: frames served by a tiny asyncio server on 127.0.0.1,
read over a real socket with httpx-sse, compared with what went in and with the tests' spec parser.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import connect_sse
from hypothesis import given, settings
from hypothesis import strategies as st
from support.servers import uvicorn_server
from support.sse_parser import Message, normalise, parse
from support.twins import EXAMPLES, PROFILE

import sse_fast

HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Connection: close\r\n\r\n"
)


class StreamServer:
    """An HTTP/1.1 server on 127.0.0.1 (free port) that answers each path once with a given body."""

    def __init__(self) -> None:
        self._bodies: dict = {}
        self._paths = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._answer, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            found = self._bodies.pop(request.split(b" ", 2)[1].decode(), None)
            if found is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            else:
                body, chunk = found
                writer.write(HEAD)
                for start in range(0, len(body), chunk):
                    writer.write(body[start : start + chunk])
                    await writer.drain()
        finally:
            writer.close()

    def serve(self, body: bytes, chunk: int = 1 << 16) -> str:
        """A URL that answers once with ``body``, sent ``chunk`` bytes per write."""
        path = f"/stream/{next(self._paths)}"
        self._bodies[path] = (body, chunk)
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        async def stop() -> None:  # on the loop's thread: Server.close races a connection's end otherwise (3.9)
            self._server.close()
            await self._server.wait_closed()

        self._run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def server():
    running = StreamServer()
    yield running
    running.close()


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=httpx.Timeout(5.0)) as http:
        yield http


def read_with_httpx_sse(client: httpx.Client, url: str) -> list:
    with connect_sse(client, "GET", url) as source:
        assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return [(sse.event, sse.data, sse.id, sse.retry) for sse in source.iter_sse()]


def sent(frames: list) -> tuple:
    """What went in, as httpx-sse shows it (retry per event) and as the spec says (retry sticks)."""
    by_httpx, by_spec, last_id, reconnect = [], [], "", None
    for data, event, id, retry in frames:
        last_id = last_id if id is None else id
        reconnect = reconnect if retry is None else retry
        by_httpx.append((event or "message", data, last_id, retry))
        by_spec.append(Message(event or "message", data, last_id, reconnect))
    return by_httpx, by_spec


TEXT_FRAMES = [
    ("plain", None, None, None),
    ("", None, None, None),
    ("two\nlines", "multi", None, None),
    ("cr\rcrlf\r\nlf\nend", None, None, None),
    ("trailing\n", None, None, None),
    (" leading space", None, "1", None),
    (":leading colon", "", None, 2000),
    ("nul \x00 inside", "e", "2", None),
    ("not a break: \u2028 \u2029 \x85 \x0b \x0c", None, "", None),
    ("emoji \U0001f389 and \u00e9", "\U0001f389", "\U0001f389-3", 0),
    ("data: looks like a field\nid: 99", None, None, None),
    ("x" * 100_000, "big", "4", None),
]


@pytest.mark.parametrize("chunk", [1 << 16, 7], ids=["whole", "7-byte-writes"])
def test_httpx_sse_reads_text_frames(encoder, server, client, chunk):
    body = encoder.encode_comment("stream opened\nhello") + b"".join(encoder.encode(*f) for f in TEXT_FRAMES)
    expected = [(normalise(data), event, id, retry) for data, event, id, retry in TEXT_FRAMES]
    by_httpx, by_spec = sent(expected)
    assert read_with_httpx_sse(client, server.serve(body, chunk)) == by_httpx
    assert parse(body).events == by_spec


def test_httpx_sse_reads_json_and_buffered_frames(encoder, server, client):
    buf = encoder.FrameBuffer()
    buf.add_comment("heartbeat")
    values = [{"content": "hello"}, "hello", [1, 2.5, None, True], {"s": "a\nb\r\u2028"}, 0]
    for i, value in enumerate(values):
        buf.add_json(value, event="json" if i % 2 else None, id=f"j{i}")
    buf.add(b"raw\r\nbytes", id="raw")
    buf.add(memoryview(b"[DONE]"))
    body = buf.take()
    expected = [
        (encoder.encode_json(v)[len(b"data: ") : -2].decode(), "json" if i % 2 else None, f"j{i}", None)
        for i, v in enumerate(values)
    ]
    expected += [("raw\nbytes", None, "raw", None), ("[DONE]", None, None, None)]
    by_httpx, by_spec = sent(expected)
    assert read_with_httpx_sse(client, server.serve(body)) == by_httpx
    assert parse(body).events == by_spec


texts = st.text(st.characters(codec="utf-8"), max_size=30)
names = st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8)
ids = st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=8)
retries = st.none() | st.integers(min_value=0, max_value=2**31 - 1)  # the encoder refuses more


@settings(max_examples=max(EXAMPLES.get(PROFILE, 200) // 4, 10))
@given(st.lists(st.tuples(texts, names, ids, retries), min_size=1, max_size=6))
def test_httpx_sse_agrees_with_the_spec_parser_on_any_frames(encoder, server, client, frames):
    body = b"".join(encoder.encode(*frame) for frame in frames)
    by_httpx, by_spec = sent([(normalise(d), e, i, r) for d, e, i, r in frames])
    assert read_with_httpx_sse(client, server.serve(body)) == by_httpx
    assert parse(body).events == by_spec


def test_a_refused_invalid_utf8_write_leaves_the_stream_whole(writer_encoder, client):
    """Served by uvicorn through an ``AsyncWriter``: the writes of bytes that are not UTF-8 (data, a comment,
    an ``orjson.Fragment``) raise ``InvalidUTF8`` and send nothing, the stream goes on, and httpx-sse reads
    every other event exactly (before, its text decoder turned such bytes into U+FFFD)."""
    refused = []

    async def handler(writer: sse_fast.AsyncWriter) -> None:
        await writer.write_event({"n": 1})
        for write, bad in [
            (writer.write_raw_event, b"caf\xe9"),
            (writer.write_comment, b"\xff"),
            (writer.write_event, {"content": orjson.Fragment(b'"\xc3("')}),
        ]:
            try:
                await write(bad)
            except sse_fast.InvalidUTF8 as exc:
                refused.append(str(exc).split(",")[0])
        await writer.write_raw_event("café".encode())
        await writer.write_done()

    with uvicorn_server(sse_fast.ASGIResponse(handler)) as running:
        with client.stream("GET", running.url + "/") as response:
            body = response.read()
        with connect_sse(client, "GET", running.url + "/") as source:
            events = [sse.data for sse in source.iter_sse()]
    assert body.decode("utf-8") == 'data: {"n":1}\n\ndata: café\n\ndata: [DONE]\n\n'
    assert events == ['{"n":1}', "café", "[DONE]"]
    each = ["data", "comment", "JSON data"]  # each of the two requests: the three writes refused, in order
    assert refused == [f"{what} must be valid UTF-8 (browsers would show U+FFFD" for what in each] * 2

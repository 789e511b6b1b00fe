"""``sse_fast.testing`` over WSGI in-process: a ``WSGIResponse``, a Flask app and a plain WSGI app are read as
easily as an ASGI app, and the handler sees the client leave."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator, List

import pytest
from flask import Flask

from sse_fast import Event, Writer, WSGIResponse
from sse_fast.errors import ClientDisconnected
from sse_fast.integrations.flask import sse_response
from sse_fast.testing import aread_events, read_events, read_response


class Endless:
    """A handler that writes until its client leaves, and records how it ended."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.how: List[str] = []

    def __call__(self, writer: Writer) -> None:
        try:
            i = 0
            while True:
                writer.write_full_event(Event(id=str(i), event="tick", data={"i": i}))
                i += 1
                time.sleep(0.005)
        except ClientDisconnected:
            self.how.append("client left")
        finally:
            self.ended.set()


def finite(writer: Writer) -> None:
    writer.stream(["a", "b"])


def silent(writer: Writer) -> None:
    writer.write_event("only")
    time.sleep(60)


def test_wsgi_response_reads_n_then_the_handler_sees_the_client_leave() -> None:
    handler = Endless()
    result = read_response(WSGIResponse(handler, headers={"X-Test": "yes"}), "/events", n=3)
    assert [(e.id, e.event, e.data) for e in result.events] == [
        ("0", "tick", '{"i":0}'),
        ("1", "tick", '{"i":1}'),
        ("2", "tick", '{"i":2}'),
    ]
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["x-test"] == "yes"
    assert handler.ended.wait(5)
    assert handler.how == ["client left"]


def test_a_body_that_ends_gives_what_arrived() -> None:
    assert [e.data for e in read_events(WSGIResponse(finite), "/", n=10)] == ['"a"', '"b"', "[DONE]"]


def test_an_idle_stream_is_left_within_the_timeout() -> None:
    with pytest.raises(TimeoutError, match=r"read 1 event\(s\) in 0.5 s, wanted 2"):
        read_events(WSGIResponse(silent, heartbeat=None), "/", n=2, timeout=0.5)


def test_a_flask_app_with_headers_and_query() -> None:
    app = Flask(__name__)

    @app.get("/stream")
    def stream() -> Any:
        from flask import request

        last = request.headers.get("Last-Event-ID", "")
        topic = request.args["topic"]

        def handler(writer: Writer) -> None:
            writer.write_event_with_id("7", f"{topic} after {last}")

        return sse_response(handler)

    events = read_events(app, "/stream?topic=prices", n=1, headers={"Last-Event-ID": "6"})
    assert [(e.id, e.data) for e in events] == [("7", '"prices after 6"')]


def test_a_plain_wsgi_app_and_its_close() -> None:
    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"data: one\n\n"
            yield b"data: two\n\n"
            yield b"data: three\n\n"

        def close(self) -> None:
            closed.set()

    def app(environ: Any, start_response: Any) -> Body:
        start_response("201 Created", [("Content-Type", "text/event-stream")])
        return Body()

    result = read_response(app, "/", n=2)
    assert (result.status, [e.data for e in result.events]) == (201, ["one", "two"])
    assert closed.is_set()


def test_what_the_app_raises_reaches_the_test() -> None:
    def broken(environ: Any, start_response: Any) -> List[bytes]:
        raise LookupError("no such stream")

    with pytest.raises(LookupError, match="no such stream"):
        read_events(broken, "/", n=1)


def test_async_variant() -> None:
    async def main() -> List[str]:
        return [e.data for e in await aread_events(WSGIResponse(finite), "/", n=2)]

    assert asyncio.run(main()) == ['"a"', '"b"']

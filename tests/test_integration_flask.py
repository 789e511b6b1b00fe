"""Flask on threaded WSGI servers (waitress, werkzeug), read by httpx-sse: a handler, a generator,
Last-Event-ID, and a client that leaves closes the writer."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import pytest
from integration_common import Seen, check_headers, read_sse
from servers import HOST, Server, waitress_server

from sse_fast import ClientDisconnected, Event, Writer
from sse_fast.testing import read_events

flask = pytest.importorskip("flask")
from sse_fast.integrations.flask import last_event_id, sse_response  # noqa: E402

SEEN = Seen()
app = flask.Flask(__name__)


@app.get("/events")
def events() -> Any:
    start = int(last_event_id() or 0) + 1

    def handler(writer: Writer) -> None:
        for i in range(start, start + 3):
            writer.write_event_with_id(str(i), {"i": i, "path": flask.request.path})
        writer.write_done()

    return sse_response(handler, headers={"X-Extra": "1"})


@app.get("/generator")
def generator() -> Any:
    def items() -> Iterator[Any]:
        yield {"a": 1}
        yield Event(event="named", data="raw")

    return sse_response(items())


@app.get("/endless")
def endless() -> Any:
    def handler(writer: Writer) -> None:
        try:
            i = 0
            while True:
                writer.write_event(i)
                i += 1
                time.sleep(0.01)
        except ClientDisconnected as exc:
            SEEN.put("error", exc)
            SEEN.put("reason", writer.context.reason)
            try:
                writer.write_event("late")
            except ClientDisconnected as late:
                SEEN.put("late", late)

    return sse_response(handler)


@contextlib.contextmanager
def werkzeug_server(wsgi_app: Any) -> Iterator[Server]:
    from werkzeug.serving import make_server

    server = make_server(HOST, 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", params=["waitress", "werkzeug"])
def server(request: pytest.FixtureRequest) -> Any:
    serve = waitress_server if request.param == "waitress" else werkzeug_server
    with serve(app) as srv:
        yield srv


def test_handler_with_last_event_id_and_request_context(server: Any) -> None:
    headers, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "41"})
    check_headers(headers)
    assert headers["x-extra"] == "1"
    assert [(e.id, e.json()) for e in got[:3]] == [
        (str(i), {"i": i, "path": "/events"}) for i in (42, 43, 44)
    ]
    assert got[3].data == "[DONE]"


def test_query_fallback_and_invalid_id(server: Any) -> None:
    _, got = read_sse(server.url + "/events?lastEventId=9")
    assert [e.id for e in got[:3]] == ["10", "11", "12"]
    _, got = read_sse(server.url + "/events", headers={"Last-Event-ID": "x" * 2000})
    assert [e.id for e in got[:3]] == ["1", "2", "3"]


def test_generator_body(server: Any) -> None:
    _, got = read_sse(server.url + "/generator")
    assert [(e.event, e.data) for e in got] == [
        ("message", '{"a":1}'),
        ("named", "raw"),
        ("message", "[DONE]"),
    ]


def test_client_leaving_closes_the_writer(server: Any) -> None:
    SEEN.clear()
    _, got = read_sse(server.url + "/endless", n=3)
    assert [e.data for e in got] == ["0", "1", "2"]
    assert isinstance(SEEN.wait("error"), ClientDisconnected)
    assert SEEN.wait("reason") == "client_disconnected"
    assert isinstance(SEEN.wait("late"), ClientDisconnected)


def test_testing_client_over_the_socket(server: Any) -> None:
    got = read_events(server.url, "/endless", n=4)
    assert [e.data for e in got] == ["0", "1", "2", "3"]

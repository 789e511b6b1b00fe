"""Flask on threaded WSGI servers (waitress, werkzeug), read by httpx-sse: a handler, a generator,
Last-Event-ID, and a client that leaves closes the writer."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import pytest
from support.integration_common import (
    SEEN,
    TOO_LONG_ID,
    check_client_leaving,
    check_cut_off,
    check_first_ids,
    check_items,
    check_resumed,
    endless_sync,
    fails_sync,
    first_after,
    items,
)
from support.servers import HOST, Server, waitress_server

from sse_fast import ClientDisconnected, Writer
from sse_fast.testing import read_events

flask = pytest.importorskip("flask")
from sse_fast.integrations.flask import last_event_id, sse_response  # noqa: E402

app = flask.Flask(__name__)


@app.get("/events")
def events() -> Any:
    start = first_after(last_event_id())

    def handler(writer: Writer) -> None:
        for i in range(start, start + 3):
            writer.write_event_with_id(str(i), {"i": i, "path": flask.request.path})
        writer.write_done()

    return sse_response(handler, headers={"X-Extra": "1"})


@app.get("/generator")
def generator() -> Any:
    return sse_response(items())


@app.get("/endless")
def endless() -> Any:
    return sse_response(endless_sync)


@app.get("/fails")
def fails() -> Any:
    return sse_response(fails_sync)


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
    check_resumed(server.url + "/events", lambda i: {"i": i, "path": "/events"})


def test_query_fallback_and_invalid_id(server: Any) -> None:
    check_first_ids(server.url + "/events?lastEventId=9", 10)
    check_first_ids(server.url + "/events", 1, headers=TOO_LONG_ID)


def test_generator_body(server: Any) -> None:
    check_items(server.url + "/generator")


def test_client_leaving_closes_the_writer(server: Any) -> None:
    check_client_leaving(server.url + "/endless")
    assert isinstance(SEEN.wait("error"), ClientDisconnected)


def test_testing_client_over_the_socket(server: Any) -> None:
    got = read_events(server.url, "/endless", n=4)
    assert [e.data for e in got] == ["0", "1", "2", "3"]


def test_a_handler_that_raises_cuts_the_body_off(server: Any) -> None:
    check_cut_off(server.port, "/fails")

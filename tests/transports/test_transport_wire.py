"""Every writer method on every transport, byte for byte against the wire-format table (docs/wire-format.md),
read from real sockets."""

from __future__ import annotations

import httpx
import httpx_sse
import pytest
from support.servers import Server
from support.sse_apps import FRAME_BYTES, FUNC_DONE_BYTES, FUNC_ERROR_BYTES, PROBE, STREAM_BYTES
from support.transport_fixtures import client_fixture, server_fixture  # noqa: F401  (fixtures)
from support.wire_table import TABLE, TABLE_BYTES


def raw_body(client: httpx.Client, path: str) -> bytes:
    with client.stream("GET", path) as response:
        assert response.status_code == 200
        return b"".join(response.iter_raw())


def test_every_method_writes_designs_bytes(client: httpx.Client) -> None:
    assert raw_body(client, "/methods") == TABLE_BYTES


def test_the_table_is_designs(client: httpx.Client) -> None:
    # Each row separately, so a failure names the method whose bytes are wrong.
    body = raw_body(client, "/methods")
    for name, args, expected in TABLE:
        assert body.startswith(expected), f"{name}{args!r}"
        body = body[len(expected) :]
    assert body == b""


def test_headers(client: httpx.Client, server: Server) -> None:
    with client.stream("GET", "/methods") as response:
        headers = response.headers
        response.read()
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    if server.kind != "wsgi":  # type: ignore[attr-defined]  # PEP 3333 leaves Connection to the server
        assert headers["connection"] == "keep-alive"
    assert "access-control-allow-origin" not in headers


def test_new_writer_by_hand_with_app_headers(client: httpx.Client) -> None:
    with client.stream("GET", "/direct") as response:
        assert response.headers["x-app"] == "1"
        assert b"".join(response.iter_raw()) == TABLE_BYTES
    assert PROBE.get("direct") == "closed"


def test_write_frame_writes_encoded_bytes_as_they_are(client: httpx.Client) -> None:
    assert raw_body(client, "/frame") == FRAME_BYTES
    assert PROBE.get("frame") == ("InvalidType", "write_frame() takes bytes, got str")


def test_events_parse_with_httpx_sse(client: httpx.Client) -> None:
    with httpx_sse.connect_sse(client, "GET", "/methods") as source:
        events = list(source.iter_sse())
    assert [(e.event, e.data, e.id) for e in events[:5]] == [
        ("message", '{"content":"hello"}', ""),
        ("message", '"hello"', ""),
        ("message", '{"text":"hi"}', ""),
        ("message", '{"text":"hi"}', "evt-001"),
        ("update", '{"value":100}', "evt-001"),
    ]
    assert "[DONE]" in [e.data for e in events]
    assert ("error", '{"error":"something went wrong"}') in [(e.event, e.data) for e in events]


@pytest.mark.parametrize("path", ["/stream", "/stream_sync"])
def test_stream_writes_each_item_then_done(client: httpx.Client, path: str) -> None:
    assert raw_body(client, path) == STREAM_BYTES


def test_stream_func_ends_with_the_first_error(client: httpx.Client) -> None:
    assert raw_body(client, "/func_error") == FUNC_ERROR_BYTES


def test_stream_func_ends_with_done_when_data_ends(client: httpx.Client) -> None:
    assert raw_body(client, "/func_done") == FUNC_DONE_BYTES


def test_heartbeat_only_when_idle(client: httpx.Client) -> None:
    body = raw_body(client, "/heartbeat")
    idle, _, rest = body.partition(b"data: busy\n\n")
    busy, _, stopped = rest.partition(b"data: 11\n\n")
    assert idle.count(b": heartbeat\n\n") >= 1 and idle.replace(b": heartbeat\n\n", b"") == b""
    assert busy == b"".join(b"data: %d\n\n" % i for i in range(11))
    assert stopped == b"data: [DONE]\n\n"

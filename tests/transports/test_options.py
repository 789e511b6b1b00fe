"""``Options``: one place that checks and gathers what responses pass to their transport, defaults included."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

import sse_fast
from sse_fast.integrations.starlette import SSEResponse
from sse_fast.transports import Options


async def handler(writer: sse_fast.AsyncWriter) -> None:
    await writer.write_event(1)


def test_every_response_keeps_a_stream_alive_by_default() -> None:
    assert Options().heartbeat == 15.0
    assert sse_fast.ASGIResponse(handler).options.heartbeat == 15.0
    assert sse_fast.WSGIResponse(lambda w: None).options.heartbeat == 15.0
    assert SSEResponse(handler).options.heartbeat == 15.0


async def _idle_body(heartbeat: Any) -> bytes:
    """The body an ``ASGIResponse`` whose handler idles for 0.3 s sends, driven in-process."""
    sent: List[Dict[str, Any]] = []

    async def idle(writer: sse_fast.AsyncWriter) -> None:
        await asyncio.sleep(0.3)

    async def receive() -> Dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "http_version": "1.1", "headers": []}
    await sse_fast.ASGIResponse(idle, heartbeat=heartbeat)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[-1]["more_body"] is False
    return b"".join(m.get("body", b"") for m in sent)


@pytest.mark.parametrize("off", [None, 0])
def test_a_heartbeat_of_none_or_zero_sends_none(off: Any) -> None:
    assert asyncio.run(_idle_body(off)) == b""


def test_a_short_heartbeat_goes_out_while_the_handler_is_idle() -> None:
    body = asyncio.run(_idle_body(0.05))
    assert body.count(b": heartbeat\n\n") >= 3 and body.replace(b": heartbeat\n\n", b"") == b""


def test_unknown_options_are_named() -> None:
    expected = r"new_writer\(\) got unknown option\(s\) heartbeet; expected status"
    with pytest.raises(sse_fast.InvalidType, match=expected):
        Options.of("new_writer", {"heartbeet": 1})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"status": "200"}, "status must be an int from 100 to 599, got '200'"),
        ({"status": 99}, "status must be an int from 100 to 599, got 99"),
        ({"send_timeout": -1}, "send_timeout must be None or a number of seconds >= 0, got -1"),
        ({"heartbeat": True}, "heartbeat must be None or a number of seconds >= 0, got True"),
        ({"max_buffered": 0}, "max_buffered must be an int of bytes >= 1, got 0"),
    ],
)
def test_bad_option_values_are_refused_with_what_was_given(given: Dict[str, Any], message: str) -> None:
    with pytest.raises(sse_fast.InvalidValue, match=message.replace("(", r"\(").replace(")", r"\)")):
        Options(**given)


def test_a_default_that_is_not_callable_is_refused() -> None:
    with pytest.raises(sse_fast.InvalidType, match="default must be None or a callable, got int"):
        Options(default=3)  # type: ignore[arg-type]


def test_headers_are_merged_once_and_connection_only_on_http1() -> None:
    options = Options(headers={"X-App": "1", "cache-control": "no-store"})
    assert options.header_pairs() == [
        ("Content-Type", "text/event-stream; charset=utf-8"),
        ("X-Accel-Buffering", "no"),
        ("X-App", "1"),
        ("cache-control", "no-store"),
    ]
    assert (b"connection", b"keep-alive") in options.raw_headers("1.1")
    assert (b"connection", b"keep-alive") not in options.raw_headers("2")
    assert options.raw_headers("1.1") is options.raw_headers("1.0")  # encoded once, not per request
    # nor per response: one made per request (ASGIResponse(handler) in an endpoint) shares them
    again = Options(headers={"X-App": "1", "cache-control": "no-store"}, heartbeat=None)
    assert again.raw_headers("1.1") is options.raw_headers("1.1")
    assert Options().raw_headers("2") is Options(status=204).raw_headers("2")
    unhashable = Options(headers=[("X-App", "1"), ["cache-control", "no-store"]])  # type: ignore[list-item]
    assert unhashable.raw_headers("1.1") == options.raw_headers("1.1")


def test_keep_alive_false_sends_the_sse_headers_and_the_given_ones_alone() -> None:
    """What FastAPI's native SSE sends (sse_fast.integrations.fastapi_sse): no ``Connection`` header on HTTP/1.1."""
    given = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"), ("x-a", "1")]
    assert Options(headers=given, keep_alive=False).raw_headers("1.1") == [
        (b"x-accel-buffering", b"no"),  # the default not given, then the given ones in their order
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-a", b"1"),
    ]
    assert (b"connection", b"keep-alive") in Options(headers=given).raw_headers("1.1")

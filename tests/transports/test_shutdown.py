"""Shutdown: every open stream is told to finish, may say goodbye within the grace period, then ends."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from support.servers import wait_until
from support.sse_apps import FAREWELL, PROBE
from support.transport_fixtures import client_fixture, server_fixture  # noqa: F401  (fixtures)

import sse_fast
from sse_fast.testing import MemorySink


def shut_down_in_background(grace: float) -> list:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(sse_fast.shutdown_sync(grace)), daemon=True)
    thread.start()
    return result


def test_shutdown_delivers_the_farewell_then_ends_the_stream(client: httpx.Client) -> None:
    with client.stream("GET", "/farewell") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"data: hello\n\n"
        ended = shut_down_in_background(grace=5)
        rest = b"".join(chunks)  # returns only when the server ends the body
    assert rest == FAREWELL
    wait_until(lambda: ended)
    assert ended == [1]
    assert not sse_fast.open_streams()


def test_shutdown_closes_a_handler_that_ignores_it_after_the_grace_period(client: httpx.Client) -> None:
    with client.stream("GET", "/stubborn") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"data: hello\n\n"
        started = time.monotonic()
        shut_down_in_background(grace=0.3)
        rest = b"".join(chunks)
        took = time.monotonic() - started
    assert rest.replace(b": still here\n\n", b"") == b""
    assert PROBE.get("stubborn") == "shutdown"  # cancelled (async) or its write raised (sync)
    assert took < 5.0  # a guard: the grace period, not the handler's 30 s sleep, bounded it


def test_a_stream_opened_during_shutdown_is_told_to_finish_at_once(client: httpx.Client) -> None:
    with client.stream("GET", "/stubborn") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"data: hello\n\n"
        shut_down_in_background(grace=1.0)
        wait_until(lambda: all(w.context.done for w in sse_fast.open_streams()))
        with client.stream("GET", "/farewell") as late:
            assert b"".join(late.iter_raw()) == b"data: hello\n\n" + FAREWELL
        b"".join(chunks)


def test_a_stream_left_on_a_closed_loop_does_not_break_shutdown_for_the_others() -> None:
    """A server stopped without ending its streams leaves writers on a closed loop; shutdown marks them closed."""

    loop = asyncio.new_event_loop()

    async def open_writer() -> sse_fast.AsyncWriter:
        writer = sse_fast.AsyncWriter(MemorySink())
        writer.start_heartbeat(60)
        return writer

    writer = loop.run_until_complete(open_writer())
    loop.close()
    assert writer in sse_fast.open_streams()
    assert sse_fast.shutdown_sync(grace=0, close_timeout=1) >= 1
    assert writer.closed and writer.finished.is_set()
    assert writer not in sse_fast.open_streams()

"""The life of a stream on every transport: a client that leaves, one that stops reading, and no leaks."""

from __future__ import annotations

import os
import socket
import threading

import httpx
import pytest
from support.servers import Server, frozen_request, leave_after_first_event, wait_until
from support.sse_apps import FROZEN_TIMEOUT, MAX_BUFFERED, PROBE
from support.transport_fixtures import client_fixture, server_fixture  # noqa: F401  (fixtures)

import sse_fast

CYCLES = 200
IDLE = 20


def test_client_that_leaves_stops_the_handler_within_a_second(client: httpx.Client, server: Server) -> None:
    left = leave_after_first_event(client)
    stopped, reason, how = PROBE.get("hold", timeout=5)
    delay = stopped - left
    print(f"{server.kind}: handler stopped {delay * 1000:.0f} ms after the client left ({how})")  # type: ignore[attr-defined]
    assert reason == "client_disconnected"
    # async: ctx.run() cancels the work as the context ends; sync: the next write raises
    assert how in (("write raised",) if server.kind == "wsgi" else ("context", "cancelled"))  # type: ignore[attr-defined]
    assert delay < 1.0


def test_an_idle_stream_holds_one_task_beside_the_servers_own(server: Server) -> None:
    # The handler runs in the task the server gave the request; beside it only the disconnect watch waits.
    # Each task costs an idle stream its coroutines, context and registration (~1 KB, bench/idle_memory.py).
    if server.kind == "wsgi":  # type: ignore[attr-defined]
        pytest.skip("WSGI streams run in the server's threads")
    before = server.tasks()
    opened = []
    try:
        for _ in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /idle HTTP/1.1\r\nHost: test\r\n\r\n")
            opened.append(sock)
        for sock in opened:
            got = b""
            while b"data: first" not in got:
                chunk = sock.recv(4096)
                assert chunk, "an idle stream ended before its first event"
                got += chunk
        added = server.tasks() - before
    finally:
        for sock in opened:
            sock.close()
    print(f"{server.kind}: {added} tasks for {IDLE} idle streams")  # type: ignore[attr-defined]
    assert added <= 2 * IDLE  # the server's task for the request (running the handler) + the watch
    wait_until(lambda: not sse_fast.open_streams())


def resources(server: Server) -> tuple:
    tasks = server.tasks() if server.loop is not None else 0
    return tasks, threading.active_count(), len(os.listdir("/proc/self/fd")), len(sse_fast.open_streams())


def test_connect_disconnect_cycles_leave_nothing_behind(client: httpx.Client, server: Server) -> None:
    leave_after_first_event(client)  # warm up: the server's pools and the client's are in place
    PROBE.get("hold")
    wait_until(lambda: not sse_fast.open_streams())
    before = resources(server)
    for _ in range(CYCLES):
        leave_after_first_event(client)
    wait_until(lambda: len(PROBE.all("hold")) == CYCLES + 1, timeout=30)
    # Slack: none for tasks, threads and open streams once every handler has reported; fds may differ
    # by the one connection the client's pool or the server has not finished closing yet.
    settled = wait_until(lambda: _settled(server, before), timeout=10)
    print(f"{server.kind}: before {before}, after {CYCLES} cycles {settled}")  # type: ignore[attr-defined]


def _settled(server: Server, before: tuple):  # type: ignore[no-untyped-def]
    now = resources(server)
    tasks, threads, fds, streams = now
    ok = tasks <= before[0] and threads <= before[1] and fds <= before[2] + 1 and streams == 0
    return now if ok else None


def test_frozen_client_is_dropped_after_send_timeout(server: Server) -> None:
    sock = frozen_request(server.port)  # it never reads
    try:
        reason, written, message = PROBE.get("frozen", timeout=20)
        print(f"{server.kind}: dropped after {written // 1024} KiB accepted: {message}")  # type: ignore[attr-defined]
        assert reason == "send_timeout"
        assert f"{FROZEN_TIMEOUT} s" in message
        assert PROBE.get("frozen:error") == ("SendTimedOut", "send_timeout", message)
        assert written < 64 * 1024 * 1024  # the writes were pushed back, not buffered without end
        if server.kind == "wsgi":  # type: ignore[attr-defined]
            assert PROBE.get("frozen_peak") <= MAX_BUFFERED
        wait_until(lambda: not sse_fast.open_streams())
    finally:
        PROBE.clear()
        sock.close()


def test_write_after_the_client_left_raises_and_never_hangs(client: httpx.Client) -> None:
    # /late's handler has no owner task to cancel: it waits for its context, then tries to write.
    with client.stream("GET", "/late") as response:
        assert next(response.iter_raw()) == b"data: first\n\n"
    error, reason, took = PROBE.get("late", timeout=5)
    assert (error, reason) == ("ClientDisconnected", "client_disconnected")
    assert took < 1.0  # a guard: the write failed at once instead of waiting on a dead socket
    error, reason, message = PROBE.get("late:error")
    assert (error, reason) == ("ClientDisconnected", "client_disconnected")
    assert "the client left" in message


CLOSED_HERE = "cannot write: the stream was closed on the server side (reason: {})"


def test_a_write_after_our_own_close_raises_stream_closed(client: httpx.Client) -> None:
    with client.stream("GET", "/closed") as response:
        assert b"".join(response.iter_raw()) == b"data: first\n\n"  # raises if the body was not ended
    assert PROBE.get("closed:error") == ("StreamClosed", "closed", CLOSED_HERE.format("closed"))


def test_a_write_after_abort_raises_stream_closed_with_the_abort_reason(client: httpx.Client) -> None:
    try:
        with client.stream("GET", "/aborted") as response:
            b"".join(response.iter_raw())
    except httpx.RemoteProtocolError:  # ASGI and streams leave the body unfinished; WSGI's server ends it
        pass
    assert PROBE.get("aborted:error") == ("StreamClosed", "slow", CLOSED_HERE.format("slow"))
    wait_until(lambda: not sse_fast.open_streams())

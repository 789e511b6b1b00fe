"""Every server a user runs, as a real process on a free port: events arrive as sent, a client that leaves is
seen within a second, a frozen client is dropped at ``send_timeout``, and SIGTERM delivers the farewell.

The servers and how each is started are in ``server_procs.SERVERS``; the app is ``server_app`` (the scenario
handlers of ``sse_apps``). bench/servers.py measures the same things for the README table.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Iterator, Optional

import pytest
from support.held_sockets import holds
from support.server_procs import SERVERS, Running, h2_data, h2_request, running
from support.servers import frozen_request, wait_until
from support.sse_apps import FAREWELL, FROZEN_TIMEOUT
from support.wire_table import TABLE_BYTES

# Servers that take every body send at once, so no write ever waits and send_timeout cannot drop a client
# that stopped reading (what was seen, and how to repeat it: README.md, "Every server, measured").
BUFFERS_THE_BODY = {
    "daphne": "daphne (Twisted) accepts every ASGI body send at once: the handler wrote all 128 MiB to a "
    "client that reads nothing, no send waited, so send_timeout never fired",
    "hypercorn-h2c": "hypercorn's HTTP/2 send does not wait while the client's flow-control window is shut "
    "(the send task pops 0 bytes, which releases the writer): the body piles up in the server",
}
OLD_GRANIAN = (
    "granian before 2.8 (2.5.7 is the newest on Python 3.9) accepts every ASGI body send at once: the handler "
    "wrote all 128 MiB to a client that reads nothing, so send_timeout never fired; 2.8.0 pushes back"
)


# Servers that keep a dropped frozen client's connection (and what they queued for it) open for as long as the
# client stays connected: after the app ends the response they close the transport gracefully, which waits to
# flush to a client that reads nothing; no ASGI / WSGI interface lets the app abort the connection instead.
_UVICORN = (
    "uvicorn ends a response the app did not complete with transport.close(), which (asyncio's and uvloop's "
    "alike) closes the socket only once its write buffer is flushed, to a client that reads nothing"
)
KEEPS_THE_SOCKET = {
    "uvicorn-h11-asyncio": _UVICORN,
    "uvicorn-httptools-asyncio": _UVICORN,
    "uvicorn-h11-uvloop": _UVICORN,
    "uvicorn-httptools-uvloop": _UVICORN,
    "gunicorn-uvicorn-worker": _UVICORN,
    "hypercorn-http1": "hypercorn closes the connection with StreamWriter.close() and waits in wait_closed() "
    "until the write buffer is flushed, to a client that reads nothing",
    "granian-http1": "granian (hyper, in Rust) keeps the connection until the body it queued is written",
    "granian-h2c": "granian (hyper, in Rust) keeps the HTTP/2 connection until the data it queued is written",
    "gunicorn-gthread": "gunicorn's gthread worker writes each body chunk with a blocking sendall(); for a client "
    "that reads nothing it stays in that call, holding the socket and the worker thread",
}
RELEASE_GUARD = 5.0  # seconds given to the server to release the socket after the drop


def buffers_the_body(name: str) -> Optional[str]:
    """Why this server cannot drop a frozen client, or None when it pushes back."""
    if name.startswith("granian") and tuple(map(int, version("granian").split(".")[:2])) < (2, 8):
        return OLD_GRANIAN
    return BUFFERS_THE_BODY.get(name)


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and gunicorn need a POSIX system")


def _start(name: str, folder: Path) -> "contextlib.AbstractContextManager[Running]":
    missing = SERVERS[name].missing()
    if missing is not None:
        pytest.skip(f"{missing} is not installed on Python {sys.version_info[0]}.{sys.version_info[1]} (test extra)")
    return running(name, folder)


@pytest.fixture(name="server", scope="module", params=list(SERVERS))
def server_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with _start(request.param, tmp_path_factory.mktemp(request.param)) as server:
        yield server


def test_events_arrive_as_sent(server: Running) -> None:
    with server.client() as http:
        response = http.get("/methods")
    assert response.content == TABLE_BYTES
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    if server.spec.http2:
        assert response.http_version == "HTTP/2"
        assert "connection" not in response.headers  # a connection-specific header is malformed on HTTP/2
    else:
        assert response.http_version == "HTTP/1.1"


def test_a_client_that_leaves_is_seen_within_a_second(server: Running) -> None:
    server.probe.clear()
    left = server.leave()
    stopped, reason, how = server.probe.get("hold", timeout=5)
    assert reason == "client_disconnected"
    assert how == ("write raised" if server.spec.interface == "wsgi" else "context")
    assert stopped - left < 1.0  # both sides read time.monotonic(), one clock for every process


def test_a_frozen_client_is_dropped_at_send_timeout(server: Running, request: pytest.FixtureRequest) -> None:
    why = buffers_the_body(server.name)
    if why is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    server.probe.clear()
    sock = h2_request(server.port, "/frozen") if server.spec.http2 else frozen_request(server.port)
    try:
        reason, written, message = server.probe.get("frozen", timeout=20)
    finally:
        sock.close()
    assert reason == "send_timeout"
    assert f"{FROZEN_TIMEOUT} s" in message
    assert written < 64 * 1024 * 1024  # the server pushed back long before the handler's 128 MiB


def test_a_dropped_frozen_client_gets_its_socket_released(server: Running, request: pytest.FixtureRequest) -> None:
    why = buffers_the_body(server.name) or KEEPS_THE_SOCKET.get(server.name)
    if why is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    server.probe.clear()
    sock = h2_request(server.port, "/frozen") if server.spec.http2 else frozen_request(server.port)
    try:
        reason, _, _ = server.probe.get("frozen", timeout=20)
        assert reason == "send_timeout"
        client_port = sock.getsockname()[1]
        wait_until(lambda: not holds(server.proc.pid, client_port), RELEASE_GUARD)  # the client stays, frozen
    finally:
        sock.close()


@pytest.mark.parametrize("name", list(SERVERS))
def test_sigterm_delivers_the_farewell_and_the_server_exits(name: str, tmp_path: Path) -> None:
    with _start(name, tmp_path) as server:
        if server.spec.http2:
            with contextlib.closing(h2_request(server.port, "/farewell")) as sock:
                chunks = h2_data(sock)
                assert next(chunks) == b"data: hello\n\n"
                server.proc.send_signal(signal.SIGTERM)
                rest = b"".join(chunks)
        else:
            with server.client() as http, http.stream("GET", "/farewell") as response:
                chunks = response.iter_raw()
                assert next(chunks) == b"data: hello\n\n"
                server.proc.send_signal(signal.SIGTERM)
                rest = b"".join(chunks)
        assert rest == FAREWELL
        assert server.proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped

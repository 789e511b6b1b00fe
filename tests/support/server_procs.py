"""Real servers in their own processes (uvicorn, hypercorn, granian, daphne, gunicorn) serving ``server_app``.

``SERVERS`` names each way to run one; ``running(name, folder)`` starts it on a free port, waits for it
to answer, and yields a ``Running`` with its URL, process and ``ProbeFile`` (what its handlers saw).
Used by tests/transports/test_servers.py and bench/servers_table.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx

from support.ports import free_port
from support.servers import HOST, leave_after_first_event, wait_until

HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Spec:
    """How to run one server: its command (``{port}`` filled in), interface, and what a client speaks."""

    argv: Tuple[str, ...]
    interface: str = "asgi"  # or "wsgi"
    needs: Tuple[str, ...] = ()  # modules that must import, or the server is skipped
    http2: bool = False  # the client speaks HTTP/2 (h2c with prior knowledge)

    def missing(self) -> Optional[str]:
        """The first module this server needs that does not import here, or None."""
        for module in self.needs:
            if importlib.util.find_spec(module) is None:
                return module
        return None


def _uvicorn(http: str, loop: str) -> Spec:
    argv = ("uvicorn", "support.server_app:app", "--host", HOST, "--port", "{port}", "--http", http, "--loop", loop)
    return Spec(argv + ("--lifespan", "on", "--log-level", "warning"), needs=(http, loop))


# --workers 0 serves in the main process, the one that gets SIGTERM: with worker processes (the default
# 1) only the parent gets the signal and the workers see a shared event, where no chain can run first.
HYPERCORN = ("hypercorn", "support.server_app:app", "--bind", HOST + ":{port}", "--workers", "0")
GRANIAN = ("granian", "--interface", "asgi", "--host", HOST, "--port", "{port}", "support.server_app:app")
SERVERS: Dict[str, Spec] = {
    "uvicorn-h11-asyncio": _uvicorn("h11", "asyncio"),
    "uvicorn-httptools-asyncio": _uvicorn("httptools", "asyncio"),
    "uvicorn-h11-uvloop": _uvicorn("h11", "uvloop"),
    "uvicorn-httptools-uvloop": _uvicorn("httptools", "uvloop"),
    "hypercorn-http1": Spec(HYPERCORN, needs=("hypercorn",)),
    "hypercorn-h2c": Spec(HYPERCORN, needs=("hypercorn", "h2"), http2=True),
    "granian-http1": Spec(GRANIAN, needs=("granian",)),
    "granian-h2c": Spec(GRANIAN, needs=("granian", "h2"), http2=True),
    "daphne": Spec(("daphne", "-b", HOST, "-p", "{port}", "support.server_app:app"), needs=("daphne",)),
    "gunicorn-uvicorn-worker": Spec(
        ("gunicorn", "-w", "1", "-k", "uvicorn_worker.UvicornWorker", "-b", HOST + ":{port}", "support.server_app:app"),
        needs=("gunicorn", "uvicorn_worker"),
    ),
    "gunicorn-gthread": Spec(
        ("gunicorn", "-w", "1", "-k", "gthread", "--threads", "8", "-b", HOST + ":{port}", "support.server_app:wsgi"),
        interface="wsgi",
        needs=("gunicorn",),
    ),
}


class ProbeFile:
    """What the server's handlers reported (``server_app.FileProbe``): the last value of a key, and when."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("")

    def entries(self, key: str) -> List[Dict[str, Any]]:
        lines = self.path.read_text().splitlines()
        return [entry for entry in map(json.loads, lines) if entry["key"] == key]

    def entry(self, key: str, timeout: float = 10.0) -> Dict[str, Any]:
        """The last report under ``key`` (``t`` is the server's ``time.monotonic()``, ``value`` its value)."""
        return wait_until(lambda: (self.entries(key) or [None])[-1], timeout=timeout)  # type: ignore[no-any-return]

    def get(self, key: str, timeout: float = 10.0) -> Any:
        value = self.entry(key, timeout)["value"]
        return tuple(value) if isinstance(value, list) else value

    def clear(self) -> None:
        self.path.write_text("")


@dataclass
class Running:
    name: str
    spec: Spec
    port: int
    proc: "subprocess.Popen[bytes]"
    probe: ProbeFile
    log: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://{HOST}:{self.port}"

    def client(self, **options: Any) -> httpx.Client:
        """An httpx client for this server: HTTP/2 with prior knowledge where the spec says so."""
        if self.spec.http2:
            options.update(http1=False, http2=True)
        options.setdefault("timeout", 10)
        return httpx.Client(base_url=self.url, **options)

    def leave(self, path: str = "/hold") -> float:
        """Open a stream, read its first event, leave; returns when the client left (``time.monotonic()``)."""
        http = self.client()
        left = leave_after_first_event(http, path)
        if self.spec.http2:  # httpx sends no RST_STREAM for a response closed early: closing the connection leaves
            left = time.monotonic()
        http.close()
        return left


@contextlib.contextmanager
def running(name: str, folder: Path, ready_timeout: float = 30.0) -> Iterator[Running]:
    """Start server ``name`` on a free port with its output in ``folder``; stop it (SIGKILL) on the way out."""
    spec = SERVERS[name]
    port = free_port()
    probe = ProbeFile(folder / f"{name}.probe")
    log = folder / f"{name}.log"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]),
        SSE_FAST_PROBE=str(probe.path),
        SSE_FAST_INTERFACE=spec.interface,
    )
    argv = [sys.executable, "-m", *(arg.format(port=port) for arg in spec.argv)]
    with open(log, "wb") as out:
        # its own process group: granian's and gunicorn's workers outlive a killed parent
        proc = subprocess.Popen(argv, cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Running(name, spec, port, proc, probe, log)
    try:
        wait_until(lambda: _answers(server), timeout=ready_timeout, interval=0.05)
        probe.entry("signals")  # the shutdown chain is in place before a test sends SIGTERM
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone once all of it exited
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _answers(server: Running) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"{server.name} exited with {server.proc.returncode}: {server.log.read_text()[-2000:]}")
    try:
        with server.client(timeout=1) as http:
            return http.get("/ping").status_code == 200
    except httpx.HTTPError:
        return False


def h2_request(port: int, path: str) -> socket.socket:
    """An HTTP/2 GET (h2c, prior knowledge) on stream 1; the client never opens its flow-control window."""
    import h2.config
    import h2.connection

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    headers = [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", f"{HOST}:{port}")]
    conn.send_headers(1, headers, end_stream=True)
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.sendall(conn.data_to_send())
    return sock


def h2_data(sock: socket.socket, stream_id: int = 1) -> Iterator[bytes]:
    """The DATA payloads of one stream, frame by frame, until END_STREAM or the connection closes.

    Frames read raw: h2's state machine (and so httpx) refuses a PING after GOAWAY, which RFC 9113
    allows and granian sends when it shuts down.
    """
    while True:
        head = _read_exactly(sock, 9)
        if not head:
            return
        length, kind, flags, sid = int.from_bytes(head[:3], "big"), head[3], head[4], int.from_bytes(head[5:], "big")
        payload = _read_exactly(sock, length)
        if kind == 0 and sid == stream_id:  # DATA
            if flags & 0x8:  # PADDED
                payload = payload[1 : len(payload) - payload[0]]
            if payload:
                yield payload
            if flags & 0x1:  # END_STREAM
                return


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data

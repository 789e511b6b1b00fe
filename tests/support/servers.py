"""Real servers on 127.0.0.1 for the writer and transport tests: uvicorn, waitress and asyncio.start_server.

Each runs in a thread of this process (so tests can count its tasks, threads and descriptors) and
is started on a free port; ``Server.loop`` is the event loop of an asyncio server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any, Awaitable, Callable, Iterator, Optional

import httpx
import uvicorn
import waitress

from support.ports import HOST


class Server:
    def __init__(self, port: int, loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        self.port = int(port)
        self.loop = loop
        self.url = f"http://{HOST}:{port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the server's loop and return its result."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def tasks(self) -> int:
        return self.call(lambda: len(asyncio.all_tasks()))


def wait_until(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll ``check()`` until it is truthy; fails after ``timeout`` seconds (a guard against hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check}")
        time.sleep(interval)


def leave_after_first_event(client: httpx.Client, path: str = "/hold") -> float:
    """Open the stream, read its first event, hang up; returns when the client hung up."""
    with client.stream("GET", path) as response:
        chunks = response.iter_raw()  # held: a dropped iterator would close the response before ``left``
        assert next(chunks).startswith(b"data: first\n\n")
        left = time.monotonic()
    return left


def frozen_request(port: int, path: str = "/frozen") -> socket.socket:
    """A socket that sent an HTTP/1.1 GET for ``path`` with a small receive buffer, and never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((HOST, port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return sock


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


@contextlib.contextmanager
def uvicorn_server(app: Any) -> Iterator[Server]:
    sock = _bound_socket()
    config = uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    loops: list = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loops.append(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: server.started)
    try:
        yield Server(sock.getsockname()[1], loops[0])
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def waitress_server(app: Any, **adjustments: Any) -> Iterator[Server]:
    options = dict(channel_request_lookahead=1, threads=8, outbuf_high_watermark=256 * 1024)
    options.update(adjustments)
    server = waitress.create_server(app, host=HOST, port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Server(server.effective_port)
    finally:
        server.task_dispatcher.shutdown(timeout=1)
        # Stop waitress's loop before closing what it selects on: a socket closed from here under its
        # select() raised EBADF in its thread. Emptied, its map ends the loop once the trigger wakes it.
        channels = list(server._map.values())
        server._map.clear()
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger()
        thread.join(5)
        for channel in channels:  # the listening server (which closes its trigger) and every connection
            channel.close()


@contextlib.contextmanager
def asyncio_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: list = []

    async def main() -> None:
        server = await asyncio.start_server(handle, HOST, 0)
        holder.append(server)
        ready.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield Server(holder[0].sockets[0].getsockname()[1], loop)
    finally:
        asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(5)
        thread.join(10)
        loop.close()


async def _cancel_all() -> None:
    """Cancel every task but this one (``serve_forever`` among them, which ends the server)."""
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.cancel()


async def read_request(reader: asyncio.StreamReader) -> str:
    """The request line and headers of one HTTP/1.1 request; returns the path."""
    head = await reader.readuntil(b"\r\n\r\n")
    return head.split(b" ", 2)[1].decode()


TRANSPORTS = ["asgi", "wsgi", "streams"]


@contextlib.contextmanager
def serve(kind: str) -> Iterator[Server]:
    """The scenario apps of ``sse_apps`` on a real server of the given kind."""
    from support import sse_apps

    if kind == "asgi":
        with uvicorn_server(sse_apps.asgi_app) as server:
            yield server
    elif kind == "wsgi":
        with waitress_server(sse_apps.wsgi_app, threads=16) as server:
            yield server
    else:
        with asyncio_server(sse_apps.streams_handler) as server:
            yield server


@contextlib.contextmanager
def run_aiohttp(app: Any) -> Iterator[Server]:
    """An ``aiohttp.web.Application`` on its own loop in a thread, through ``AppRunner`` + ``TCPSite``."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr,no-any-return]

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        yield Server(port, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()

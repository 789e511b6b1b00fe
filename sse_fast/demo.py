"""``python -m sse_fast demo``: a page that shows sse_fast streaming, served by uvicorn on sse_fast's ASGI writer.

Routes: ``/`` the page; ``/chat`` a chat-style answer, one JSON token per event with ids ``1..n``, then
``data: [DONE]``; ``/fast`` numbered events as fast as the browser takes them; ``/status`` ``retry:``, a
``hello`` event and a named ``heartbeat`` event every second. ``/chat`` and ``/status`` resume after the
``Last-Event-ID`` the browser sends when it reconnects, so restarting the server is seamless. An id the demo
never gives (``-5``, ``abc``, one ``sse_fast.resume`` finds unreadable) gets the broker's reset frame
(``id: 0``, ``event: reset``, ``data: {}``) and then the stream from its start. No network,
no model: the answer comes from the built-in token source below.

``/room`` is a chat room on a ``Broker``: ``POST /room/messages`` (``{"text": ...}``) publishes, every tab
following ``/room/events`` gets the message with its id; a reopened tab resumes from its last id, and after
a server restart (history gone) gets the reset frame and reloads its state. ``make_app(broker)`` builds the
whole app around one broker (in-process by default). Each room stream starts with a ``worker`` event (the
serving process's pid, no id): with ``--redis URL --workers N`` several processes share the room on Redis.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import os
import re
import socket
import sys
import time
from importlib import resources
from typing import Any, Optional, Tuple

import orjson

from ._compiled import IMPLEMENTATION
from .broker import Broker
from .event import Event
from .resume import from_scope
from .types import ASGIApp, Receive, Scope, Send

ANSWER = (
    "Server-Sent Events are a simple way for a server to push a stream of updates to a browser over one "
    'long HTTP response. The page opens an EventSource, the server writes frames like "data: hello" '
    "followed by a blank line, and each frame arrives as a message event. If the connection drops, the "
    "browser reconnects by itself and sends the id of the last event it saw, so the server can resume "
    "where it left off. sse_fast turns Python values into those frames with a compiled core."
)
TOKENS = re.findall(r"\s*[^\s]{1,6}", ANSWER)  # word pieces of up to six characters, as a model would stream
TOKEN_DELAY = 0.03  # seconds between chat tokens
FAST_BATCH = 200  # /fast events written between two pauses of the event loop
FAST_PAUSE = 0.002
HEARTBEAT = 1.0  # seconds between heartbeat events
RETRY_MS = 1000
MAX_ID_DIGITS = 18  # a longer number is no id the demo gave
RESET = Event(id="0", event="reset", data={})  # the broker's reset frame: resume from the start
STARTED = time.time()


def _resume_after(scope: Scope) -> Tuple[Optional[int], bool]:
    """The id after which a stream resumes (None: from the start) and whether the client sent an id the demo
    never gives. The id is read with ``sse_fast.resume`` (the library's validation); the demo's ids are
    ASCII decimal numbers from 1, so anything else (``-5``, ``abc``, an unreadable id) is unknown."""
    sent = from_scope(scope)
    if sent is None:
        return None, False
    if sent.isascii() and sent.isdecimal() and len(sent) <= MAX_ID_DIGITS:
        return int(sent), False
    return None, True


async def chat(writer: Any, last_id: int | None) -> None:
    """The answer, one token per event (id = its position from 1), then ``[DONE]``; resumes after ``last_id``."""
    await writer.set_retry(RETRY_MS)
    for i in range((last_id or 0) + 1, len(TOKENS) + 1):
        if writer.context.done:  # the server is shutting down
            return
        await writer.write_event_with_id(str(i), {"content": TOKENS[i - 1]})
        await asyncio.sleep(TOKEN_DELAY)
    await writer.write_done()


async def fast(writer: Any, last_id: int | None) -> None:
    """Numbered events in batches, until the client leaves or the server stops."""
    await writer.set_retry(RETRY_MS)
    n = last_id or 0
    while not writer.context.done:
        for _ in range(FAST_BATCH):
            n += 1
            await writer.write_event_with_id(str(n), n)
        await asyncio.sleep(FAST_PAUSE)


async def status(writer: Any, last_id: int | None) -> None:
    """``retry:``, a ``hello`` (encoder, start time, the Last-Event-ID received), then a heartbeat a second."""
    await writer.set_retry(RETRY_MS)
    hello = {"implementation": IMPLEMENTATION, "started": STARTED, "last_event_id": last_id}
    await writer.write_full_event(Event(event="hello", data=hello))
    seq = last_id or 0
    while not writer.context.done:
        seq += 1
        await writer.write_full_event(Event(id=str(seq), event="heartbeat", data={"seq": seq}))
        await asyncio.sleep(HEARTBEAT)


STREAMS = {"/chat": chat, "/fast": fast, "/status": status}


ROOM = "room"
MAX_MESSAGE = 64 * 1024  # bytes of a posted room message


def make_app(broker: Broker) -> ASGIApp:
    """The demo's ASGI app around ``broker``; its lifespan makes Ctrl-C end the open streams first."""
    from . import ASGIResponse

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path in STREAMS:
            handler, (last_id, unknown) = STREAMS[path], _resume_after(scope)

            async def stream(writer: Any) -> None:
                if unknown:  # the documented reset, then the stream from its start
                    await writer.write_full_event(RESET)
                await handler(writer, last_id)

            await ASGIResponse(stream)(scope, receive, send)
        elif path == "/room/events":
            last = from_scope(scope)

            async def room(writer: Any) -> None:
                await writer.write_event_with_name("worker", {"pid": os.getpid()})  # no id: resuming is unchanged
                await broker.stream(writer, ROOM, last)

            await ASGIResponse(room, heartbeat=15)(scope, receive, send)
        elif path == "/room/messages" and scope["method"] == "POST":
            text = await _message(receive)
            if text is None:
                await _respond(send, 400, "text/plain; charset=utf-8", b'expected JSON {"text": "..."}\n')
            else:
                id = await broker.publish(ROOM, {"text": text})
                await _respond(send, 200, "application/json", orjson.dumps({"id": id}))
        elif path in PAGES:
            body = resources.files("sse_fast").joinpath(PAGES[path]).read_bytes()
            await _respond(send, 200, "text/html; charset=utf-8", body)
        else:
            await _respond(send, 404, "text/plain; charset=utf-8", b"not found\n")

    return app


PAGES = {"/": "demo.html", "/index.html": "demo.html", "/room": "room.html"}


async def _message(receive: Receive) -> Optional[str]:
    """The ``text`` of a posted ``{"text": ...}`` body, or None if it is not one (or too big)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_MESSAGE:
            return None
        if not message.get("more_body"):
            break
    try:
        text = orjson.loads(body).get("text")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return text if isinstance(text, str) else None


app: ASGIApp = make_app(Broker())


REDIS_ENV = "SSE_FAST_DEMO_REDIS"


def redis_app() -> Any:
    """The app of one worker of ``demo --redis URL --workers N``: the room on the Redis of ``REDIS_ENV``."""
    return make_app(Broker(os.environ[REDIS_ENV]))


async def _lifespan(receive: Receive, send: Send) -> None:
    from . import shutdown_on_signals

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            shutdown_on_signals(grace=1.0)  # uvicorn's own handlers are in place by now: chain in front
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    broker: Optional[Broker] = None,
    redis: Optional[str] = None,
    workers: int = 1,
) -> int:
    """Serve the demo (its room on ``broker``, in-process by default, or on the Redis at ``redis``) until
    Ctrl-C, in ``workers`` processes (more than one needs ``redis``); prints the address (port 0 picks a
    free one)."""
    try:
        import uvicorn
    except ImportError:
        from .integrations._missing import install_hint

        print(f"the demo needs uvicorn: {install_hint('demo')}", file=sys.stderr)
        return 1
    if workers > 1 and redis is None:
        print("--workers needs --redis URL: the processes share the room through Redis")
        return 2
    if redis is not None:
        from .broker.redis import check_url, safe_url
        from .errors import InvalidBrokerURL

        try:
            os.environ[REDIS_ENV] = check_url(redis)
        except InvalidBrokerURL as error:
            print(error)
            return 2
        broker = Broker(redis) if workers == 1 else None  # with several, each worker makes its own
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            print(
                f"port {port} on {host} is busy (another server listens there): choose another with --port,"
                f" e.g. python -m sse_fast demo --port {port + 1 if port else 8001} (--port 0 picks a free one)",
                file=sys.stderr,
            )
        else:
            print(f"cannot listen on {host} port {port}: {error.strerror}; choose --host / --port", file=sys.stderr)
        return 2
    shown = f"[{host}]" if ":" in host else host
    served = app if broker is None else make_app(broker)
    options: Any = dict(lifespan="on", log_level="warning", timeout_graceful_shutdown=3)
    print(f"sse_fast demo (encoder: {IMPLEMENTATION}) on http://{shown}:{sock.getsockname()[1]}/", flush=True)
    if redis is not None:
        print(f"room on Redis at {safe_url(redis)}, {workers} worker process(es)", flush=True)
    print("Open it in a browser; Ctrl-C stops the server.", flush=True)
    try:
        if workers > 1:
            config = uvicorn.Config("sse_fast.demo:redis_app", factory=True, workers=workers, **options)
            _multiprocess(config, sock)
        else:
            uvicorn.Server(uvicorn.Config(served, **options)).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn hands the Ctrl-C back once it has stopped: that is the clean end
        pass
    print("sse_fast demo stopped.", flush=True)
    return 0


def _multiprocess(config: Any, sock: socket.socket) -> None:
    """uvicorn's worker supervisor on ``sock`` (its signature changed in uvicorn 0.30)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    supervisor: Any = Multiprocess
    if "target" in inspect.signature(supervisor).parameters:  # pragma: no cover - uvicorn < 0.30
        supervisor(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        supervisor(config, sockets=[sock]).run()

"""The same stream scenarios on every transport: an ASGI app, a WSGI app and an asyncio-streams handler.

Each scenario is a path; its handler writes through the writer and reports what the server side saw
(cancellation, the context's reason, queue sizes) into ``PROBE`` for the test to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, Callable, Dict, List

import sse_fast
from sse_fast import ClientDisconnected, Event
from support.integration_common import fails, fails_late, fails_late_sync, fails_sync
from support.servers import read_request
from support.wire_table import TABLE

STREAM_ITEMS = [1, "two", Event(event="e", data="raw"), {"k": [3]}]
STREAM_BYTES = b'data: 1\n\ndata: "two"\n\nevent: e\ndata: raw\n\ndata: {"k":[3]}\n\ndata: [DONE]\n\n'
FUNC_ERROR_BYTES = b'data: 1\n\ndata: 2\n\nevent: error\ndata: {"error":"upstream failed"}\n\n'
FUNC_DONE_BYTES = b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"
FRAMES = [
    sse_fast.encode_json({"a": 1}, id="7"),
    sse_fast.Event(event="e", data="two\nlines").encode(),
    bytearray(b": already encoded\n\n"),
]
FRAME_BYTES = b'id: 7\ndata: {"a":1}\n\nevent: e\ndata: two\ndata: lines\n\n: already encoded\n\n'
BIG = "x" * 65536
FROZEN_TIMEOUT = 0.5
FAREWELL = b'event: bye\ndata: {"reason":"shutdown"}\n\n'  # what /farewell sends on shutdown
MAX_BUFFERED = 256 * 1024


class Probe:
    """What the server side saw, by key; tests wait on a key with ``get``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: Dict[str, List[Any]] = {}

    def put(self, key: str, value: Any) -> None:
        with self._cond:
            self._values.setdefault(key, []).append(value)
            self._cond.notify_all()

    def get(self, key: str, timeout: float = 10.0) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._values, timeout):
                raise AssertionError(f"the server never reported {key!r} within {timeout} s")
            return self._values[key][-1]

    def all(self, key: str) -> List[Any]:
        with self._cond:
            return list(self._values.get(key, []))

    def clear(self) -> None:
        with self._cond:
            self._values.clear()


PROBE = Probe()


def refused(key: str, exc: ClientDisconnected) -> None:
    """Report what a refused write raised under ``key + ":error"``: its class, reason and message."""
    PROBE.put(key + ":error", (type(exc).__name__, exc.reason, str(exc)))


# -- async handlers (ASGI and asyncio streams) ------------------------------------------------------


async def a_methods(w: sse_fast.AsyncWriter) -> None:
    for name, args, _ in TABLE:
        await getattr(w, name)(*args)


async def a_frame(w: sse_fast.AsyncWriter) -> None:
    for frame in FRAMES:
        await w.write_frame(frame)
    try:
        await w.write_frame("text")  # type: ignore[arg-type]
    except TypeError as exc:  # an InvalidType, caught as the TypeError it also is
        PROBE.put("frame", (type(exc).__name__, str(exc)))


async def a_stream(w: sse_fast.AsyncWriter) -> None:
    async def agen() -> Any:
        for item in STREAM_ITEMS:
            yield item

    await w.stream(agen)


async def a_stream_sync_iterable(w: sse_fast.AsyncWriter) -> None:
    await w.stream(STREAM_ITEMS)


async def a_func_error(w: sse_fast.AsyncWriter) -> None:
    data: asyncio.Queue = asyncio.Queue()
    errors: asyncio.Queue = asyncio.Queue()
    for item in (1, 2):
        data.put_nowait(item)

    async def fail_later() -> None:
        await asyncio.sleep(0.1)
        errors.put_nowait(RuntimeError("upstream failed"))
        data.put_nowait(3)  # never written: the error ended the stream

    task = asyncio.ensure_future(fail_later())
    await w.stream_func(data, errors)
    await task


async def a_func_done(w: sse_fast.AsyncWriter) -> None:
    data: asyncio.Queue = asyncio.Queue()
    for item in (1, 2, None):
        data.put_nowait(item)
    await w.stream_func(data, asyncio.Queue())


async def a_heartbeat(w: sse_fast.AsyncWriter) -> None:
    stop = w.start_heartbeat(0.2)
    await asyncio.sleep(0.5)  # idle: heartbeats
    await w.write_raw_event("busy")
    for i in range(12):  # busy: a write every 0.05 s, so no heartbeat
        await w.write_event(i)
        await asyncio.sleep(0.05)
    stop()
    stop()
    await asyncio.sleep(0.5)  # stopped: no heartbeat
    await w.write_done()


async def a_hold(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    try:
        await w.context.run(asyncio.sleep(30))
    except ClientDisconnected:
        PROBE.put("hold", (time.monotonic(), w.context.reason, "context"))
        raise
    except asyncio.CancelledError:
        PROBE.put("hold", (time.monotonic(), w.context.reason, "cancelled"))
        raise


async def a_idle(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    await asyncio.sleep(30)  # no task of its own: what an idle stream holds is the writer's


async def a_frozen(w: sse_fast.AsyncWriter) -> None:
    written = 0
    try:
        for _ in range(2048):  # 128 MiB if nothing ever pushed back
            await w.write_raw_event(BIG)
            written += len(BIG)
    except ClientDisconnected as exc:
        PROBE.put("frozen", (w.context.reason, written, str(exc)))
        refused("frozen", exc)
    else:  # the server took it all: it buffers instead of pushing back
        PROBE.put("frozen", ("never pushed back", written, ""))


async def a_farewell(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("hello")
    reason = await w.context.wait()
    if reason == "shutdown":
        await w.write_event_with_name("bye", {"reason": reason})


async def a_stubborn(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("hello")
    try:
        await asyncio.sleep(30)  # ignores the context: shutdown has to cancel it
    except asyncio.CancelledError:
        PROBE.put("stubborn", w.context.reason)
        raise


async def a_late(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    await w.context.wait()
    started = time.monotonic()
    try:
        await w.write_raw_event("too late")
    except ClientDisconnected as exc:
        PROBE.put("late", (type(exc).__name__, w.context.reason, time.monotonic() - started))
        refused("late", exc)


async def a_closed(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    await w.close()
    try:
        await w.write_raw_event("after close")
    except ClientDisconnected as exc:
        refused("closed", exc)


async def a_aborted(w: sse_fast.AsyncWriter) -> None:
    await w.write_raw_event("first")
    await w.flush()
    w.abort("slow")  # as the broker drops a subscriber that fell behind
    try:
        await w.write_raw_event("after abort")
    except ClientDisconnected as exc:
        refused("aborted", exc)


ASYNC: Dict[str, Callable[..., Any]] = {
    "/methods": a_methods,
    "/frame": a_frame,
    "/stream": a_stream,
    "/stream_sync": a_stream_sync_iterable,
    "/func_error": a_func_error,
    "/func_done": a_func_done,
    "/heartbeat": a_heartbeat,
    "/hold": a_hold,
    "/idle": a_idle,
    "/frozen": a_frozen,
    "/farewell": a_farewell,
    "/stubborn": a_stubborn,
    "/late": a_late,
    "/closed": a_closed,
    "/aborted": a_aborted,
    "/fails": fails,
    "/fails_late": fails_late,
}
OPTIONS: Dict[str, Dict[str, Any]] = {"/frozen": {"send_timeout": FROZEN_TIMEOUT}}


async def asgi_app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    """Each scenario through ``ASGIResponse``; ``/direct`` through ``new_writer`` by hand."""
    path = scope["path"]
    if path == "/direct":
        writer, ctx = await sse_fast.new_writer(scope, receive, send, headers={"X-App": "1"})
        async with writer:
            await a_methods(writer)
        PROBE.put("direct", ctx.reason)
        return
    if path == "/late":  # no owner task: the handler itself sees what a late write does
        writer, ctx = await sse_fast.new_writer(scope, receive, send)
        async with writer:
            await a_late(writer)
        return
    if path == "/started_twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await sse_fast.new_writer(scope, receive, send)
        except sse_fast.HTTPTransportFailed as exc:
            PROBE.put("started_twice", str(exc))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await sse_fast.ASGIResponse(ASYNC[path], **OPTIONS.get(path, {}))(scope, receive, send)


async def streams_handler(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
    """Each scenario on a bare asyncio connection, the way a user's server would run it."""
    path = await read_request(reader)
    if path == "/direct":
        writer, ctx = await sse_fast.new_writer(reader, stream, headers={"X-App": "1"})
        async with writer:
            await a_methods(writer)
        PROBE.put("direct", ctx.reason)
        return
    writer, ctx = await sse_fast.new_writer(reader, stream, **OPTIONS.get(path, {}))
    if path != "/late":
        with contextlib.suppress(ClientDisconnected):
            await writer.run(ASYNC[path])  # cancelled when the client goes
        return
    try:  # a handler that is not cancelled: it sees the client leave at its next write
        await ASYNC[path](writer)
    except ClientDisconnected:
        pass
    finally:
        await writer.close()


# -- sync handlers (WSGI) ---------------------------------------------------------------------------


def s_methods(w: sse_fast.Writer) -> None:
    for name, args, _ in TABLE:
        getattr(w, name)(*args)


def s_frame(w: sse_fast.Writer) -> None:
    for frame in FRAMES:
        w.write_frame(frame)
    try:
        w.write_frame("text")  # type: ignore[arg-type]
    except TypeError as exc:  # an InvalidType, caught as the TypeError it also is
        PROBE.put("frame", (type(exc).__name__, str(exc)))


def s_stream(w: sse_fast.Writer) -> None:
    w.stream(lambda: iter(STREAM_ITEMS))


def s_stream_sync_iterable(w: sse_fast.Writer) -> None:
    w.stream(STREAM_ITEMS)


def s_func_error(w: sse_fast.Writer) -> None:
    import queue

    data: queue.Queue = queue.Queue()
    errors: queue.Queue = queue.Queue()
    for item in (1, 2):
        data.put(item)

    def fail_later() -> None:
        time.sleep(0.2)
        errors.put(RuntimeError("upstream failed"))
        data.put(3)

    threading.Thread(target=fail_later, daemon=True).start()
    w.stream_func(data, errors)


def s_func_done(w: sse_fast.Writer) -> None:
    w.stream_func(iter([1, 2]))


def s_heartbeat(w: sse_fast.Writer) -> None:
    stop = w.start_heartbeat(0.2)
    time.sleep(0.5)
    w.write_raw_event("busy")
    for i in range(12):
        w.write_event(i)
        time.sleep(0.05)
    stop()
    stop()
    time.sleep(0.5)
    w.write_done()


def s_hold(w: sse_fast.Writer) -> None:
    w.write_raw_event("first")
    try:
        while True:  # a sync handler learns that the client left from its next write
            w.context.wait_sync(0.05)
            w.write_comment("tick")
    except ClientDisconnected:
        PROBE.put("hold", (time.monotonic(), w.context.reason, "write raised"))


def s_frozen(w: sse_fast.Writer) -> None:
    written = 0
    peak = 0
    try:
        for _ in range(2048):
            w.write_raw_event(BIG)
            written += len(BIG)
            peak = max(peak, w.sink.buffered)
    except ClientDisconnected as exc:
        PROBE.put("frozen", (w.context.reason, written, str(exc)))
        refused("frozen", exc)
        PROBE.put("frozen_peak", peak)
    else:
        PROBE.put("frozen", ("never pushed back", written, ""))


def s_farewell(w: sse_fast.Writer) -> None:
    w.write_raw_event("hello")
    w.context.wait_sync()
    if w.context.reason == "shutdown":
        w.write_event_with_name("bye", {"reason": w.context.reason})


def s_stubborn(w: sse_fast.Writer) -> None:
    w.write_raw_event("hello")
    try:
        while True:  # ignores the context; only a failing write stops it
            time.sleep(0.05)
            w.write_comment("still here")
    except ClientDisconnected:
        PROBE.put("stubborn", w.context.reason)


def s_late(w: sse_fast.Writer) -> None:
    w.write_raw_event("first")
    w.context.wait_sync()
    started = time.monotonic()
    try:
        w.write_raw_event("too late")
    except ClientDisconnected as exc:
        PROBE.put("late", (type(exc).__name__, w.context.reason, time.monotonic() - started))
        refused("late", exc)


def s_closed(w: sse_fast.Writer) -> None:
    w.write_raw_event("first")
    w.close()
    try:
        w.write_raw_event("after close")
    except ClientDisconnected as exc:
        refused("closed", exc)


def s_aborted(w: sse_fast.Writer) -> None:
    w.write_raw_event("first")
    w.abort("slow")
    try:
        w.write_raw_event("after abort")
    except ClientDisconnected as exc:
        refused("aborted", exc)


SYNC: Dict[str, Callable[..., Any]] = {
    "/methods": s_methods,
    "/frame": s_frame,
    "/stream": s_stream,
    "/stream_sync": s_stream_sync_iterable,
    "/func_error": s_func_error,
    "/func_done": s_func_done,
    "/heartbeat": s_heartbeat,
    "/hold": s_hold,
    "/frozen": s_frozen,
    "/farewell": s_farewell,
    "/stubborn": s_stubborn,
    "/late": s_late,
    "/closed": s_closed,
    "/aborted": s_aborted,
    "/fails": fails_sync,
    "/fails_late": fails_late_sync,
}


def wsgi_app(environ: Dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    if path == "/direct":
        writer, ctx = sse_fast.new_writer(environ, start_response, headers={"X-App": "1"})

        def produce() -> None:
            with writer:
                s_methods(writer)
            PROBE.put("direct", ctx.reason)

        threading.Thread(target=produce, daemon=True).start()
        return writer.sink
    options = dict(OPTIONS.get(path, {}))
    if path == "/frozen":
        options["max_buffered"] = MAX_BUFFERED
    return sse_fast.WSGIResponse(SYNC[path], **options)(environ, start_response)

"""``Writer`` (threads, WSGI) and ``AsyncWriter`` (asyncio, ASGI): one method set over a transport's sink.

Each method encodes its frame first (so a refused value raises with nothing written), then queues the
bytes with ``_send``; ``write_frame`` queues bytes that are already encoded. Frames queued while the
transport is busy go out together in its next write, and every transport write is bounded by
``send_timeout``.

A sink is what a transport gives the writer: ``send(data)`` (a coroutine for ``AsyncWriter``;
``send(data, timeout)`` for ``Writer``), ``end()`` to finish the body normally and ``abort()`` to drop
a connection that stopped reading. Transports report a client that left with ``writer.lost(reason)``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import queue
import threading
import time
from typing import (
    Any,
    AsyncIterable,
    Awaitable,
    Callable,
    ContextManager,
    Generic,
    Iterable,
    List,
    Optional,
    TypeVar,
    Union,
)

from . import registry as _registry
from .context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT, Flag, StreamContext, ended
from .encoder import encode, encode_comment, encode_json, encode_retry
from .errors import ClientDisconnected, InvalidType, SSEError
from .event import Event

R = TypeVar("R")
Default = Optional[Callable[[Any], Any]]

DONE = encode("[DONE]")
HEARTBEAT = encode_comment("heartbeat")
DEFAULT_SEND_TIMEOUT = 30.0
HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport
IS_CLOSED = "cannot write: the stream was closed on the server side"
LEFT = "cannot write: the client left"


_ONE_THREAD = contextlib.nullcontext()  # an AsyncWriter is used on its loop's thread only


class _Stream(Generic[R]):
    """The method set and the state both writers share; they differ in how ``_send`` reaches the sink."""

    _state: ContextManager[Any]  # guards the close state: a lock where other threads can reach it

    def __init__(
        self, sink: Any, context: Optional[StreamContext], send_timeout: Optional[float], default: Default
    ) -> None:
        self.sink = sink
        self.context = context if context is not None else StreamContext()
        self.send_timeout = send_timeout
        self._default = default
        self._closed = False
        self._reason = CLOSED  # why it closed, and what the next write is told
        self._why = IS_CLOSED
        self._cause: Optional[BaseException] = None
        self._dropped = False  # closed with what was queued thrown away: the client cannot get it
        self.closed_event = Flag()  # set once closed, for threads that wait on it
        self.finished = Flag()  # set once the body is ended, or the client is gone
        self._body_over = False  # the body was ended or the connection dropped
        self._last_write = time.monotonic()
        self._stops: List[Callable[[], None]] = []
        _registry.register(self)

    # -- the method set: each builds one frame and sends it -------------------------------------------

    def write_event(self, data: Any) -> R:
        """``data: <json>``."""
        return self._send(encode_json(data, default=self._default))

    def write_event_with_name(self, name: str, data: Any) -> R:
        """``event: <name>`` then ``data: <json>``."""
        return self._send(encode_json(data, event=name, default=self._default))

    def write_event_with_id(self, id: str, data: Any) -> R:
        """``id: <id>`` then ``data: <json>``."""
        return self._send(encode_json(data, id=id, default=self._default))

    def write_full_event(self, event: Event) -> R:
        """An ``Event`` with all its fields (text data as it is, other data as JSON)."""
        return self._send(event.encode(self._default))

    def write_raw_event(self, text: Union[str, bytes]) -> R:
        """``data: <text>`` with no JSON; each line of ``text`` is its own ``data:`` line."""
        return self._send(encode(text))

    def write_done(self) -> R:
        """``data: [DONE]``."""
        return self._send(DONE)

    def write_error(self, err: BaseException) -> R:
        """``event: error`` then ``data: {"error": str(err)}``."""
        return self._send(encode_json({"error": str(err)}, event="error"))

    def write_comment(self, text: Union[str, bytes]) -> R:
        """``: <text>``, ignored by browsers; keeps proxies from timing the stream out."""
        return self._send(encode_comment(text))

    def set_retry(self, ms: int) -> R:
        """``retry: <ms>``: how long the browser waits before reconnecting."""
        return self._send(encode_retry(ms))

    def write_frame(self, frame: bytes) -> R:
        """Already-encoded bytes, written as they are: what ``encode*``, ``Event.encode`` or
        ``FrameBuffer.take`` returned (one frame or several). Nothing is checked but the type."""
        if type(frame) is not bytes:
            if not isinstance(frame, (bytes, bytearray, memoryview)):
                raise InvalidType(f"write_frame() takes bytes, got {type(frame).__name__}")
            frame = bytes(frame)
        return self._send(frame)

    def _send(self, frame: bytes) -> R:
        raise NotImplementedError

    # -- shared state ---------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once nothing more can be written."""
        return self._closed

    def _refusal(self) -> ClientDisconnected:
        """What a write raises once the stream is closed."""
        exc = ended(self._reason, self._why)
        exc.__cause__ = self._cause
        return exc

    def _mark_closed(self, reason: str, why: str = IS_CLOSED, cause: Optional[BaseException] = None) -> bool:
        """Close for good (what is queued stays queued); False if it was already closed."""
        self.context.finish(reason)
        with self._state:
            if self._closed:
                return False
            self._closed = True
            self._reason, self._why, self._cause = reason, why, cause
            self.closed_event.set()
            stops, self._stops = self._stops, []
        for stop in stops:
            stop()
        _registry.unregister(self)
        return True

    def _claim_body_end(self) -> bool:
        """True for the one caller that gets to end the body (or drop the connection)."""
        with self._state:
            if self._body_over:
                return False
            self._body_over = True
            return True

    def _drop(self, reason: str, why: str = IS_CLOSED, cause: Optional[BaseException] = None) -> None:
        """Close without sending what is queued. After a send timeout the connection is dropped too: it
        cannot take more, and a body it cannot read must not be ended as if it were complete."""
        self._mark_closed(reason, why, cause)
        self._dropped = True
        self._discard_pending()
        if reason == SEND_TIMEOUT and self._claim_body_end():
            self.sink.abort()
        self.finished.set()  # nothing more can reach this client

    def _discard_pending(self) -> None:
        """Throw away the frames not yet handed to the transport."""
        raise NotImplementedError

    def lost(
        self, reason: str = CLIENT_DISCONNECTED, why: str = LEFT, cause: Optional[BaseException] = None
    ) -> None:
        """The transport says the client is gone (or stopped reading): close, and stop the owner.

        What is still queued is dropped; after ``"send_timeout"`` the connection is dropped without ending
        the body. ``why`` is the message of the ``ClientDisconnected`` the next write raises.
        """
        if self._dropped:
            return
        self._drop(reason, why, cause)
        self._on_lost()

    def abort(self, reason: str = CLOSED) -> None:
        """Stop at once without ending the body: what is queued is thrown away, the writer is closed with
        ``reason`` and the connection dropped, so the client can tell that the stream broke. (Under WSGI
        the body iterator just stops, and the server ends the body as usual.)"""
        self._drop(reason)
        if self._claim_body_end():
            self.sink.abort()

    def _on_lost(self) -> None:
        """Hook for work a writer must stop when its client is gone."""

    def _idle_for(self) -> float:
        return time.monotonic() - self._last_write


def _item_writer(writer: _Stream[R], item: Any) -> R:
    if isinstance(item, Event):
        return writer.write_full_event(item)
    return writer.write_event(item)


class AsyncWriter(_Stream[Awaitable[None]]):
    """The writer for asyncio transports (ASGI, asyncio streams): every method is awaited.

    A write queues its frame and returns at once while fewer than ``high_water`` bytes are queued; a
    sender task hands everything queued to the transport in one write as soon as the event loop runs it.
    A burst thus goes out in few large writes, and a frame written before the handler awaits anything
    else leaves on the loop's next turn. A write that finds ``high_water`` bytes queued waits until the
    sender takes them (backpressure). When a transport write fails or outlasts ``send_timeout``, the
    stream is closed with that reason and the next write raises ``ClientDisconnected`` (``SendTimedOut``
    for the timeout); ``close()`` sends what is queued, then ends the body, and a write after it raises
    ``StreamClosed``. Use the writer on its event loop's thread; from other threads,
    ``close_threadsafe()``.
    """

    high_water = HIGH_WATER

    def __init__(
        self,
        sink: Any,
        context: Optional[StreamContext] = None,
        *,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        default: Default = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._state = _ONE_THREAD
        self._pending: List[bytes] = []  # frames for the sender's next transport write
        self._pending_size = 0
        self._sender: Optional[asyncio.Task[None]] = None  # the task handing the queue to the transport
        self._send_started: Optional[float] = None  # loop time the sender's transport write began
        self._watchdog: Optional[asyncio.TimerHandle] = None  # checks that write against send_timeout
        self._room: List[asyncio.Future[None]] = []  # writes waiting for the sender to take the queue
        self._ended: Optional[asyncio.Future[None]] = None  # done once close() has ended the body
        self.owner: Optional[asyncio.Task[Any]] = None  # a handler task to cancel when the client goes
        super().__init__(sink, context, send_timeout, default)

    @property
    def buffered(self) -> int:
        """Bytes written and not yet handed to the transport."""
        return self._pending_size

    def offer(self, frame: bytes, limit: int, start: bool = True) -> bool:
        """Queue already-encoded bytes without waiting (call on the writer's loop); ``start=False`` leaves
        the sender for a later ``kick()``, so frames offered meanwhile leave in the same transport write.

        False, and nothing queued, when the writer is closed or ``buffered + len(frame)`` would pass ``limit``.
        """
        if self._closed or self._pending_size + len(frame) > limit:
            return False
        self._queue(frame, start)
        return True

    def kick(self) -> None:
        """Start the sender for what ``offer(start=False)`` queued (nothing if it runs already)."""
        if self._pending and self._sender is None and not self._dropped:
            self._sender = self._loop.create_task(self._drain())

    def _queue(self, frame: bytes, start: bool = True) -> None:
        self._pending.append(frame)
        self._pending_size += len(frame)
        self._last_write = time.monotonic()
        if start and self._sender is None:
            self.kick()

    async def _send(self, frame: bytes) -> None:
        if self._closed:
            raise self._refusal()
        self._queue(frame)
        if self._pending_size >= self.high_water:
            room = self._loop.create_future()
            self._room.append(room)
            try:
                await room
            finally:
                if room in self._room:  # this write was cancelled while it waited
                    self._room.remove(room)
            if self._dropped:
                raise self._refusal()

    async def _drain(self) -> None:
        """The sender: one transport write of everything queued, again while more is queued meanwhile."""
        try:
            while self._pending and not self._dropped:
                data = b"".join(self._pending)
                self._pending.clear()
                self._pending_size = 0
                self._wake_writers()
                await self._write(data)
        finally:
            self._sender = None

    async def _write(self, data: bytes) -> None:
        self._send_started = self._loop.time()
        if self._watchdog is None and self.send_timeout is not None:
            self._watchdog = self._loop.call_later(self.send_timeout, self._watch_send)
        try:
            await self.sink.send(data)
        except asyncio.CancelledError:
            if not self._dropped:  # cancelled from outside: a half-finished write leaves it unusable
                self._drop(CLOSED)
                raise
        except (OSError, ClientDisconnected) as exc:
            self.lost(CLIENT_DISCONNECTED, f"the client left ({exc})", exc)
        except Exception as exc:  # the transport broke: the stream cannot go on, the next write says why
            self.lost(CLIENT_DISCONNECTED, f"the transport failed ({type(exc).__name__}: {exc})", exc)
        finally:
            self._send_started = None

    def _watch_send(self) -> None:
        """The ``send_timeout`` bound: one timer per writer, armed again only while a send is in flight
        (so its deadline is that send's start plus ``send_timeout``), instead of a timer for every send."""
        self._watchdog = None
        started = self._send_started
        if started is None or self._dropped or self.send_timeout is None:
            return
        deadline = started + self.send_timeout
        if self._loop.time() < deadline:
            self._watchdog = self._loop.call_at(deadline, self._watch_send)
            return
        self.lost(SEND_TIMEOUT, f"the client read nothing for {self.send_timeout} s")

    def _wake_writers(self) -> None:
        room, self._room = self._room, []
        for waiter in room:
            if not waiter.done():
                waiter.set_result(None)

    def _discard_pending(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        self._wake_writers()
        self._stop_watchdog()
        sender = self._sender
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()  # its write can no longer reach the client

    def _on_lost(self) -> None:
        owner = self.owner
        if owner is not None and not owner.done():
            self._loop.call_soon(owner.cancel)  # after the writes woken by the drop have seen why

    async def flush(self) -> None:
        """Wait until everything written so far has been handed to the transport.

        Raises ``ClientDisconnected`` if the stream was dropped instead (the client left, a send timed out).
        """
        while not self._dropped:
            self.kick()
            if self._sender is None:  # nothing queued
                return
            await asyncio.wait({self._sender})
        raise self._refusal()

    async def close(self) -> None:
        """Send what is queued, then end the body; the context is done with reason ``"closed"`` (unless it
        already had one). A second call waits for the first."""
        self._mark_closed(CLOSED)
        if self._ended is not None:
            await asyncio.wait({self._ended})
            return
        self._ended = self._loop.create_future()
        try:
            with contextlib.suppress(ClientDisconnected):
                await self.flush()
            if self._claim_body_end():
                try:
                    await asyncio.wait_for(self.sink.end(), self.send_timeout)
                except (asyncio.TimeoutError, OSError, ClientDisconnected):
                    self.sink.abort()
        finally:
            self._stop_watchdog()
            self._ended.set_result(None)
            self.finished.set()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()  # drops its reference to this writer at once
            self._watchdog = None

    def close_threadsafe(self) -> "concurrent.futures.Future[None]":
        """From any thread: cancel the owner task, then close on the writer's loop. A writer whose loop is
        already closed (its server stopped without ending it) can send nothing more: it is marked closed."""
        if self._loop.is_closed():
            self._mark_closed(CLOSED)
            self.finished.set()
            gone: concurrent.futures.Future[None] = concurrent.futures.Future()
            gone.set_result(None)
            return gone

        async def cancel_and_close() -> None:
            owner = self.owner
            if owner is not None and not owner.done() and owner is not asyncio.current_task():
                owner.cancel()
            await self.close()

        return asyncio.run_coroutine_threadsafe(cancel_and_close(), self._loop)

    async def __aenter__(self) -> AsyncWriter:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def start_heartbeat(self, interval: float = 15.0) -> Callable[[], None]:
        """Write ``: heartbeat`` after ``interval`` seconds without a write; returns an idempotent stop.

        One self-rearming timer, no task. A heartbeat never waits: when 64 KiB are still queued the client
        is behind and gets none (``send_timeout`` watches such a client).
        """
        if self._closed:
            return lambda: None
        timer: List[asyncio.TimerHandle] = []

        def beat() -> None:
            wait = interval - self._idle_for()
            if wait <= 0:
                if self._closed:
                    return
                if self._pending_size < self.high_water:
                    self._queue(HEARTBEAT)
                wait = interval
            timer[:] = [self._loop.call_later(wait, beat)]

        def cancel() -> None:
            for handle in timer:
                handle.cancel()
            timer.clear()

        def stop() -> None:
            if not self._loop.is_closed():  # a closed loop runs no timer
                self._loop.call_soon_threadsafe(cancel)

        self._stops.append(stop)
        timer.append(self._loop.call_later(interval, beat))
        return stop

    async def stream(self, source: Any) -> None:
        """Write every item of a sync or async iterable (or of what a callable returns), then ``[DONE]``.

        An ``Event`` item is written whole; any other item as JSON.
        """
        if callable(source) and not _is_iterable(source):
            source = source()
            if inspect.isawaitable(source):
                source = await source
        if isinstance(source, AsyncIterable):
            async for item in source:
                await _item_writer(self, item)
        else:
            for item in source:
                await _item_writer(self, item)
        await self.write_done()

    async def stream_func(
        self,
        data: Union[AsyncIterable[Any], "asyncio.Queue[Any]"],
        errors: Optional["asyncio.Queue[BaseException]"] = None,
    ) -> None:
        """Write what ``data`` yields until it ends (``[DONE]``) or ``errors`` yields one (``event: error``).

        ``data`` is an async iterable or an ``asyncio.Queue`` ended by a ``None`` item.
        """
        if isinstance(data, asyncio.Queue):
            items: Any = _queue_items(data)
        else:
            items = data.__aiter__()
        next_item: Optional[asyncio.Future[Any]] = None
        next_error: Optional[asyncio.Future[Any]] = asyncio.ensure_future(errors.get()) if errors else None
        try:
            while True:
                next_item = asyncio.ensure_future(items.__anext__())
                waiting = {next_item} if next_error is None else {next_item, next_error}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if next_error is not None and next_error.done():  # an error ends the stream at once
                    await self.write_error(next_error.result())
                    return
                try:
                    item = next_item.result()
                except StopAsyncIteration:
                    await self.write_done()
                    return
                await _item_writer(self, item)
        finally:
            for fut in (next_item, next_error):
                if fut is not None and not fut.done():
                    fut.cancel()


async def _queue_items(q: "asyncio.Queue[Any]") -> Any:
    while True:
        item = await q.get()
        if item is None:
            return
        yield item


def _is_iterable(obj: Any) -> bool:
    return isinstance(obj, (Iterable, AsyncIterable))


class Writer(_Stream[None]):
    """The writer for threads (WSGI): every method blocks until its frame is handed to the transport.

    Safe to share between threads: writes are serialised and never interleave.
    """

    def __init__(
        self,
        sink: Any,
        context: Optional[StreamContext] = None,
        *,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        default: Default = None,
    ) -> None:
        self._state = threading.Lock()  # the handler's thread, the heartbeat's and the server's meet here
        self._lock = threading.Lock()  # held for one transport write
        self._pending = bytearray()  # frames waiting for the next transport write
        self._batch = 0  # number of the batch that `_pending` will go out in
        self._sent = 0  # batches written to the transport so far
        super().__init__(sink, context, send_timeout, default)

    def _send(self, frame: bytes) -> None:
        batch = self._enqueue(frame)
        with self._lock:
            data = self._take(batch)
            if data is None:
                return
            try:
                self.sink.send(data, self.send_timeout)
            except TimeoutError:
                self.lost(SEND_TIMEOUT, f"the client read nothing for {self.send_timeout} s")
                raise self._refusal() from None
            except (OSError, ClientDisconnected) as exc:
                self.lost(CLIENT_DISCONNECTED, f"the client left ({exc})", exc)
                raise self._refusal() from exc
            with self._state:
                self._sent = self._batch

    def _enqueue(self, frame: bytes) -> int:
        """Add ``frame`` to the pending batch; returns the batch's number."""
        with self._state:
            if self._closed:
                raise self._refusal()
            self._pending += frame
            self._last_write = time.monotonic()
            return self._batch

    def _take(self, batch: int) -> Optional[bytes]:
        """The pending bytes to write now, or None if ``batch`` already went out."""
        with self._state:
            if self._sent > batch:
                return None
            if self._closed:
                raise self._refusal()
            data = bytes(self._pending)
            self._pending.clear()
            self._batch += 1
            return data

    def _discard_pending(self) -> None:
        with self._state:
            self._pending.clear()

    def close(self) -> None:
        """End the stream: the body is finished and the context is done with reason ``"closed"``."""
        self._mark_closed(CLOSED)
        if not self._claim_body_end():
            return
        with self._lock:
            self.sink.end()
        self.finished.set()

    def close_threadsafe(self) -> "concurrent.futures.Future[None]":
        """Close from any thread (``close()`` already is thread-safe); returns a finished future."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            self.close()
            done.set_result(None)
        except Exception as exc:
            done.set_exception(exc)
        return done

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start_heartbeat(self, interval: float = 15.0) -> Callable[[], None]:
        """Write ``: heartbeat`` after ``interval`` seconds without a write (from a daemon thread).

        Returns an idempotent stop.
        """
        stopped = threading.Event()

        def beat() -> None:
            while not stopped.is_set():
                wait = interval - self._idle_for()
                if wait > 0:
                    stopped.wait(wait)
                    continue
                try:
                    self._send(HEARTBEAT)
                except SSEError:
                    return

        with self._state:
            if self._closed:
                return lambda: None
            self._stops.append(stopped.set)
        threading.Thread(target=beat, name="sse-heartbeat", daemon=True).start()
        return stopped.set

    def stream(self, source: Any) -> None:
        """Write every item of an iterable (or of what a callable returns), then ``[DONE]``.

        An ``Event`` item is written whole; any other item as JSON.
        """
        if callable(source) and not _is_iterable(source):
            source = source()
        for item in source:
            _item_writer(self, item)
        self.write_done()

    def stream_func(
        self,
        data: Union[Iterable[Any], "queue.Queue[Any]"],
        errors: Optional["queue.Queue[BaseException]"] = None,
        poll: float = 0.05,
    ) -> None:
        """Write what ``data`` yields until it ends (``[DONE]``) or ``errors`` yields one (``event: error``).

        ``data`` is an iterable or a ``queue.Queue`` ended by a ``None`` item; ``errors`` is checked
        between items and, while a queue is empty, every ``poll`` seconds.
        """
        take: Callable[[], Any]
        if isinstance(data, queue.Queue):
            take = functools.partial(_take_queued, data, poll)
        else:
            take = functools.partial(next, iter(data), _END)
        while True:
            item = take()
            if errors is not None:  # an error that is already there wins over the item
                try:
                    self.write_error(errors.get_nowait())
                    return
                except queue.Empty:
                    pass
            if item is _END:
                self.write_done()
                return
            if item is not _IDLE:
                _item_writer(self, item)


_END = object()
_IDLE = object()


def _take_queued(items: "queue.Queue[Any]", timeout: float) -> Any:
    """The next item of ``items`` (``_END`` for its ``None``), or ``_IDLE`` if none came within ``timeout``."""
    try:
        item = items.get(timeout=timeout)
    except queue.Empty:
        return _IDLE
    return _END if item is None else item

"""``AsyncWriter``: the writer for asyncio transports (ASGI, asyncio streams, aiohttp)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import time
from typing import TYPE_CHECKING, Any, AsyncIterable, Awaitable, Callable, Coroutine, Generator, Optional, Tuple, Union

from ..context import StreamContext
from ..errors import ClientDisconnected
from .base import DEFAULT_SEND_TIMEOUT, HEARTBEAT, BaseWriter, Default, Ended, State, is_iterable, write_item
from .sender import Sender, uncancel
from .sender import write as _write
from .sender import write_event as _write_event

_OPEN = State.OPEN
_NO_LOCK = contextlib.nullcontext()  # reentrant and reusable: one for every AsyncWriter
Handler = Callable[["AsyncWriter"], Any]


class AsyncWriter(BaseWriter[Coroutine[Any, Any, None]]):
    """The writer for asyncio transports (ASGI, asyncio streams): every method is awaited.

    A write that finds the writer idle hands its frame to the transport at once, from the caller's task (a
    paced stream costs no task per event). Writes that follow it in the same loop turn queue and return at
    once while fewer than 64 KiB are queued; a sender task hands everything queued to the transport in one
    write when the loop runs it, so a burst goes out in few large writes. A write that finds 64 KiB queued
    waits until the sender takes them (backpressure).
    When a transport write fails or outlasts ``send_timeout``, the stream is closed with that reason and the
    next write raises ``ClientDisconnected`` (``SendTimedOut`` for the timeout); ``close()`` sends what is
    queued, then ends the body, and a write after it raises ``StreamClosed``. Use the writer on its event
    loop's thread; from other threads, ``close_threadsafe()``.

    Every write returns a coroutine (typed so: a type checker reports one left unused); a write never awaited
    writes nothing and warns ``RuntimeWarning: coroutine ... was never awaited``, as any coroutine does.
    """

    __slots__ = ("_loop", "_sender", "_ended", "_owner", "_cancels")
    _lock = _NO_LOCK  # used on its loop's thread only

    def __init__(
        self,
        sink: Any,
        context: Optional[StreamContext] = None,
        *,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        default: Default = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._sender = Sender(self, self._loop, sink, send_timeout, default)
        self._ended: Optional[asyncio.Future[None]] = None  # done once close() has ended the body
        self._owner: Optional[asyncio.Task[Any]] = None  # the task running ``run``'s handler, while it does
        self._cancels = 0  # cancellations of it asked for here and not yet seen
        super().__init__(sink, context, send_timeout, default)

    @property
    def buffered(self) -> int:
        """Bytes written and not yet handed to the transport."""
        return self._sender.size

    def written(self) -> Tuple[int, int, int]:
        """``(frames, bytes, heartbeats)`` written so far (frames and bytes include the heartbeats)."""
        sender = self._sender
        return sender.frames, sender.written, sender.heartbeats

    def offer(self, frame: bytes, limit: int, start: bool = True) -> bool:
        """Queue already-encoded bytes without waiting (call on the writer's loop); ``start=False`` leaves
        them for a later ``send_queued()``, so frames offered meanwhile leave in the same transport write.

        False, and nothing queued, when the writer is closed or ``buffered + len(frame)`` would pass ``limit``.
        """
        if self.state is not _OPEN or self._sender.size + len(frame) > limit:
            return False
        self._sender.queue(frame, start)
        self._sender.last_write = time.monotonic()
        return True

    def send_queued(self) -> None:
        """Hand what ``offer(start=False)`` queued to the transport now, from the caller, when the transport
        takes it without waiting; else the sender task goes on with it (nothing if a send is under way: it
        takes the queue next)."""
        self._sender.send_now()

    def send_first(self, start: Callable[[], Awaitable[None]]) -> None:
        """Call ``start()`` (a transport's response start) now, from the sender, before anything written:
        bounded by ``send_timeout`` as every send, and a failure drops the stream as a failed send does.
        Call once, before the first write."""
        self._sender.send_first(start)

    def _discard_pending(self) -> None:
        self._sender.stop()

    def _over(self) -> None:
        self._sender._writer = Ended(self)  # the sender's link back: a write now raises the refusal from it

    async def flush(self) -> None:
        """Wait until everything written so far has been handed to the transport.

        Raises ``ClientDisconnected`` if the stream was dropped instead (the client left, a send timed out).
        """
        if not await self._sender.flush():
            raise self._refusal()

    async def close(self) -> None:
        """Send what is queued, then end the body; the context is done with reason ``"closed"`` (unless it
        already had one). After the client left, only the body is ended. A second call waits for the first."""
        await self._finish(None)

    async def _finish(self, error: Optional[BaseException]) -> None:
        """``close()``; with ``error`` (what the handler raised), the body is cut off instead of ended, after
        what was written went out: ``sink.break_off``, bounded by ``send_timeout`` as ``end`` is. (After the
        client left nobody can tell the two apart: the body is ended, to free the server's side.)"""
        self._closing(error)
        if self.state is State.LOST:
            error = None
        if self._ended is not None:
            await asyncio.wait({self._ended})
            return
        self._ended = self._loop.create_future()
        try:
            if self.state is State.CLOSING:
                await self._sender.flush()
            if self.state in (State.CLOSING, State.LOST):
                try:
                    await asyncio.wait_for(self.sink.end() if error is None else self.sink.break_off(error),
                                           self.send_timeout)  # fmt: skip
                except (asyncio.TimeoutError, OSError, ClientDisconnected):
                    self._move(State.DROPPED)
                    self.sink.abort()
                else:
                    self._move(State.ENDED if error is None else State.DROPPED)
        finally:
            self._sender.stop_watchdog()
            self._ended.set_result(None)
            if self.state is State.CLOSING:  # interrupted: nothing more reaches the client all the same
                self.finished.set()

    def close_threadsafe(self) -> "concurrent.futures.Future[None]":
        """From any thread: cancel the handler ``run`` started, then close on the writer's loop. A writer
        whose loop is already closed (its server stopped without ending it) can send nothing: it is dropped."""
        if self._loop.is_closed():
            self._move(State.DROPPED)
            gone: concurrent.futures.Future[None] = concurrent.futures.Future()
            gone.set_result(None)
            return gone

        async def cancel_and_close() -> None:
            self._cancel_handler()
            await self.close()

        return asyncio.run_coroutine_threadsafe(cancel_and_close(), self._loop)

    async def __aenter__(self) -> AsyncWriter:
        return self

    async def __aexit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> None:
        """Close; when the block raised, cut the body off instead (after what was written), as ``run`` does."""
        await self._finish(exc if exc is not None and self._failed_by(exc) else None)

    async def run(self, handler: Handler, heartbeat: Optional[float] = None) -> None:
        """Run ``handler(writer)`` (async, or sync returning an awaitable) to its end, then close the writer.

        The handler runs in the caller's task (no task of its own) and is cancelled when the client goes;
        that cancellation ends here, and the caller goes on to close. ``heartbeat`` (seconds) starts the
        heartbeat. When the handler raises, what it wrote is sent, the body is cut off unfinished (so the
        client can tell the failure from an end; the context's reason is ``"error"``) and the error is
        raised, for the server to log; a connection error after the stream ended is not an error.
        """
        if heartbeat:
            self.start_heartbeat(heartbeat)
        try:  # the steps of every run; ASGIResponse takes them in its own frame (one coroutine per stream)
            await self._call(handler)
        except BaseException as exc:
            if not await self._ran(exc):
                raise
        else:
            await self._ran(None)

    def _call(self, handler: Handler) -> Awaitable[Any]:
        """``run``'s start: ``handler(self)``, from the caller's task: what to await (nothing if the client left
        before it started, or the handler returned no awaitable)."""
        if self.closed:
            return _NOTHING
        self._owner = asyncio.current_task()
        result = handler(self)
        return result if inspect.isawaitable(result) else _NOTHING

    async def _ran(self, exc: Optional[BaseException]) -> bool:
        """``run``'s end: the handler ended (raising ``exc``); close the writer. True when ``exc`` ends here: a
        cancellation the writer asked for and nobody else did, or a connection error after the stream ended (not
        an error). Else ``exc`` goes on, once what the handler wrote was sent and the body cut off."""
        ours = self._uncancel()  # also when the handler swallowed the cancellation
        self._owner = None
        failed = isinstance(exc, Exception) and self._failed_by(exc)
        await self._finish(exc if failed else None)
        if isinstance(exc, asyncio.CancelledError):
            return ours
        return isinstance(exc, Exception) and not failed

    def _cancel_owner(self) -> None:
        if self._owner is not None:
            self._loop.call_soon(self._cancel_handler)  # after the writes woken by the drop have seen why

    def _cancel_handler(self) -> None:
        owner = self._owner
        if owner is not None and not owner.done():  # the handler is still running: it is suspended in it
            self._cancels += 1
            owner.cancel()

    def _uncancel(self) -> bool:
        """Take back the cancellations ``_cancel_handler`` asked for; True if there were some and nobody
        else's is pending (Python < 3.11 cannot tell: True)."""
        count, self._cancels = self._cancels, 0
        left = 0
        for _ in range(count):
            left = uncancel(self._owner)
        return count > 0 and left == 0

    def start_heartbeat(self, interval: float = 15.0, frame: bytes = HEARTBEAT) -> Callable[[], None]:
        """Write ``: heartbeat`` (or ``frame``, an encoded frame) after ``interval`` seconds without a write;
        returns an idempotent stop (callable from any thread). A writer has one heartbeat: a second call changes
        its interval and frame.

        The sender's timer writes it (the one that bounds each send by ``send_timeout``), no task. Each writer
        takes a silence of its own between 90% and 100% of ``interval``, so the streams a broker wrote to at the
        same moment do not all come due in the same loop turn. A heartbeat never waits: when 64 KiB are still
        queued the client is behind and gets none (``send_timeout`` watches such a client). It stops when the
        writer leaves OPEN.
        """
        if self.closed:
            return _nothing
        self._sender.beat(interval, frame)
        return self._stop_heartbeat

    def _stop_heartbeat(self) -> None:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._sender.beat(0.0)
        elif not self._loop.is_closed():  # a closed loop runs no timer
            self._loop.call_soon_threadsafe(self._sender.beat, 0.0)

    async def stream(self, source: Any) -> None:
        """Write every item of a sync or async iterable (or of what a callable returns), then ``[DONE]``.

        An ``Event`` item is written whole; any other item as JSON.
        """
        if callable(source) and not is_iterable(source):
            source = source()
            if inspect.isawaitable(source):
                source = await source
        if isinstance(source, AsyncIterable):
            async for item in source:
                await write_item(self, item)
        else:
            for item in source:
                await write_item(self, item)
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
                await write_item(self, item)
        finally:
            for fut in (next_item, next_error):
                if fut is not None and not fut.done():
                    fut.cancel()


class _Nothing:
    """What ``AsyncWriter._call`` gives to await when there is nothing to wait for."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_NOTHING = _Nothing()


if not TYPE_CHECKING:  # the write path's own (BaseWriter's, one call less; compiled: no Python frame); set
    AsyncWriter.write_event = _write_event  # here, so the reference shows BaseWriter's signature and docstring
    AsyncWriter._send = _write  # a function of the class: no bound method held per writer


def _nothing() -> None:
    """The stop of a heartbeat that never started."""


async def _queue_items(q: "asyncio.Queue[Any]") -> Any:
    while True:
        item = await q.get()
        if item is None:
            return
        yield item


__all__ = ["AsyncWriter", "Handler"]

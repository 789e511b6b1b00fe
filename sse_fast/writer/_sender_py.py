"""An ``AsyncWriter``'s write path, in pure Python: ``Sender``, straight to the sink or queued for the task that
empties the queue. ``_sender.pyx`` beside it is its compiled twin (same behaviour and errors); ``sender``
picks one, and one test fixture runs the write path's tests on both.

A write that finds the sink idle is sent at once from the writer's own task. Writes later in the same loop
turn queue and return while fewer than ``HIGH_WATER`` bytes are queued; one sender task, started at the end
of the turn, hands everything queued to the sink in one ``send``, again while more came meanwhile, so a burst
leaves in few large sends (``flush`` sends the queue from its caller instead when no sender runs). Frames
queued from outside the writer's task (the broker's fan-out, the heartbeat) are sent by ``send_now`` from
the code that queued them, with no task unless the sink makes the send wait. The watchdog is one
self-rearming timer that bounds each send by ``send_timeout``; it interrupts the send it bounds, whichever
task runs it. A send that fails or outlasts it is reported to the writer with ``lost``.
The same timer writes the writer's heartbeat (``beat``): an idle stream holds one timer, not two.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, Awaitable, Callable, Coroutine, List, Optional, Union

from .._endings import IS_CLOSED, read_nothing, send_failed
from ..context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT
from ..encoder import encode_json
from ._sender_common import HIGH_WATER, MARK_EVERY, beat_silence, resumed, uncancel
from .base import HEARTBEAT, BaseWriter, Default, Ended, State

INLINE: Any = object()  # stands for the sender task while a write goes straight to the sink

_OPEN = State.OPEN


class Sender:
    """The queue of frames not yet handed to the sink, the send in flight, and the one task that hands them over."""

    __slots__ = ("_writer", "_loop", "_sink", "_send_timeout", "_task", "_started", "_watchdog", "_holds",
                 "_caller", "_kick_due", "_every", "_unmarked", "_room", "_beat_every", "_beat_frame",
                 "_default", "last_write", "pending", "size", "stopped", "frames", "written", "heartbeats")  # fmt: skip

    def __init__(
        self,
        writer: BaseWriter[Any],
        loop: asyncio.AbstractEventLoop,
        sink: Any,
        send_timeout: Optional[float],
        default: Default = None,
    ) -> None:
        self._writer: Union[BaseWriter[Any], Ended] = writer  # Ended once the stream ended: no cycle left
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._task: Optional[asyncio.Task[None]] = None  # the sender, while it runs (INLINE: a write's send)
        self._started: Optional[float] = None  # time.monotonic() at which the send in flight began
        self._watchdog: Optional[asyncio.TimerHandle] = None  # checks that send against send_timeout
        self.pending: Optional[List[bytes]] = None  # frames for the next send (the list made at the first)
        self.size = 0  # their bytes
        self.stopped = False  # the stream was dropped: nothing more is sent
        self._holds = 0  # > 0 while writes must queue: one went straight to the sink, or a burst resumes, this turn
        self._caller: Optional[asyncio.Task[Any]] = None  # the task whose write is in the sink, meanwhile
        self._kick_due = False  # the sender starts at the end of this loop turn
        self._every = 1  # straight writes per mark of the loop turn
        self._unmarked = 0  # straight writes since the last mark
        self._room: Optional[List[asyncio.Future[None]]] = None  # writes waiting for room (made at the first)
        self._beat_every = 0.0  # seconds of silence before a heartbeat; 0: none
        self._beat_frame = HEARTBEAT  # what a heartbeat writes
        self._default = default  # the writer's, for ``write_event``
        self.last_write = time.monotonic()  # when the writer last wrote (the heartbeat's clock)
        self.frames = 0  # frames written (queued or sent straight), heartbeats included (read by metrics)
        self.written = 0  # their bytes
        self.heartbeats = 0  # heartbeats queued

    async def write(self, frame: bytes) -> None:
        """The writer's write of ``frame``; raises the writer's refusal once it is closed or was dropped.

        When the sink is idle and no write went straight to it in this turn of the loop, the frame is sent
        now, from the caller's task (a paced stream costs no task per event). Otherwise it queues: the
        writes of a burst gather behind the first into one send, and the caller waits only while
        ``HIGH_WATER`` bytes are queued. Telling the turns apart takes a loop callback (a mark, until which
        writes queue); a stream whose writes never share a turn needs few, so a mark is made every
        ``_every`` straight writes, a number that doubles up to ``MARK_EVERY`` while no write queues behind
        a mark and falls back to 1 when one does.
        """
        writer = self._writer
        if writer.state is not _OPEN:
            raise writer._refusal()
        self.last_write = time.monotonic()
        if self._holds or self._task is not None or self.pending or self.stopped:
            self.queue(frame)
            if self.size >= HIGH_WATER:
                await self.wait_for_room()
        else:
            self.frames += 1
            self.written += len(frame)
            self._unmarked += 1
            if self._unmarked >= self._every:
                self._unmarked = 0
                self._holds += 1
                self._loop.call_soon(self._turn_marked)
            await self._send_from_caller(frame)
        if self.stopped:
            raise writer._refusal()

    def queue(self, frame: bytes, start: bool = True) -> None:
        """Add ``frame``; the sender starts once the loop has run what is ready (so a ``flush()`` in this turn
        sends it from its caller instead); ``start=False`` leaves the sender for a later ``kick()``."""
        if self.pending is None:
            self.pending = [frame]
        else:
            self.pending.append(frame)
        size = len(frame)
        self.size += size
        self.frames += 1
        self.written += size
        if start and self._task is None and not self._kick_due:
            self._kick_due = True
            self._loop.call_soon(self._due_kick)

    def kick(self) -> None:
        """Start the sender for what is queued (nothing if it runs already)."""
        if self.pending and self._task is None and not self.stopped:
            self._task = self._loop.create_task(self._drain())

    def send_now(self) -> None:
        """Hand what is queued to the sink from the caller (the broker's flusher, the heartbeat's timer), with
        no task when the sink takes it without waiting: a task per subscriber per publish costs CPU and, alive
        together, feeds the collector. A send that has to wait goes on in the sender task, bounded by the
        watchdog as every send. Nothing if a send is under way: it takes the queue next. (So the sink's send
        runs up to its first wait in the caller's task, or in none from the timer, and the rest in another:
        a sink must not enter a task-bound scope, ``asyncio.timeout`` or an anyio cancel scope, before it.)"""
        if not self.pending or self._task is not None or self.stopped:
            return
        self._task = INLINE  # while the first step runs: a write meanwhile queues
        try:
            steps = self._sink.send(self._take()).__await__()
            waits_on = steps.send(None)
        except StopIteration:
            self._task = None
        except BaseException as exc:
            self._task = None
            if not self._absorbs(exc):
                raise
            return
        else:  # the send waits: the sender task takes it over
            self._task = self._loop.create_task(self._drain(functools.partial(resumed, steps, waits_on)))
            return
        if self.pending:  # queued while the send ran
            self.kick()

    def send_first(self, start: Callable[[], Awaitable[None]]) -> None:
        """Start the sender now with ``start()`` (the transport's response start), bounded as every send;
        what is written meanwhile queues behind it."""
        self._task = self._loop.create_task(self._drain(start))

    async def wait_for_room(self) -> None:
        """Wait until the sender has taken the queue, if ``HIGH_WATER`` bytes or more are in it."""
        if self.size < HIGH_WATER:
            return
        room = self._loop.create_future()
        if self._room is None:
            self._room = []
        self._room.append(room)
        try:
            await room
        finally:
            if self._room and room in self._room:  # cancelled while it waited
                self._room.remove(room)

    async def flush(self) -> bool:
        """Hand everything queued to the sink (from the caller's task when no sender runs) and wait until it
        has taken it; False if the stream was dropped instead."""
        while not self.stopped:
            task = self._task
            if task is None:
                if not self.pending:
                    return True
                await self._send_from_caller(self._take())
            elif task is INLINE:  # another task's write is in the sink: look again next turn
                await asyncio.sleep(0)
            else:
                await asyncio.wait({task})
        return False

    def stop(self) -> None:
        """Throw the queue away and send nothing more: the client can no longer get it."""
        self.stopped = True
        if self.pending:
            self.pending.clear()
        self.size = 0
        self._wake_writers()
        self.stop_watchdog()
        task = self._caller if self._task is INLINE else self._task  # the send in flight is interrupted
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def stop_watchdog(self) -> None:
        """Cancel the timer (send bound and heartbeat): the stream has ended."""
        if self._watchdog is not None:
            self._watchdog.cancel()  # drops its reference to the writer at once
            self._watchdog = None

    def beat(self, interval: float, frame: bytes = HEARTBEAT) -> None:
        """Queue ``frame`` (a heartbeat) after ``beat_silence(interval)`` seconds (90-100% of ``interval``)
        without a write, again and again (0: stop), while the writer is open; the first check comes that long
        from now. Call on the writer's loop."""
        self._beat_every = beat_silence(interval)
        self._beat_frame = frame
        self._arm(self._beat_every)

    def _turn_marked(self) -> None:
        self._holds -= 1
        self._every = 1 if self.pending else min(2 * self._every, MARK_EVERY)

    def _due_kick(self) -> None:
        self._kick_due = False
        self.kick()

    async def _drain(self, start: Optional[Callable[[], Awaitable[None]]] = None) -> None:
        try:
            if start is not None:
                await self._send(start)
            while self.pending and not self.stopped:
                await self._send(self._sink.send, self._take())
        finally:
            self._task = None

    def _take(self) -> bytes:
        """Everything queued, as one send; writes waiting for room may go on, and what they write next
        queues behind it (they are a burst's rest: it must not go out a frame at a time)."""
        pending = self.pending
        assert pending  # called with frames queued only
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self.size = 0
        if self._room:
            self._wake_writers()
            self._holds += 1  # until the woken writers have run
            self._loop.call_soon(self._release)
        return data

    def _release(self) -> None:
        self._holds -= 1

    def _send_from_caller(self, data: bytes) -> Coroutine[Any, Any, None]:
        """``_send`` of ``data`` from the caller's task, which stands for the sender meanwhile."""
        self._task = INLINE
        self._caller = asyncio.current_task(self._loop)
        return self._send(self._sink.send, data)

    async def _send(self, send: Callable[..., Awaitable[None]], *data: bytes) -> None:
        """``await send(*data)``: the sink's ``send(data)`` (or its response start), bounded by the watchdog;
        the one send step of every path (a write's, ``flush``'s, the sender task's)."""
        self._started = time.monotonic()
        if self._watchdog is None and self._send_timeout is not None:
            self._watchdog = self._loop.call_later(self._send_timeout, self)
        try:
            await send(*data)
        except BaseException as exc:
            if not self._absorbs(exc):
                raise
        finally:
            self._started = None
            if self._task is INLINE:
                self._task = self._caller = None
                if self.pending:  # written meanwhile by others (a heartbeat, a broker)
                    self.kick()

    def _absorbs(self, exc: BaseException) -> bool:
        """Report a send that raised ``exc`` to the writer; True when ``exc`` stops here (the next write
        raises why instead)."""
        lost = self._writer.lost
        if isinstance(exc, asyncio.CancelledError):
            if not self.stopped:  # cancelled from outside: a half-finished send leaves the stream unusable
                lost(CLOSED, IS_CLOSED, None)
                return False
            if self._task is INLINE:  # stop() interrupted the caller's own task: the write raises why instead
                uncancel(asyncio.current_task())
        elif isinstance(exc, Exception):  # the client left, or the transport broke: the stream cannot go on
            lost(CLIENT_DISCONNECTED, send_failed(exc), exc)
        else:
            return False
        return True

    def _arm(self, beat_in: Optional[float] = None) -> None:
        """(Re)arm the timer for the sooner of the send in flight's deadline and the heartbeat's next check.

        While a heartbeat runs the timer stays armed, so a write that begins a send arms none of its own: the
        timer is never armed further than ``send_timeout`` ahead then, to bound that send in time (a
        heartbeat longer than ``send_timeout`` costs a look every ``send_timeout`` seconds)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.stopped:
            return
        timeout = self._send_timeout
        wait: Optional[float] = None
        if self._started is not None and timeout is not None:
            wait = max(0.0, self._started + timeout - time.monotonic())
        every = self._beat_every
        if every and self._writer.state is _OPEN:
            due = beat_in if beat_in is not None else every - (time.monotonic() - self.last_write)
            if timeout is not None and due > timeout:
                due = timeout
            wait = due if wait is None else min(wait, due)
        if wait is not None:
            self._watchdog = self._loop.call_later(wait, self)

    def __call__(self) -> None:
        """The writer's one timer, which calls the sender itself (no bound method held per stream). It bounds
        the send in flight: its deadline is that send's start plus ``send_timeout`` (one timer per writer
        instead of one per send; armed again only while a send is in flight or a heartbeat runs). It queues
        the heartbeat once the writer was silent long enough (one that would find ``HIGH_WATER`` bytes queued
        is skipped: the client is behind, and the send bound watches it)."""
        self._watchdog = None
        if self.stopped:
            return
        timeout = self._send_timeout
        started = self._started
        if started is not None and timeout is not None and started + timeout <= time.monotonic():
            self._writer.lost(SEND_TIMEOUT, read_nothing(timeout), None)
            return
        writer = self._writer
        if self._beat_every and writer.state is _OPEN:
            if time.monotonic() - self.last_write >= self._beat_every:
                if self.size < HIGH_WATER:
                    self.queue(self._beat_frame, start=False)
                    self.heartbeats += 1
                    self.last_write = time.monotonic()
                    self.send_now()  # from the timer: no task, unless the sink makes the send wait
                self._arm(self._beat_every)
                return
        self._arm()

    def _wake_writers(self) -> None:
        room, self._room = self._room, None
        for waiter in room or ():
            if not waiter.done():
                waiter.set_result(None)


def write(writer: Any, frame: bytes) -> Coroutine[Any, Any, None]:
    """``AsyncWriter._send``: the writer's write of ``frame``, a function of the class rather than a bound
    method that each writer would hold."""
    sender: Sender = writer._sender
    return sender.write(frame)


def write_event(writer: Any, data: Any) -> Coroutine[Any, Any, None]:
    """``AsyncWriter.write_event``: ``data: <json>`` (the compiled twin's spares the writer's Python frame)."""
    sender: Sender = writer._sender
    return sender.write(encode_json(data, default=sender._default))

"""An ``AsyncWriter``'s write path: straight to the sink, or queued for the task that empties the queue.

A write that finds the sink idle is sent at once from the writer's own task. Writes later in the same loop
turn queue and return while fewer than ``HIGH_WATER`` bytes are queued; one sender task, started at the end
of the turn, hands everything queued to the sink in one ``send``, again while more came meanwhile, so a burst
leaves in few large sends (``flush`` sends the queue from its caller instead when no sender runs). The
watchdog is one self-rearming timer that bounds each send by ``send_timeout``; it interrupts the send it
bounds, whichever task runs it. A send that fails or outlasts it is reported to the writer with ``lost``.
The same timer writes the writer's heartbeat (``beat``): an idle stream holds one timer, not two.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

from ..context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT
from ..errors import ClientDisconnected
from .base import HEARTBEAT, IS_CLOSED, BaseWriter, State

HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport
MARK_EVERY = 16  # most straight writes between two marks of the loop turn (see ``write``)

_OPEN = State.OPEN
_INLINE: Any = object()  # stands for the task while a write goes straight to the sink


class Sender:
    """The queue of frames not yet handed to the sink, and the one task that hands them over."""

    __slots__ = ("_writer", "_loop", "_sink", "_send_timeout", "_task", "_started", "_watchdog", "_room",
                 "_holds", "_caller", "_kick_due", "_every", "_unmarked", "_beat_every", "pending", "size", "stopped")  # fmt: skip

    def __init__(
        self, writer: BaseWriter[Any], loop: asyncio.AbstractEventLoop, sink: Any, send_timeout: Optional[float]
    ) -> None:
        self._writer = writer
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._task: Optional[asyncio.Task[None]] = None  # the sender, while it runs
        self._started: Optional[float] = None  # time.monotonic() at which the send in flight began
        self._watchdog: Optional[asyncio.TimerHandle] = None  # checks that send against send_timeout
        self._room: Optional[List[asyncio.Future[None]]] = None  # writes waiting for the queue to empty (made at the first)
        self.pending: List[bytes] = []  # frames for the next send
        self.size = 0  # their bytes
        self.stopped = False  # the stream was dropped: nothing more is sent
        self._holds = 0  # > 0 while writes must queue: one went straight to the sink, or a burst resumes, this turn
        self._caller: Optional[asyncio.Task[Any]] = None  # the task whose write is in the sink, meanwhile
        self._kick_due = False  # the sender starts at the end of this loop turn
        self._every = 1  # straight writes per mark of the loop turn
        self._unmarked = 0  # straight writes since the last mark
        self._beat_every = 0.0  # seconds of silence before a heartbeat; 0: none

    async def write(self, frame: bytes) -> None:
        """The writer's write of ``frame``; raises the writer's refusal once it is closed or was dropped.

        When the sink is idle and no write went straight to it in this turn of the loop, the frame is sent
        now, from the caller's task (a paced stream costs no task and no coroutine besides this one per
        event). Otherwise it queues: the writes of a burst gather behind the first into one send, and the
        caller waits only while ``HIGH_WATER`` bytes are queued. Telling the turns apart takes a loop callback
        (a mark, until which writes queue); a stream whose writes never share a turn needs few, so a mark is
        made every ``_every`` straight writes, a number that doubles up to ``MARK_EVERY`` while no write
        queues behind a mark and falls back to 1 when one does.
        """
        writer = self._writer
        if writer.state is not _OPEN:
            raise writer._refusal()
        writer._last_write = now = time.monotonic()
        if self._holds or self._task is not None or self.pending or self.stopped:
            self.pending.append(frame)  # queue(frame), without a second call on a burst's every write
            self.size += len(frame)
            if self._task is None and not self._kick_due:
                self._kick_due = True
                self._loop.call_soon(self._due_kick)
            if self.size >= HIGH_WATER:
                await self.wait_for_room()
        else:  # _send's steps, spelled out: this is every paced event's path
            self._task = _INLINE
            self._caller = asyncio.current_task(self._loop)
            self._started = now
            if self._watchdog is None and self._send_timeout is not None:
                self._watchdog = self._loop.call_later(self._send_timeout, self._watch)
            self._unmarked += 1
            if self._unmarked >= self._every:
                self._unmarked = 0
                self._holds += 1
                self._loop.call_soon(self._turn_marked)
            try:
                await self._sink.send(frame)
            except BaseException as exc:
                if not self._absorbs(exc):
                    raise
            finally:
                self._task = self._caller = self._started = None
                if self.pending:  # written meanwhile by others (a heartbeat, a broker)
                    self.kick()
        if self.stopped:
            raise writer._refusal()

    def _turn_marked(self) -> None:
        self._holds -= 1
        self._every = 1 if self.pending else min(2 * self._every, MARK_EVERY)

    def queue(self, frame: bytes, start: bool = True) -> None:
        """Add ``frame``; the sender starts once the loop has run what is ready (so a ``flush()`` in this turn
        sends it from its caller instead); ``start=False`` leaves the sender for a later ``kick()``."""
        self.pending.append(frame)
        self.size += len(frame)
        if start and self._task is None and not self._kick_due:
            self._kick_due = True
            self._loop.call_soon(self._due_kick)

    def _due_kick(self) -> None:
        self._kick_due = False
        self.kick()

    def kick(self) -> None:
        """Start the sender for what is queued (nothing if it runs already)."""
        if self.pending and self._task is None and not self.stopped:
            self._task = self._loop.create_task(self._drain())

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
                data = self._take()
                self._task = _INLINE
                self._caller = asyncio.current_task(self._loop)
                await self._send(data)
            elif task is _INLINE:  # another task's write is in the sink: look again next turn
                await asyncio.sleep(0)
            else:
                await asyncio.wait({task})
        return False

    def stop(self) -> None:
        """Throw the queue away and send nothing more: the client can no longer get it."""
        self.stopped = True
        self.pending.clear()
        self.size = 0
        self._wake_writers()
        self.stop_watchdog()
        task = self._caller if self._task is _INLINE else self._task  # the send in flight is interrupted
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()  # drops its reference to the writer at once
            self._watchdog = None

    async def _drain(self) -> None:
        try:
            while self.pending and not self.stopped:
                await self._send(self._take())
        finally:
            self._task = None

    def _take(self) -> bytes:
        """Everything queued, as one send; writes waiting for room may go on, and what they write next
        queues behind it (they are a burst's rest: it must not go out a frame at a time)."""
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        self.size = 0
        if self._room:
            self._wake_writers()
            self._holds += 1  # until the woken writers have run
            self._loop.call_soon(self._release)
        return data

    def _release(self) -> None:
        self._holds -= 1

    async def _send(self, data: bytes) -> None:
        """Hand ``data`` to the sink (from the sender task, or ``flush``'s caller), bounded by the watchdog."""
        self._begin(time.monotonic())
        try:
            await self._sink.send(data)
        except BaseException as exc:
            if not self._absorbs(exc):
                raise
        finally:
            self._sent()

    def _begin(self, now: float) -> None:
        self._started = now
        if self._watchdog is None and self._send_timeout is not None:
            self._watchdog = self._loop.call_later(self._send_timeout, self._watch)

    def _sent(self) -> None:
        self._started = None
        if self._task is _INLINE:
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
            if self._task is _INLINE:  # stop() interrupted the caller's own task: the write raises why instead
                uncancel(asyncio.current_task())
        elif isinstance(exc, (OSError, ClientDisconnected)):
            lost(CLIENT_DISCONNECTED, f"the client left ({exc})", exc)
        elif isinstance(exc, Exception):  # the transport broke: the stream cannot go on
            lost(CLIENT_DISCONNECTED, f"the transport failed ({type(exc).__name__}: {exc})", exc)
        else:
            return False
        return True

    def beat(self, interval: float) -> None:
        """Queue a heartbeat after ``interval`` seconds without a write, again and again (0: stop), while the
        writer is open; the first check comes ``interval`` seconds from now. Call on the writer's loop."""
        self._beat_every = interval
        self._arm(interval)

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
            due = beat_in if beat_in is not None else self._writer._last_write + every - time.monotonic()
            if timeout is not None and due > timeout:
                due = timeout
            wait = due if wait is None else min(wait, due)
        if wait is not None:
            self._watchdog = self._loop.call_later(wait, self._watch)

    def _watch(self) -> None:
        """The writer's one timer. It bounds the send in flight: its deadline is that send's start plus
        ``send_timeout`` (one timer per writer instead of one per send; armed again only while a send is in
        flight or a heartbeat runs). And it queues the heartbeat once the writer was silent long enough (one
        that would find ``HIGH_WATER`` bytes queued is skipped: the client is behind, and the send bound
        watches it)."""
        self._watchdog = None
        if self.stopped:
            return
        timeout = self._send_timeout
        started = self._started
        if started is not None and timeout is not None and started + timeout <= time.monotonic():
            self._writer.lost(SEND_TIMEOUT, f"the client read nothing for {timeout} s", None)
            return
        writer = self._writer
        if self._beat_every and writer.state is _OPEN:
            now = time.monotonic()
            if writer._last_write + self._beat_every <= now:
                if self.size < HIGH_WATER:
                    self.queue(HEARTBEAT)
                    writer._last_write = now
                self._arm(self._beat_every)
                return
        self._arm()

    def _wake_writers(self) -> None:
        room, self._room = self._room, None
        for waiter in room or ():
            if not waiter.done():
                waiter.set_result(None)


def uncancel(task: Optional["asyncio.Task[Any]"]) -> int:
    """Undo one cancel request made here; returns how many are left (Python 3.11+ counts them; before,
    there is nothing to undo: 0)."""
    undo = getattr(task, "uncancel", None)
    return undo() if undo is not None else 0

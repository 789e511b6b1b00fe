"""An ``AsyncWriter``'s write path: straight to the sink, or queued for the task that empties the queue.

A write that finds the sink idle is sent at once from the writer's own task. Writes later in the same loop
turn queue and return while fewer than ``HIGH_WATER`` bytes are queued; one sender task, started at the end
of the turn, hands everything queued to the sink in one ``send``, again while more came meanwhile, so a burst
leaves in few large sends (``flush`` sends the queue from its caller instead when no sender runs). The
watchdog is one self-rearming timer that bounds each send by ``send_timeout``; it interrupts the send it
bounds, whichever task runs it. A send that fails or outlasts it is reported to the writer with ``lost``.

The write itself, and the fields it uses, are the ``SenderCore``: compiled (``src/_sender.pyx``) where the
encoder is, else the pure-Python twin (``_sender_py``); this module follows ``sse_fast.encoder``'s choice.
The same timer writes the writer's heartbeat (``beat``): an idle stream holds one timer, not two.
"""

from __future__ import annotations

import asyncio
import random
import time
import types
from typing import TYPE_CHECKING, Any, Generator, List, Optional

from ..context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT
from ..encoder import IMPLEMENTATION
from ..errors import ClientDisconnected
from ._sender_py import HIGH_WATER, INLINE, MARK_EVERY
from .base import HEARTBEAT, IS_CLOSED, BaseWriter, State

if TYPE_CHECKING or IMPLEMENTATION != "c":
    from ._sender_py import SenderCore, body_send

    compiled_write_event = None  # AsyncWriter keeps BaseWriter.write_event
else:
    try:
        from ._sender import SenderCore, body_send
        from ._sender import write_event as compiled_write_event
    except ImportError as exc:  # a build from before src/_sender.pyx existed: half a core
        raise ImportError(
            "sse_fast's compiled core is incomplete: the encoder is built but sse_fast.writer._sender is not; "
            "rebuild it (pip install -e ., or python setup.py build_ext --inplace) or set SSE_FAST_NO_EXTENSIONS=1"
        ) from exc

_OPEN = State.OPEN
BEAT_SPREAD = 0.1  # a writer's heartbeat comes after 90% to 100% of its interval of silence


class Sender(SenderCore):
    """The queue of frames not yet handed to the sink, and the one task that hands them over."""

    __slots__ = ("_room", "_beat_every", "_beat_frame")

    def __init__(
        self, writer: BaseWriter[Any], loop: asyncio.AbstractEventLoop, sink: Any, send_timeout: Optional[float]
    ) -> None:
        super().__init__(writer, loop, sink, send_timeout)
        self._room: Optional[List[asyncio.Future[None]]] = None  # writes waiting for room (made at the first)
        self._beat_every = 0.0  # seconds of silence before a heartbeat; 0: none
        self._beat_frame = HEARTBEAT  # what a heartbeat writes

    def queue(self, frame: bytes, start: bool = True) -> None:
        """Add ``frame``; the sender starts once the loop has run what is ready (so a ``flush()`` in this turn
        sends it from its caller instead); ``start=False`` leaves the sender for a later ``kick()``."""
        self.pending.append(frame)
        self.size += len(frame)
        if start and self._task is None and not self._kick_due:
            self._kick_due = True
            self._loop.call_soon(self._due_kick)

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
                self._task = INLINE
                self._caller = asyncio.current_task(self._loop)
                await self._send(data)
            elif task is INLINE:  # another task's write is in the sink: look again next turn
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
        task = self._caller if self._task is INLINE else self._task  # the send in flight is interrupted
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
        elif isinstance(exc, (OSError, ClientDisconnected)):
            lost(CLIENT_DISCONNECTED, f"the client left ({exc})", exc)
        elif isinstance(exc, Exception):  # the transport broke: the stream cannot go on
            lost(CLIENT_DISCONNECTED, f"the transport failed ({type(exc).__name__}: {exc})", exc)
        else:
            return False
        return True

    def beat(self, interval: float, frame: bytes = HEARTBEAT) -> None:
        """Queue ``frame`` (a heartbeat) after ``interval`` seconds without a write, again and again (0: stop),
        while the writer is open; the first check comes ``interval`` seconds from now. Call on the writer's loop.

        The silence this writer waits for is ``interval`` less a random part of up to ``BEAT_SPREAD`` of it:
        streams written at the same moment (a broker's publish to all) would otherwise all come due together
        and stop the loop for their heartbeats at once, again every ``interval`` while they stay idle."""
        self._beat_every = interval * (1.0 - BEAT_SPREAD * random.random())
        self._beat_frame = frame
        self._arm(self._beat_every)

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
            due = beat_in if beat_in is not None else every - self._writer._idle_for()
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
            if writer._idle_for() >= self._beat_every:
                if self.size < HIGH_WATER:
                    self.queue(self._beat_frame, start=False)
                    writer._last_write = time.monotonic()
                    self.send_now()  # from the timer: no task, unless the transport makes the send wait
                self._arm(self._beat_every)
                return
        self._arm()

    def send_now(self) -> None:
        """Hand what is queued to the sink from here, with no task when the sink takes it without waiting (a
        broker fan-out's usual case: a task per subscriber per publish costs CPU and feeds the garbage
        collector); a send that has to wait goes on in the sender task, bounded by the watchdog as any other."""
        if not self.pending or self._task is not None or self.stopped:
            return
        data = self._take()
        self._begin(time.monotonic())
        self._task = INLINE  # while the first step runs: a write meanwhile queues
        try:
            steps = self._sink.send(data).__await__()
            waits_on = steps.send(None)
        except StopIteration:
            self._task = None
            self._sent()
            return
        except BaseException as exc:
            self._task = None
            self._sent()
            if not self._absorbs(exc):
                raise
            return
        self._task = self._loop.create_task(self._go_on(steps, waits_on))

    async def _go_on(self, steps: Any, waits_on: Any) -> None:
        """The sender task, taking over a send ``send_now`` began that has to wait."""
        try:
            try:
                await _resumed(steps, waits_on)
            except BaseException as exc:
                if not self._absorbs(exc):
                    raise
            finally:
                self._sent()
            while self.pending and not self.stopped:
                await self._send(self._take())
        finally:
            self._task = None

    def _wake_writers(self) -> None:
        room, self._room = self._room, None
        for waiter in room or ():
            if not waiter.done():
                waiter.set_result(None)


@types.coroutine
def _resumed(steps: Any, waits_on: Any) -> Generator[Any, None, Any]:
    """The rest of an awaitable begun outside a task (``steps``, its ``__await__``, which yielded
    ``waits_on``): the task running this waits on what it yields, then resumes it, or throws into it what
    the task got (a cancellation), as if the task had run it from the start."""
    while True:
        try:
            yield waits_on
        except BaseException as exc:
            try:
                waits_on = steps.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waits_on = steps.send(None)
            except StopIteration as done:
                return done.value


def uncancel(task: Optional["asyncio.Task[Any]"]) -> int:
    """Undo one cancel request made here; returns how many are left (Python 3.11+ counts them; before,
    there is nothing to undo: 0)."""
    undo = getattr(task, "uncancel", None)
    return undo() if undo is not None else 0


__all__ = [
    "HIGH_WATER",
    "INLINE",
    "MARK_EVERY",
    "Sender",
    "SenderCore",
    "body_send",
    "compiled_write_event",
    "uncancel",
]

"""An ``AsyncWriter``'s write-behind: the queue, the task that empties it into the sink, and the watchdog.

A write that finds the sink idle is sent at once from the writer's own task (``write`` returns that send).
Writes later in the same loop turn queue and return while fewer than ``HIGH_WATER`` bytes are queued; one
sender task, started at the end of the turn, hands everything queued to the sink in one ``send``, again while
more came meanwhile, so a burst leaves in few large sends (``flush`` sends the queue from its caller instead
when no sender runs). The watchdog is one self-rearming timer that bounds each send by ``send_timeout``; it
interrupts the send it bounds, whichever task runs it. A send that fails or outlasts it is reported to the
writer with ``fail``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, List, Optional

from ..context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT
from ..errors import ClientDisconnected
from .base import IS_CLOSED

HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport

_INLINE: Any = object()  # stands for the task while a write goes straight to the sink
Fail = Callable[[str, str, Optional[BaseException]], None]  # (reason, message, cause)


class Sender:
    """The queue of frames not yet handed to the sink, and the one task that hands them over."""

    __slots__ = ("_loop", "_sink", "_send_timeout", "_fail", "_task", "_started", "_watchdog", "_room",
                 "_holds", "_caller", "_kick_due", "pending", "size", "stopped")  # fmt: skip

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Any, send_timeout: Optional[float], fail: Fail) -> None:
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._fail = fail
        self._task: Optional[asyncio.Task[None]] = None  # the sender, while it runs
        self._started: Optional[float] = None  # loop time the sender's current send began
        self._watchdog: Optional[asyncio.TimerHandle] = None  # checks that send against send_timeout
        self._room: List[asyncio.Future[None]] = []  # writes waiting for the queue to empty
        self.pending: List[bytes] = []  # frames for the next send
        self.size = 0  # their bytes
        self.stopped = False  # the stream was dropped: nothing more is sent
        self._holds = 0  # > 0 while writes must queue: one went straight to the sink, or a burst resumes, this turn
        self._caller: Optional[asyncio.Task[Any]] = None  # the task whose write is in the sink, meanwhile
        self._kick_due = False  # the sender starts at the end of this loop turn

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

    def write(self, frame: bytes) -> Optional[Awaitable[None]]:
        """Queue ``frame``, or, when the sink is idle and no frame went straight to it in this turn of the
        loop, return its send to await from the writer's own task (a paced stream costs no task per event;
        the writes of a burst still gather behind the first into one send)."""
        if not self._holds and self._task is None and not self.pending and not self.stopped:
            self._hold_turn()
            self._task = _INLINE
            self._caller = asyncio.current_task()
            return self._send(frame, inline=True)
        self.pending.append(frame)  # queue(frame), without a second call on a burst's every write
        self.size += len(frame)
        if not self._kick_due and self._task is None:
            self._kick_due = True
            self._loop.call_soon(self._due_kick)
        return None

    def _hold_turn(self) -> None:
        """Until the loop has run what is ready now, writes queue instead of going straight to the sink."""
        self._holds += 1
        self._loop.call_soon(self._release)

    def _release(self) -> None:
        self._holds -= 1

    def kick(self) -> None:
        """Start the sender for what is queued (nothing if it runs already)."""
        if self.pending and self._task is None and not self.stopped:
            self._task = self._loop.create_task(self._drain())

    async def wait_for_room(self) -> None:
        """Wait until the sender has taken the queue, if ``HIGH_WATER`` bytes or more are in it."""
        if self.size < HIGH_WATER:
            return
        room = self._loop.create_future()
        self._room.append(room)
        try:
            await room
        finally:
            if room in self._room:  # cancelled while it waited
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
                self._caller = asyncio.current_task()
                await self._send(data, inline=True)
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
            self._hold_turn()  # released after the woken writers have run
        return data

    async def _send(self, data: bytes, inline: bool = False) -> None:
        self._started = self._loop.time()
        if self._watchdog is None and self._send_timeout is not None:
            self._watchdog = self._loop.call_later(self._send_timeout, self._watch)
        try:
            await self._sink.send(data)
        except asyncio.CancelledError:
            if not self.stopped:  # cancelled from outside: a half-finished send leaves the stream unusable
                self._fail(CLOSED, IS_CLOSED, None)
                raise
            if inline:  # stop() interrupted the caller's own task: the write raises why, not CancelledError
                uncancel(asyncio.current_task())
        except (OSError, ClientDisconnected) as exc:
            self._fail(CLIENT_DISCONNECTED, f"the client left ({exc})", exc)
        except Exception as exc:  # the transport broke: the stream cannot go on, the next write says why
            self._fail(CLIENT_DISCONNECTED, f"the transport failed ({type(exc).__name__}: {exc})", exc)
        finally:
            self._started = None
            if inline:
                self._task = self._caller = None
                if self.pending:  # written meanwhile by others (a heartbeat, a broker)
                    self.kick()

    def _watch(self) -> None:
        """Armed again only while a send is in flight, so its deadline is that send's start plus
        ``send_timeout``: one timer per writer instead of one per send."""
        self._watchdog = None
        started = self._started
        if started is None or self.stopped or self._send_timeout is None:
            return
        deadline = started + self._send_timeout
        if self._loop.time() < deadline:
            self._watchdog = self._loop.call_at(deadline, self._watch)
            return
        self._fail(SEND_TIMEOUT, f"the client read nothing for {self._send_timeout} s", None)

    def _wake_writers(self) -> None:
        room, self._room = self._room, []
        for waiter in room:
            if not waiter.done():
                waiter.set_result(None)


def uncancel(task: Optional["asyncio.Task[Any]"]) -> int:
    """Undo one cancel request made here; returns how many are left (Python 3.11+ counts them; before,
    there is nothing to undo: 0)."""
    undo = getattr(task, "uncancel", None)
    return undo() if undo is not None else 0

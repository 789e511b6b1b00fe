"""The pure-Python twin of ``src/_sender.pyx``: ``SenderCore``, the fields of a ``Sender`` and its ``write``.

``sender.Sender`` builds on whichever core ``sender`` picked; this is the one without a compiler (and the
one ``SSE_FAST_NO_EXTENSIONS=1`` asks for). Both give the same behaviour and errors; the compiled one runs
a write as an awaitable object instead of a coroutine, so a paced event costs no Python frame in it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional

from .base import BaseWriter, State

HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport
MARK_EVERY = 16  # most straight writes between two marks of the loop turn (see ``write``)
INLINE: Any = object()  # stands for the sender task while a write goes straight to the sink

_OPEN = State.OPEN


class SenderCore:
    """What a write reads and changes: the queue, the send in flight, the marks of the loop turn."""

    __slots__ = ("_writer", "_loop", "_sink", "_send_timeout", "_task", "_started", "_watchdog", "_holds",
                 "_caller", "_kick_due", "_every", "_unmarked", "pending", "size", "stopped")  # fmt: skip

    def __init__(
        self, writer: BaseWriter[Any], loop: asyncio.AbstractEventLoop, sink: Any, send_timeout: Optional[float]
    ) -> None:
        self._writer = writer
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._task: Optional[asyncio.Task[None]] = None  # the sender, while it runs (INLINE: a write's send)
        self._started: Optional[float] = None  # time.monotonic() at which the send in flight began
        self._watchdog: Optional[asyncio.TimerHandle] = None  # checks that send against send_timeout
        self.pending: List[bytes] = []  # frames for the next send
        self.size = 0  # their bytes
        self.stopped = False  # the stream was dropped: nothing more is sent
        self._holds = 0  # > 0 while writes must queue: one went straight to the sink, or a burst resumes, this turn
        self._caller: Optional[asyncio.Task[Any]] = None  # the task whose write is in the sink, meanwhile
        self._kick_due = False  # the sender starts at the end of this loop turn
        self._every = 1  # straight writes per mark of the loop turn
        self._unmarked = 0  # straight writes since the last mark

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
        writer._last_write = now = time.monotonic()
        if self._holds or self._task is not None or self.pending or self.stopped:
            self.pending.append(frame)  # Sender.queue(frame), without a second call on a burst's every write
            self.size += len(frame)
            if self._task is None and not self._kick_due:
                self._kick_due = True
                self._loop.call_soon(self._due_kick)
            if self.size >= HIGH_WATER:
                await self.wait_for_room()
        else:  # every paced event's path, to the sink from the caller's task: Sender._send's steps spelled out
            # (its _begin and _sent: two calls less per event, ~1,400 instructions)
            self._task = INLINE
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

    def _due_kick(self) -> None:
        self._kick_due = False
        self.kick()

    # -- what ``Sender`` adds, and ``write`` calls ---------------------------------------------------------

    def kick(self) -> None:
        """Start the sender task for what is queued."""
        raise NotImplementedError

    async def wait_for_room(self) -> None:
        """Wait until the sender has taken the queue, if ``HIGH_WATER`` bytes or more are in it."""
        raise NotImplementedError

    def _watch(self) -> None:
        """The watchdog's timer: checks the send in flight against ``send_timeout``."""
        raise NotImplementedError

    def _absorbs(self, exc: BaseException) -> bool:
        """Report a send that raised ``exc``; True when ``exc`` stops here."""
        raise NotImplementedError

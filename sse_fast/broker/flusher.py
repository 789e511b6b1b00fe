"""Sending the broker subscribers' queues a slice at a time, so a loaded server sends fewer, larger writes.

The fan-out queues a frame on every subscriber's writer without starting its sender (``offer(start=False)``)
and hands the writer to its loop's ``Flusher``. The flusher sends ``SLICE`` writers' queues at a time from
its own task (``send_queued``: no task per writer unless the transport makes a send wait; a task per
subscriber per publish costs CPU and, alive together, feeds the collector), and lets the loop run between
slices. On a quiet server that costs one loop turn. On a loaded one, events published while a pass is under
way join the queues of the writers not sent yet, so each of those sends several events in one transport
write instead of one write per event.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Dict, Optional

from ..writer import AsyncWriter

SLICE = 64  # writers whose queue is sent per loop turn

_flushers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher]" = weakref.WeakKeyDictionary()


class Flusher:
    """The writers of one loop that have frames queued and not yet sent."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: Dict[AsyncWriter, None] = {}  # insertion-ordered: first queued, first sent
        self._task: Optional[asyncio.Task[None]] = None

    def add(self, writer: AsyncWriter) -> None:
        """Send ``writer``'s queue soon (call on the loop)."""
        self._waiting[writer] = None
        if self._task is None:
            self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._waiting:
                writers, self._waiting = list(self._waiting), {}  # writers queued during this pass: the next
                for start in range(0, len(writers), SLICE):
                    if start:
                        await asyncio.sleep(0)
                    for writer in writers[start : start + SLICE]:
                        writer.send_queued()
        finally:
            self._task = None


def flusher_for(loop: asyncio.AbstractEventLoop) -> Flusher:
    """The one ``Flusher`` of ``loop``."""
    flusher = _flushers.get(loop)
    if flusher is None:
        flusher = _flushers[loop] = Flusher(loop)
    return flusher

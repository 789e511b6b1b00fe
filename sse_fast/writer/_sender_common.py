"""What both twins of the write path share (``_sender_py`` and the compiled ``_sender``): its numbers, the
heartbeat's silence, the undo of a cancellation, and the rest of a send begun outside the task that ends it."""

from __future__ import annotations

import asyncio
import random
import types
from typing import Any, Generator, Optional

HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport
MARK_EVERY = 16  # most straight writes between two marks of the loop turn (see ``Sender.write``)
BEAT_SPREAD = 0.1  # a writer's heartbeat comes after 90% to 100% of its interval of silence


def beat_silence(interval: float) -> float:
    """The silence one writer waits for before a heartbeat: ``interval`` less a random part of up to
    ``BEAT_SPREAD`` of it. Streams a broker wrote to at the same moment would otherwise all come due in the
    same loop turn, and stop the loop for their heartbeats at once, every ``interval`` while they stay idle."""
    return interval * (1.0 - BEAT_SPREAD * random.random())


def uncancel(task: Optional["asyncio.Task[Any]"]) -> int:
    """Undo one cancel request made here; returns how many are left (Python 3.11+ counts them; before,
    there is nothing to undo: 0)."""
    undo = getattr(task, "uncancel", None)
    return undo() if undo is not None else 0


@types.coroutine
def resumed(steps: Any, waits_on: Any) -> Generator[Any, None, Any]:
    """The rest of an awaitable begun outside a task (``steps``, what its ``__await__`` returned, which yielded
    ``waits_on``): the task awaiting this waits on what it yields, then resumes it, or throws into it what
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

"""Running a broker's fan-outs on an event loop a slice of subscribers at a time, in publish order.

One publish pushes its frame to every subscriber of its topic on a loop. Done in one callback, that stops
the loop for time in proportion to the subscribers, and nothing else runs meanwhile: not the senders, not
new connections, not timers. The loop's ``FanOuts`` runs the fan-outs ``SLICE``
subscribers per loop turn instead, one fan-out after the other, so every subscriber still gets the events
in publish order. A fan-out that fits in a slice runs at once, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any, Deque, List, Protocol, Sequence

SLICE = 1024  # subscribers reached per loop turn (~2 ms of pushes)


class Job(Protocol):
    """One frame on its way to a list of subscribers."""

    def visit(self, subs: Sequence[Any]) -> None:
        """Push the frame to ``subs`` (the next slice of the list)."""

    def finish(self) -> None:
        """Every subscriber of the list was visited."""


_fan_outs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FanOuts]" = weakref.WeakKeyDictionary()


class FanOuts:
    """One loop's fan-outs not yet done: the first runs a slice per loop turn, the others wait their turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: Deque[List[Any]] = deque()  # [subscribers, how many visited, job]
        self._busy = False  # a slice runs, or the next one is scheduled

    def add(self, subs: Sequence[Any], job: Job) -> None:
        """Run ``job`` over ``subs`` after the fan-outs added before it (call on the loop)."""
        self._jobs.append([subs, 0, job])
        if not self._busy:
            self._run()

    def _run(self) -> None:
        self._busy = True
        budget = SLICE
        try:
            while self._jobs and budget > 0:
                entry = self._jobs[0]
                subs, start, job = entry
                end = entry[1] = min(len(subs), start + budget)
                budget -= end - start
                if end == len(subs):
                    self._jobs.popleft()
                job.visit(subs[start:end] if start or end < len(subs) else subs)
                if end == len(subs):
                    job.finish()
        finally:
            if self._jobs:
                self._loop.call_soon(self._run)
            else:
                self._busy = False


def fan_outs_for(loop: asyncio.AbstractEventLoop) -> FanOuts:
    """The one ``FanOuts`` of ``loop``."""
    fan_outs = _fan_outs.get(loop)
    if fan_outs is None:
        fan_outs = _fan_outs[loop] = FanOuts(loop)
    return fan_outs

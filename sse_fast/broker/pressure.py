"""Backpressure between a broker's publishers and its subscribers.

Each subscriber may hold ``queue_bytes`` of frames its transport has not taken yet. Past half of that (its
high water) it is *behind*, and a publisher of one of its topics waits, a millisecond at a time, until
every subscriber of that topic is back under its high water: the loop meanwhile runs the fan-outs and the
senders, so a burst published in a tight loop reaches every reader that keeps up. A subscriber still
behind ``slow_after`` seconds after it fell behind is not draining: it is dropped as slow, and the
publishers go on. Fan-outs handed to an event loop and not yet run count as well: past a quarter of
``queue_bytes`` of them a publisher yields until the loop has run them.

A frame that would take a subscriber past ``queue_bytes`` still drops it at once: while publishers wait,
only a reader that does not drain (or very many publishers at once) gets there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Dict, Optional

POLL = 0.001  # seconds between two looks of a waiting publisher


class Pressure:
    """Who is behind, and how long a publisher of a topic must still wait."""

    def __init__(self, queue_bytes: int, slow_after: float, drop: Callable[[Any], None]) -> None:
        self.backlog_bound: int = queue_bytes // 4
        self.slow_after = slow_after
        self._drop = drop  # drop(subscriber): end its stream as slow (from any thread)
        self._lock = threading.Lock()
        self._behind: Dict[Any, float] = {}  # subscriber -> when it fell behind (monotonic)
        self._topics: Dict[str, int] = {}  # topic -> how many of its subscribers are behind
        self.backlog = 0  # bytes of fan-outs handed to event loops and not yet run

    def fell_behind(self, sub: Any) -> None:
        """``sub`` passed its high water (from its fan-out); publishers of its topics now wait for it."""
        with self._lock:
            if sub in self._behind:
                return
            self._behind[sub] = time.monotonic()
            for topic in sub.topics:
                self._topics[topic] = self._topics.get(topic, 0) + 1

    def forget(self, sub: Any) -> None:
        """``sub`` left (or was dropped): nobody waits for it any more."""
        with self._lock:
            self._release(sub)

    def _release(self, sub: Any) -> None:
        if self._behind.pop(sub, None) is None:
            return
        for topic in sub.topics:
            left = self._topics[topic] - 1
            if left:
                self._topics[topic] = left
            else:
                del self._topics[topic]

    def wait_for(self, topic: str, looks: int) -> Optional[float]:
        """None when a publisher of ``topic`` may go on; else the seconds to sleep before looking again
        (``looks``: how many times it looked already). Drops the subscribers that stopped draining."""
        if self.backlog > self.backlog_bound:
            return 0.0 if looks == 0 else POLL
        if topic not in self._topics:
            return None
        slow = []
        with self._lock:
            now = time.monotonic()
            for sub, since in list(self._behind.items()):
                if topic not in sub.topics:
                    continue
                if not sub.is_behind():
                    self._release(sub)
                elif now - since > self.slow_after:
                    self._release(sub)
                    slow.append(sub)
            waiting = topic in self._topics
        for sub in slow:
            self._drop(sub)
        if not waiting:
            return None
        return 0.0 if looks == 0 else POLL

    async def wait(self, topic: str) -> None:
        """Wait (asynchronously) until a publisher of ``topic`` may go on."""
        looks = 0
        while True:
            pause = self.wait_for(topic, looks)
            if pause is None:
                return
            await asyncio.sleep(pause)
            looks += 1

    def wait_sync(self, topic: str) -> None:
        """``wait`` for a thread. On a thread that runs an event loop it returns at once: blocking there
        would stop the very loop that drains the subscribers."""
        try:
            asyncio.get_running_loop()
            return
        except RuntimeError:
            pass
        looks = 0
        while True:
            pause = self.wait_for(topic, looks)
            if pause is None:
                return
            time.sleep(pause or POLL)
            looks += 1

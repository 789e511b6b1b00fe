"""``MemoryLog``: the in-process event log — bounded history per topic, ids unique across restarts.

Wire ids are ``<boot>-<seq>``: ``boot`` is 12 random hex digits drawn when the log is made, ``seq`` one
counter over all topics (so ids give a total order across a subscriber's topics). An id from another boot
is simply unknown here, so a client holding it gets the reset frame, never a partial stream. A
caller-given id (``publish(..., id=...)``) is looked up among the events still in history, and serves only
a topic set that holds its event.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from typing import Deque, Dict, Iterable, NamedTuple, Optional, Set, Tuple, Union

from ..errors import InvalidValue
from .engine import TRIMMED, UNKNOWN, Deliver, Gap, Replay, Reset, ascii_digits

DEFAULT_HISTORY = 1000


class _Event(NamedTuple):
    seq: int
    id: str
    frame: bytes
    at: float


class MemoryLog:
    """Keeps per topic at most ``history`` events, and optionally none older than ``max_age`` seconds and
    at most ``max_bytes`` bytes of frames. Thread-safe; delivery happens under its lock, in seq order."""

    def __init__(
        self, history: int = DEFAULT_HISTORY, max_age: Optional[float] = None, max_bytes: Optional[int] = None
    ) -> None:
        if not isinstance(history, int) or history < 0:
            raise InvalidValue(f"history must be an int >= 0, got {history!r}")
        self.history: int = history
        self.max_age: Optional[float] = max_age
        self.max_bytes: Optional[int] = max_bytes
        self.boot: str = secrets.token_hex(6)
        self._lock = threading.Lock()
        self._seq = 0
        self._topics: Dict[str, Deque[_Event]] = {}
        self._sizes: Dict[str, int] = {}
        self._where: Dict[str, Tuple[str, int]] = {}  # id -> (topic, seq) for events in history
        self._trimmed: Dict[str, int] = {}  # topic -> highest seq it has lost from its history
        self._forgotten = 0  # highest seq lost by topics that have no history left
        self._deliver: Optional[Deliver] = None

    def start(self, deliver: Deliver, gap: Gap) -> None:
        """In process every append is delivered at once: no gap can open in the feed."""
        self._deliver = deliver

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        return self.append_sync(topic, body, id)

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        with self._lock:
            self._seq += 1
            seq = self._seq
            if id is None:
                id = f"{self.boot}-{seq}"
            frame = b"id: " + id.encode() + b"\n" + body
            self._store(topic, _Event(seq, id, frame, time.monotonic()))
            if self._deliver is not None:
                self._deliver(topic, seq, frame)
        return id, frame

    def _store(self, topic: str, event: _Event) -> None:
        if self.history == 0:
            self._forgotten = event.seq
            return
        events = self._topics.setdefault(topic, deque())
        old = self._where.get(event.id)
        if old is not None:  # a caller reused an id: the older event can no longer be resumed from
            del self._where[event.id]
        events.append(event)
        self._where[event.id] = (topic, event.seq)
        self._sizes[topic] = self._sizes.get(topic, 0) + len(event.frame)
        self._trim(topic, events)

    def _trim(self, topic: str, events: Deque[_Event]) -> None:
        oldest = time.monotonic() - self.max_age if self.max_age is not None else None
        while events and (
            len(events) > self.history
            or (self.max_bytes is not None and self._sizes[topic] > self.max_bytes)
            or (oldest is not None and events[0].at < oldest)
        ):
            gone = events.popleft()
            self._sizes[topic] -= len(gone.frame)
            self._trimmed[topic] = gone.seq
            if self._where.get(gone.id) == (topic, gone.seq):
                del self._where[gone.id]
        if not events:
            del self._topics[topic], self._sizes[topic]
            self._forgotten = max(self._forgotten, self._trimmed.pop(topic, 0))

    async def history_after(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        return self.history_after_sync(topics, last_id)

    def history_after_sync(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        wanted = set(topics)
        with self._lock:
            for topic in wanted:
                events = self._topics.get(topic)
                if events is not None:
                    self._trim(topic, events)
            after = self._position(last_id, wanted)
            if after is None:
                return Reset(f"{self.boot}-{self._seq}", self._seq, UNKNOWN, last_id)
            if any(self._trimmed.get(t, self._forgotten) > after for t in wanted):
                return Reset(f"{self.boot}-{self._seq}", self._seq, TRIMMED, last_id)
            picked = [(e.seq, e.frame) for t in wanted for e in self._topics.get(t, ()) if e.seq > after]
        picked.sort(key=lambda entry: entry[0])
        return Replay(after, picked)

    def _position(self, last_id: str, wanted: Set[str]) -> Optional[int]:
        """The seq ``last_id`` stands for. An id this boot assigned is a point in the one order of all
        topics, so it serves any topic set (the trim check finds gaps); a caller-given id serves only
        the topics of its own event."""
        boot, _, seq = last_id.rpartition("-")
        if boot == self.boot and ascii_digits(seq) and int(seq) <= self._seq:
            return int(seq)
        found = self._where.get(last_id)
        if found is not None and found[0] in wanted:
            return found[1]
        return None

    def head(self) -> str:
        with self._lock:
            return f"{self.boot}-{self._seq}"

    def check_topics(self, topics: Tuple[str, ...]) -> None:
        """Any topics go together: one counter orders every id."""

    def watch(self, topic: str) -> None:
        """Nothing to do in process: every append is delivered."""

    def unwatch(self, topic: str) -> None:
        """Nothing to do in process."""

    async def close(self) -> None:
        with self._lock:
            self._deliver = None
            self._topics.clear()
            self._sizes.clear()
            self._where.clear()
            self._trimmed.clear()

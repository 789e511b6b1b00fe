"""The seam between the ``Broker`` (topics, subscribers, fan-out) and the event log it runs on.

An ``EventLog`` stores each topic's bounded history, assigns ids and pushes every appended event, in
order, into the broker's ``deliver`` callback. ``MemoryLog`` (in-process) and the Redis Streams log both
satisfy it.

Frames and ids. The broker encodes an event ONCE, without an ``id:`` line (``body``: ``event:`` and
``data:`` lines and the blank line). The log assigns the id (in memory at once; on Redis the stream entry
id, known only after XADD) and builds the wire frame once, ``b"id: " + id + b"\\n" + body`` (``id`` comes
first in the field order, so prepending is exact). Every subscriber then gets that same bytes object.

Keys. Next to its wire id each event has a ``key``: any value ordered by ``<`` that increases with every
append across ALL topics of the log (the memory log's global sequence number, Redis's ``(ms, seq)``). The
broker uses it to skip, after a replay, live events the replay already sent.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Protocol, Tuple

Key = Any  # ordered with < ; increases with every append across all topics
Entry = Tuple[Key, bytes]  # (key, wire frame with its id line)
Replay = Tuple[Key, List[Entry]]  # (key of the id resumed from, the events after it in key order)
Deliver = Callable[[str, Key, bytes], None]  # deliver(topic, key, frame), called in append order


class EventLog(Protocol):
    """What the broker needs from an event log."""

    def start(self, deliver: Deliver) -> None:
        """Push every appended event, in append order, to ``deliver`` from now on."""

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        """Store one event; returns ``(id, frame)``. ``id`` given by the caller (already validated) is used
        as the wire id; else the log assigns one."""

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        """``append`` for any thread, blocking."""

    async def history_after(self, topics: Iterable[str], last_id: str) -> Optional[Replay]:
        """``(key of last_id, the events of topics after it in key order)``; ``None`` when the log cannot
        serve every event after that id (unknown, trimmed, another boot, not of ``topics``): the reset case."""

    def history_after_sync(self, topics: Iterable[str], last_id: str) -> Optional[Replay]:
        """``history_after`` for any thread, blocking."""

    def head(self) -> str:
        """An id after which a new subscriber can resume: sent with the reset frame."""

    def watch(self, topic: str) -> None:
        """A local subscriber follows ``topic`` (a log reading from elsewhere starts reading it)."""

    def unwatch(self, topic: str) -> None:
        """The last local subscriber of ``topic`` left."""

    async def close(self) -> None:
        """Stop delivering and release what the log holds."""

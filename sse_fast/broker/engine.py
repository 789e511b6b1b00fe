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
broker uses it to skip, after a replay or a reset, live events the client already has or was told to skip.

Gaps. Where the log cannot give every event after an id, it says so with a ``Reset``: at a resume
(``history_after``), or while delivering (``gap``: a reader found events missing, e.g. trimmed while its
process was stalled, or the engine lost its data). A reset's ``head`` is an id after which resuming
continues exactly; the broker sends the reset frame with it at that point of the stream.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, NamedTuple, Optional, Protocol, Tuple, Union

Key = Any  # ordered with < ; increases with every append across all topics
Entry = Tuple[Key, bytes]  # (key, wire frame with its id line)
Deliver = Callable[[str, Key, bytes], None]  # deliver(topic, key, frame), called in append order

# Why a client gets the reset frame (``Broker.stats()`` counts each as ``resets_<cause>``).
UNKNOWN = "unknown"  # an id this log never gave (malformed, from another boot or data set, ahead of the head)
TRIMMED = "trimmed"  # history no longer holds every event after the id
LOST = "lost"  # the engine lost its data (restarted empty, flushed) while the subscriber was connected
GAP = "gap"  # events went missing from a live subscriber's feed (trimmed while its reader stalled)
CAUSES = (UNKNOWN, TRIMMED, LOST, GAP)


class Replay(NamedTuple):
    """Every event of the topics after the id resumed from, in key order."""

    after: Key  # the key of the id resumed from
    entries: List[Entry]


class Reset(NamedTuple):
    """The log cannot serve every event after an id: resume from ``head`` instead (key ``key``)."""

    head: str
    key: Key
    cause: str  # one of CAUSES
    last: str = ""  # the id the subscriber (or reader) had, for the log line


Gap = Callable[[str, Reset], None]  # gap(topic, reset): called in append order, between deliveries


class EventLog(Protocol):
    """What the broker needs from an event log."""

    def start(self, deliver: Deliver, gap: Gap) -> None:
        """Push every appended event, in append order, to ``deliver`` from now on, and every gap found in
        that feed to ``gap`` at the point where it opened."""

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        """Store one event; returns ``(id, frame)``. ``id`` given by the caller (already validated) is used
        as the wire id; else the log assigns one."""

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        """``append`` for any thread, blocking."""

    async def history_after(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        """The events of ``topics`` after ``last_id``, or a ``Reset`` when the log cannot serve every one
        of them (unknown id, trimmed, another boot or data set)."""

    def history_after_sync(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        """``history_after`` for any thread, blocking."""

    def head(self) -> str:
        """An id after which a new subscriber can resume (the newest this process knows of)."""

    def check_topics(self, topics: Tuple[str, ...]) -> None:
        """Refuse (``InvalidTopic``) topics this log cannot follow in one subscription: on Redis Cluster,
        topics whose ids are not ordered together."""

    def watch(self, topic: str) -> None:
        """A local subscriber follows ``topic`` (a log reading from elsewhere starts reading it)."""

    def unwatch(self, topic: str) -> None:
        """The last local subscriber of ``topic`` left."""

    async def close(self) -> None:
        """Stop delivering and release what the log holds."""


def ascii_digits(text: str) -> bool:
    """True if ``text`` is one or more ASCII digits (``str.isdigit`` also takes ``"²"`` and ``"١"``)."""
    return text.isascii() and text.isdigit()


__all__ = ["CAUSES", "Deliver", "Entry", "EventLog", "Gap", "Key", "Replay", "Reset", "ascii_digits"]

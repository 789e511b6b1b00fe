"""``Broker``: topics, subscribers and fan-out with replay, on any ``EventLog`` (in-process by default).

A publish encodes its frame once; the log gives it its id; the same bytes object is ``offer``ed to every
local subscriber's writer. A publisher that outruns its readers waits for them (``pressure``); a
subscriber that stops draining is dropped with reason ``"slow"``: its response is ended properly, so the
browser reconnects and resumes from history.

Resuming: the subscriber is registered first (live events are held back), then the history after its
``Last-Event-ID`` is sent, then the held-back live events whose key the replay already covered are skipped.
Wherever the log cannot give every event (an id it cannot serve, or a gap found in the live feed) the
subscriber gets the reset frame (``reset_frame``) at that point, and after it exactly the events after
the reset's id: every gap is filled or marked.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

from .._endings import DROPPED_SLOW, Ending
from ..auth.guard import GrantFor, Guard, as_guard
from ..encoder import encode, encode_json
from ..errors import BrokerClosed, InvalidEventId, InvalidTopic, InvalidType, InvalidValue
from ..resume import valid_id
from ..writer import AsyncWriter, Writer
from .engine import CAUSES, EventLog, Key, Replay, Reset
from .fanout import fan_outs_for
from .flusher import flusher_for
from .logs import log_for
from .memory import DEFAULT_HISTORY
from .pressure import Pressure

MAX_TOPIC_BYTES = 1024
DEFAULT_QUEUE_BYTES = 256 * 1024
DEFAULT_SLOW_AFTER = 2.0
SLOW: Ending = Ending.SLOW  # the reason, and below the message, of a subscriber dropped as slow
SLOW_WHY: str = DROPPED_SLOW
DELIVERED = "delivered"
log: logging.Logger = logging.getLogger("sse_fast.broker")
Topics = Union[str, Iterable[str]]
ResetPolicy = Callable[[str], bytes]
# A topic's private events live on topic + PRIVATE: no topic name has a control character, and a suffix keeps
# the topic's Redis Cluster hash tag (its first "{...}"), so both halves stay in one slot where it has one.
PRIVATE: str = "\x00private"


class _Admitted(Tuple[str, ...]):
    """Topics a guard admitted (with the private ones of those the grant covers), checked already."""


def reset_frame(head: str) -> bytes:
    """The default reset frame: ``id: <head>\\nevent: reset\\ndata: {}\\n\\n``. It tells the page to reload
    its state; its id lets the next reconnect resume from here."""
    return encode("{}", event="reset", id=head)


def check_topic(topic: Any) -> str:
    """``topic`` if it is a valid topic name, else ``InvalidTopic`` saying why."""
    if not isinstance(topic, str):
        raise InvalidTopic(f"a topic must be a str, got {type(topic).__name__}")
    if not topic:
        raise InvalidTopic("a topic must not be empty")
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_TOPIC_BYTES:
        raise InvalidTopic(f"a topic must be at most {MAX_TOPIC_BYTES} bytes of UTF-8, got {topic[:40]!r}...")
    if any(ord(c) < 32 or ord(c) == 127 for c in topic):
        raise InvalidTopic(f"a topic must not contain control characters, got {topic!r}")
    return topic


def check_topics(topics: Topics) -> Tuple[str, ...]:
    """One topic or several, each checked; at least one."""
    names = (topics,) if isinstance(topics, str) else tuple(topics)
    if not names:
        raise InvalidTopic("subscribe to at least one topic, got none")
    return tuple(dict.fromkeys(check_topic(t) for t in names))


def encode_body(data: Any, event: Optional[str]) -> bytes:
    """The frame without its id: text (str/bytes) as it is, anything else as JSON."""
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        return encode(data, event=event)
    return encode_json(data, event=event)


class _Subscriber:
    """One stream following some topics: holds live frames back while its replay is sent."""

    __slots__ = ("topics", "limit", "high", "pressure", "last", "held", "held_size", "slow")

    def __init__(self, topics: Tuple[str, ...], limit: int, pressure: Pressure) -> None:
        self.topics, self.limit, self.high, self.pressure = topics, limit, limit // 2, pressure
        self.last: Optional[Key] = None  # key of the last replayed event (or reset): live ones up to it are skipped
        self.held: Optional[List[Tuple[Key, bytes, bool]]] = []  # live frames during the replay; None once live
        self.held_size = 0
        self.slow = False

    def hold(self, key: Key, frame: bytes, marks: bool) -> bool:
        """Keep a live frame until the replay is sent; False if that passes the bound."""
        assert self.held is not None
        self.held_size += len(frame)
        self.held.append((key, frame, marks))
        return self.held_size <= self.limit

    def take_held(self) -> List[bytes]:
        """The held frames the replay did not cover; a reset among them skips what follows up to its key."""
        held, self.held = self.held or [], None
        frames = []
        for key, frame, marks in held:
            if self.last is None or key > self.last:
                frames.append(frame)
                if marks:
                    self.last = key
        return frames


class _AsyncSubscriber(_Subscriber):
    __slots__ = ("writer", "loop", "flusher")

    def __init__(self, writer: AsyncWriter, topics: Tuple[str, ...], limit: int, pressure: Pressure) -> None:
        super().__init__(topics, limit, pressure)
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.flusher = flusher_for(self.loop)

    def push(self, key: Key, frame: bytes, marks: bool = False) -> bool:
        """Called on the writer's loop; False if not delivered (closed, or now dropped as slow). ``marks``:
        ``frame`` is a reset, after which events up to ``key`` are skipped."""
        if self.slow or self.writer.closed:
            return False
        if self.held is not None:
            ok = self.hold(key, frame, marks)
        else:
            ok = self.writer.offer(frame, self.limit, start=False)
            if ok:
                self.flusher.add(self.writer)
                if self.writer.buffered >= self.high:
                    self.pressure.fell_behind(self)
                if marks:
                    self.last = key
        if not ok:
            self.drop()
        return ok

    def is_behind(self) -> bool:
        return not self.slow and not self.writer.closed and self.writer.buffered >= self.high

    def drop(self) -> bool:
        """End the stream as slow, properly (the body is ended, so the client reconnects and resumes); call
        on the writer's loop. False if it was dropped already."""
        if self.slow:
            return False
        self.slow = True
        self.pressure.forget(self)
        self.writer.lost(SLOW, SLOW_WHY)
        return True


class _SyncSubscriber(_Subscriber):
    """A thread's queue of bytes: the handler thread writes each batch in one transport write."""

    __slots__ = ("writer", "cond", "queue")

    def __init__(self, writer: Writer, topics: Tuple[str, ...], limit: int, pressure: Pressure) -> None:
        super().__init__(topics, limit, pressure)
        self.writer = writer
        self.cond = threading.Condition()
        self.queue = bytearray()

    def push(self, key: Key, frame: bytes, marks: bool = False) -> bool:
        with self.cond:
            if self.slow:
                return False
            if self.held is not None:
                ok = self.hold(key, frame, marks)
            elif len(self.queue) + len(frame) <= self.limit:
                self.queue += frame
                ok = True
                if len(self.queue) >= self.high:
                    self.pressure.fell_behind(self)
                if marks:
                    self.last = key
            else:
                ok = False
            self.slow = not ok
            self.cond.notify()
        return ok

    def is_behind(self) -> bool:
        return not self.slow and len(self.queue) >= self.high

    def drop(self) -> bool:
        """Stop the handler thread's stream as slow (WSGI: the server ends the body as usual); any thread.
        False if it was dropped already."""
        with self.cond:
            was, self.slow = self.slow, True
            self.cond.notify()
        self.pressure.forget(self)
        return not was

    def wake(self) -> None:
        with self.cond:
            self.cond.notify()


class _FanOut:
    """One frame on its way to one loop's (or the threads') subscribers of a topic; ``FanOuts`` runs it a
    slice of subscribers per loop turn, then counts what it reached."""

    __slots__ = ("broker", "key", "frame", "counter", "marks", "scheduled", "reached", "dropped")

    def __init__(self, broker: "Broker", key: Key, frame: bytes, counter: str, scheduled: int) -> None:
        self.broker, self.key, self.frame, self.counter, self.scheduled = broker, key, frame, counter, scheduled
        self.marks = counter != DELIVERED  # a reset: its subscribers then skip events up to its key
        self.reached = self.dropped = 0

    def visit(self, subs: Iterable[Any]) -> None:
        key, frame, marks = self.key, self.frame, self.marks
        for sub in subs:
            if sub.last is not None and sub.held is None and key <= sub.last:
                continue
            was_slow = sub.slow
            if sub.push(key, frame, marks):
                self.reached += 1
            elif sub.slow and not was_slow:
                self.dropped += 1

    def finish(self) -> None:
        broker = self.broker
        with broker._lock:
            broker._pressure.backlog -= self.scheduled
            broker._counts[self.counter] += self.reached
            if self.marks:
                broker._counts["resets"] += self.reached
            broker._counts["dropped_slow"] += self.dropped


class Broker:
    """Publish once, deliver to every subscriber of a topic, resume after a reconnect.

    ``Broker()`` keeps events in this process (``history`` per topic, optionally bounded by ``max_age``
    seconds and ``max_bytes``); ``Broker("redis://...")`` runs the same API on Redis Streams (``timeout``
    bounds every Redis command, default 2 s; ``max_backoff`` caps the reader's reconnect backoff, default 2 s;
    ``prefix`` namespaces the keys, default ``"sse_fast:"``); ``Broker("redis+cluster://host:port,...")`` on
    Redis Cluster (also ``replicas``: how many replicas hold an event before ``publish`` returns, default 1;
    the topics of one subscription share a hash tag); ``log=`` runs it on any ``EventLog``. The log
    is chosen once, here; a keyword for another engine than the one chosen raises ``InvalidType``. Each
    subscriber may fall ``queue_bytes`` behind; a publisher waits while a subscriber of its topic is more
    than half of that behind, and a subscriber that stays behind for ``slow_after`` seconds is dropped as
    ``"slow"``. ``on_reset(head_id)`` returns the frame that marks a gap (default ``reset_frame``).
    ``guard`` (a ``sse_fast.auth.Guard``, e.g. ``JWTGuard``, or a callable(credentials) -> Grant or None)
    decides who may subscribe to and publish on which topics, and who reads private events.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        history: int = DEFAULT_HISTORY,
        max_age: Optional[float] = None,
        max_bytes: Optional[int] = None,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        slow_after: float = DEFAULT_SLOW_AFTER,
        on_reset: ResetPolicy = reset_frame,
        log: Optional[EventLog] = None,
        timeout: Optional[float] = None,
        max_backoff: Optional[float] = None,
        prefix: Optional[str] = None,
        replicas: Optional[int] = None,
        guard: Union[Guard, GrantFor, None] = None,
    ) -> None:
        if type(queue_bytes) is not int or queue_bytes < 1:  # refused here, not when the first reader falls behind
            refused = InvalidValue if type(queue_bytes) is int else InvalidType
            raise refused(f"queue_bytes must be an int of bytes >= 1, got {type(queue_bytes).__name__} {queue_bytes!r}")
        memory_options = {"max_age": max_age, "max_bytes": max_bytes}
        redis_options = {"timeout": timeout, "max_backoff": max_backoff, "prefix": prefix, "replicas": replicas}
        self.log: EventLog = log_for(url, log, history, memory_options, redis_options)
        self.queue_bytes = queue_bytes
        self.on_reset = on_reset
        self.guard: Optional[Guard] = as_guard(guard)
        self._lock = threading.RLock()  # _deliver fans out to threads' subscribers under it
        self._pressure = Pressure(queue_bytes, slow_after, self._drop_slow)
        # topic -> loop (None for threads) -> subscribers on it
        self._topics: Dict[str, Dict[Optional[asyncio.AbstractEventLoop], Set[Any]]] = {}
        self._closed = False
        self._counts = dict.fromkeys(
            ["published", DELIVERED, "replayed", "dropped_slow", "resets", "gaps"]
            + [f"resets_{cause}" for cause in CAUSES],
            0,
        )
        self.log.start(self._deliver, self._gap)

    # -- publishing -------------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        data: Any,
        *,
        event: Optional[str] = None,
        id: Optional[str] = None,
        private: bool = False,
        request: Any = None,
    ) -> str:
        """Encode ``data`` once (text as is, anything else as JSON), store it, deliver it; returns its id.
        Waits while a subscriber of ``topic`` is behind (at most ``slow_after`` for one that stopped reading).
        ``private``: only subscribers whose grant covers ``topic`` get it (needs a ``guard``). ``request``:
        the guard checks that this client may publish on ``topic`` (``Unauthorized`` / ``Forbidden``)."""
        topic, body, id = self._prepare(topic, data, event, id, private, request)
        new_id, _ = await self.log.append(topic, body, id)
        await self._pressure.wait(topic)
        return new_id

    def publish_sync(
        self,
        topic: str,
        data: Any,
        *,
        event: Optional[str] = None,
        id: Optional[str] = None,
        private: bool = False,
        request: Any = None,
    ) -> str:
        """``publish`` from any thread (a Flask or Django view, a worker), blocking; returns the id."""
        topic, body, id = self._prepare(topic, data, event, id, private, request)
        new_id, _ = self.log.append_sync(topic, body, id)
        self._pressure.wait_sync(topic)
        return new_id

    def _prepare(
        self, topic: str, data: Any, event: Optional[str], id: Optional[str], private: bool, request: Any
    ) -> Tuple[str, bytes, Optional[str]]:
        if self._closed:
            raise BrokerClosed("publish on a closed broker")
        check_topic(topic)
        if private and self.guard is None:
            raise InvalidValue("private=True needs Broker(guard=...): without one no subscriber may read it")
        if request is not None and self.guard is not None:
            self.guard.admit_publisher(request, topic)
        if id is not None and valid_id(id) is None:
            raise InvalidEventId(
                f"an event id must be a non-empty str without CR, LF or NUL, at most 1 KiB; got {id!r}"
            )
        return (topic + PRIVATE if private else topic), encode_body(data, event), id

    def _deliver(self, topic: str, key: Key, frame: bytes) -> None:
        """The log's callback, in append order: hand the frame to each loop's subscribers, in order."""
        with self._lock:
            self._counts["published"] += 1
            self._hand_out(topic, key, frame, DELIVERED)

    def _gap(self, topic: str, reset: Reset) -> None:
        """The log's callback for a gap in its feed: every subscriber of ``topic`` gets the reset frame
        here (unless a replay already covered the gap), then the events after ``reset.head``."""
        log.warning(
            "gap in topic %r (%s): events after %s up to %s may be missing; its subscribers get a reset",
            topic, reset.cause, reset.last, reset.head,
        )  # fmt: skip
        with self._lock:
            self._counts["gaps"] += 1
            self._hand_out(topic, reset.key, self.on_reset(reset.head), f"resets_{reset.cause}")

    def _hand_out(self, topic: str, key: Key, frame: bytes, counter: str) -> None:
        by_loop = self._topics.get(topic)
        if not by_loop:
            return
        running = _running_loop()
        for loop, subs in by_loop.items():
            if loop is None:
                job = _FanOut(self, key, frame, counter, 0)
                job.visit(list(subs))
                job.finish()
                continue
            self._pressure.backlog += len(frame)
            try:
                if loop is running:
                    loop.call_soon(self._fan_out, subs, _FanOut(self, key, frame, counter, len(frame)))
                else:
                    loop.call_soon_threadsafe(self._fan_out, subs, _FanOut(self, key, frame, counter, len(frame)))
            except RuntimeError:  # that loop is closed; its subscribers are gone
                self._pressure.backlog -= len(frame)

    def _fan_out(self, subs: Set[Any], job: "_FanOut") -> None:
        """On the subscribers' loop: queue ``job`` over the subscribers there now, behind the fan-outs before it."""
        fan_outs_for(asyncio.get_running_loop()).add(list(subs), job)

    def _drop_slow(self, sub: Any) -> None:
        """End ``sub``'s stream as slow, from any thread (on its writer's loop for an async one)."""
        loop = getattr(sub, "loop", None)  # a thread's subscriber has none: drop it from here
        if loop is None or _running_loop() is loop:
            self._drop_counted(sub)
        else:
            try:
                loop.call_soon_threadsafe(self._drop_counted, sub)
            except RuntimeError:  # its loop is closed: the stream is gone already
                pass

    def _drop_counted(self, sub: Any) -> None:
        if sub.drop():
            self._count("dropped_slow", 1)

    # -- subscribing ------------------------------------------------------------------------------

    def subscriber(
        self, topics: Topics, last_event_id: Optional[str] = None, *, request: Any = None
    ) -> Callable[[Any], Any]:
        """A handler for any integration or transport: ``handler(writer)`` follows ``topics`` from
        ``last_event_id`` — ``stream`` on an ``AsyncWriter``, ``stream_sync`` on a ``Writer``. Topics are
        checked now, so a bad one raises in the view; so does a refusal of the ``guard``, which reads the
        client's credentials from ``request`` (``Unauthorized`` / ``Forbidden``: answer them, no stream)."""
        names = self._admit(check_topics(topics), request)
        if self._closed:
            raise BrokerClosed("subscribe on a closed broker")

        def handler(writer: Any) -> Any:
            if isinstance(writer, AsyncWriter):
                return self.stream(writer, names, last_event_id)
            return self.stream_sync(writer, names, last_event_id)

        return handler

    async def stream(self, writer: AsyncWriter, topics: Topics, last_event_id: Optional[str] = None) -> None:
        """Follow ``topics`` on ``writer`` until it closes: the history after ``last_event_id`` (or the
        reset frame), then live events; no id (None or ``""``, as ``EventSource`` sends none) starts live.
        Await it in an async handler (ASGI, Starlette, aiohttp, streams). With a ``guard``, a client that
        sent no credentials here may follow public topics only: ``subscriber(..., request=)`` reads them."""
        names = topics if isinstance(topics, _Admitted) else self._admit(check_topics(topics), None)
        sub = _AsyncSubscriber(writer, names, self.queue_bytes, self._pressure)
        self._add(sub, asyncio.get_running_loop())
        try:
            replay = None if not last_event_id else await self.log.history_after(names, _readable(last_event_id))
            frames = self._replay_frames(sub, replay)
            if frames and not writer.closed:
                await writer.write_frame(b"".join(frames))
            if self._go_live(sub):
                await writer.context.wait()
        finally:
            self._remove(sub)

    def stream_sync(self, writer: Writer, topics: Topics, last_event_id: Optional[str] = None) -> None:
        """``stream`` for a thread (WSGI: Flask, Django): blocks until the writer closes, writing each
        batch of queued frames in one transport write."""
        names = topics if isinstance(topics, _Admitted) else self._admit(check_topics(topics), None)
        sub = _SyncSubscriber(writer, names, self.queue_bytes, self._pressure)
        remove_waker = writer.context.add_callback(lambda reason: sub.wake())
        self._add(sub, None)
        try:
            replay = None if not last_event_id else self.log.history_after_sync(names, _readable(last_event_id))
            frames = self._replay_frames(sub, replay)
            with sub.cond:
                held = sub.take_held()
                sub.queue[:0] = b"".join(frames + held)
            self._count("delivered", len(held))
            while True:
                with sub.cond:
                    while not sub.queue and not sub.slow and not writer.closed:
                        sub.cond.wait()
                    data, sub.queue = bytes(sub.queue), bytearray()
                if sub.slow:
                    writer.abort(SLOW)
                if writer.closed:
                    return
                writer.write_frame(data)
        finally:
            remove_waker()
            self._remove(sub)

    def _admit(self, names: Tuple[str, ...], request: Any) -> Tuple[str, ...]:
        """``names`` if there is no guard; else what the guard lets the client of ``request`` follow:
        ``names`` and the private topics of those its grant covers (or ``Unauthorized`` / ``Forbidden``);
        ``InvalidTopic`` if the log cannot follow them in one subscription (Redis Cluster: one hash tag)."""
        if self.guard is not None:
            grant = self.guard.admit_subscriber(request, names)
            names = _Admitted(names + tuple(t + PRIVATE for t in names if grant.may_subscribe(t)))
        self.log.check_topics(names)  # (InvalidTopic where the log cannot follow them together)
        return names

    def _replay_frames(self, sub: _Subscriber, replay: Union[Replay, Reset, None]) -> List[bytes]:
        """What a (re)connecting subscriber gets before live events; sets the key up to which it is served
        (live events up to it are skipped: the replay has them, or the reset frame told the client to skip them)."""
        if replay is None:
            return []
        if isinstance(replay, Reset):
            sub.last = replay.key
            with self._lock:
                self._counts["resets"] += 1
                self._counts[f"resets_{replay.cause}"] += 1
            return [self.on_reset(replay.head)]
        sub.last, entries = replay
        if entries:
            sub.last = entries[-1][0]
        self._count("replayed", len(entries))
        return [frame for _, frame in entries]

    def _go_live(self, sub: _AsyncSubscriber) -> bool:
        """Send what was held back during the replay; False if the subscriber was dropped meanwhile."""
        if sub.slow:
            return False
        held = sub.take_held()
        for frame in held:
            if not sub.push(None, frame):
                self._count("dropped_slow", 1)
                return False
        self._count("delivered", len(held))
        return True

    def _add(self, sub: _Subscriber, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        with self._lock:
            if self._closed:
                raise BrokerClosed("subscribe on a closed broker")
            for topic in sub.topics:
                by_loop = self._topics.get(topic)
                if by_loop is None:
                    by_loop = self._topics[topic] = {}
                    self.log.watch(topic)
                by_loop.setdefault(loop, set()).add(sub)

    def _remove(self, sub: _Subscriber) -> None:
        self._pressure.forget(sub)
        with self._lock:
            for topic in sub.topics:
                by_loop = self._topics.get(topic, {})
                for loop, subs in list(by_loop.items()):
                    subs.discard(sub)
                    if not subs:
                        del by_loop[loop]
                if topic in self._topics and not by_loop:
                    del self._topics[topic]
                    self.log.unwatch(topic)

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            self._counts[name] += n

    # -- the rest ---------------------------------------------------------------------------------

    def stats(self) -> Dict[str, int]:
        """Counts: ``topics`` and ``subscribers`` now; since the broker was made: ``published`` (events this
        process saw), ``delivered``, ``replayed``, ``dropped_slow``, ``resets`` (reset frames sent) and each
        by cause (``resets_unknown``, ``resets_trimmed``, ``resets_lost``, ``resets_gap``), and ``gaps``
        (gaps found in the live feed)."""
        with self._lock:
            subs: Set[Any] = set()
            for by_loop in self._topics.values():
                for group in by_loop.values():
                    subs |= group
            topics = sum(1 for topic in self._topics if not topic.endswith(PRIVATE))  # not a topic's private half
            return {"topics": topics, "subscribers": len(subs), **self._counts}

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    async def close(self) -> None:
        """Refuse further publishes and subscribes, close every subscriber's writer, release the log."""
        with self._lock:
            self._closed = True
            subs = {s for by_loop in self._topics.values() for group in by_loop.values() for s in group}
        for sub in subs:
            if isinstance(sub, _AsyncSubscriber):
                await sub.writer.close()
            else:
                sub.writer.close_threadsafe()
                sub.wake()
        await self.log.close()


def _readable(last_event_id: str) -> str:
    """``last_event_id`` as the log may look it up; an id no valid event has (bad characters, over 1 KiB,
    ``sse_fast.resume.UNREADABLE``) becomes ``""``, which every log answers with the reset frame."""
    return last_event_id if valid_id(last_event_id) is not None else ""


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None

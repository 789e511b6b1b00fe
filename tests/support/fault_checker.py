"""The broker's promise, checked from the client side: ``Recorder`` is one logical SSE client over a real
socket (it records every frame and reconnects with its ``Last-Event-ID`` whenever a connection ends or
breaks); ``check`` walks what it received against what publishers were acknowledged and names every
silent gap, duplicate, out-of-order event and missing tail."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import httpx

RESET = "reset"
Key = Any  # ordered with <; None for an id that is no id of the engine under test
KeyFn = Callable[[str], Key]
IdValue = Union[str, bytes]


@dataclass(frozen=True)
class Frame:
    """One frame a client got: ``conn`` is the number of the connection it came on (0, 1, ...)."""

    conn: int
    id: Optional[str]
    event: str
    data: str


@dataclass
class Connection:
    """One HTTP request of a client: what it sent, what it got, how it ended."""

    number: int
    url: str
    last_event_id: Optional[IdValue]
    status: Optional[int] = None
    frames: int = 0
    end: str = ""  # "clean" (body ended), "stopped" (by us), "status N: ...", "error: ..."


@dataclass(frozen=True)
class Published:
    """One acknowledged publish: its id and topic (and the data, when the check should compare it)."""

    id: str
    topic: str
    data: Optional[str] = None


# -- keys: an engine's ids, ordered ----------------------------------------------------------------------

_REDIS_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


def redis_key(id: str) -> Key:
    """``(ms, seq)`` of a Redis entry id (ASCII digits only); None for anything else, ``0-0`` included."""
    if not _REDIS_ID.fullmatch(id):
        return None
    ms, _, seq = id.partition("-")
    key = (int(ms), int(seq))
    return None if key == (0, 0) else key


def memory_key(boot: str) -> KeyFn:
    """The key of an in-process broker's ids ``<boot>-<seq>`` for one ``boot``; None for any other id."""
    pattern = re.compile(re.escape(boot) + r"-([0-9]{1,20})")

    def key(id: str) -> Key:
        match = pattern.fullmatch(id)
        return int(match.group(1)) if match else None

    return key


def boot_of(id: str) -> str:
    """The boot part of an in-process id."""
    return id.rpartition("-")[0]


# -- the client ------------------------------------------------------------------------------------------


class Recorder:
    """One logical client of ``urls`` (tried in turn: a broken connection moves on to the next): it records
    every frame, and reconnects with ``Last-Event-ID`` = the last id it got (or ``initial`` until it got
    one) until ``stop``. ``read_timeout`` only guards against a hang."""

    def __init__(
        self,
        urls: Union[str, Sequence[str]],
        initial: Optional[IdValue] = None,
        name: str = "client",
        read_timeout: float = 30.0,
        retry_delay: float = 0.05,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.initial, self.name = initial, name
        self.read_timeout, self.retry_delay = read_timeout, retry_delay
        self.frames: List[Frame] = []
        self.connections: List[Connection] = []
        self.last_id: Optional[IdValue] = initial
        self._stopping = False
        self._turn = 0
        self.stalled = False  # while True the client reads nothing (a slow reader: the socket fills up)

    @property
    def connected(self) -> bool:
        """True while a response with status 200 is being read."""
        return bool(self.connections) and self.connections[-1].status == 200 and not self.connections[-1].end

    def ids(self) -> List[Optional[str]]:
        return [f.id for f in self.frames]

    def events(self) -> List[Frame]:
        return [f for f in self.frames if f.event != RESET]

    def resets(self) -> List[Frame]:
        return [f for f in self.frames if f.event == RESET]

    def got(self, id: str) -> bool:
        return any(f.id == id for f in self.frames)

    def stop(self) -> None:
        self._stopping = True

    async def run(self, client: httpx.AsyncClient) -> None:
        """Connect, read, reconnect, until ``stop()`` (or cancellation)."""
        while not self._stopping:
            url = self.urls[self._turn % len(self.urls)]
            conn = Connection(len(self.connections), url, self.last_id)
            self.connections.append(conn)
            headers = [] if self.last_id is None else [(b"Last-Event-ID", _header_bytes(self.last_id))]
            broken = False
            try:
                async with client.stream("GET", url, headers=headers) as response:
                    conn.status = response.status_code
                    if response.status_code != 200:
                        body = (await response.aread())[:300].decode(errors="replace")
                        conn.end = f"status {response.status_code}: {body!r}"
                        broken = True
                    else:
                        await self._read(conn, response)
                        conn.end = conn.end or "clean"
            except asyncio.CancelledError:
                conn.end = conn.end or "stopped"
                raise
            except (httpx.HTTPError, OSError) as error:
                conn.end = f"error: {type(error).__name__}: {error}"
                broken = True
            if broken:
                self._turn += 1
            if not self._stopping:
                await asyncio.sleep(self.retry_delay * (2 if broken else 1))

    async def _read(self, conn: Connection, response: httpx.Response) -> None:
        buffer = b""
        fields: Dict[str, Any] = {}
        async for chunk in response.aiter_bytes():
            while self.stalled and not self._stopping:
                await asyncio.sleep(0.01)
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw[:-1] if raw.endswith(b"\r") else raw
                if line:
                    _field(fields, line.decode("utf-8", "replace"))
                elif fields:
                    self._dispatch(conn, fields)
                    fields = {}
            if self._stopping:
                conn.end = "stopped"
                return

    def _dispatch(self, conn: Connection, fields: Dict[str, Any]) -> None:
        id = fields.get("id")
        if id is not None:
            self.last_id = id
        if "data" in fields or "event" in fields or id is not None:
            data = "\n".join(fields.get("data", []))
            self.frames.append(Frame(conn.number, id, fields.get("event") or "message", data))
            conn.frames += 1


def _field(fields: Dict[str, Any], line: str) -> None:
    if line.startswith(":"):
        return
    name, _, value = line.partition(":")
    value = value[1:] if value.startswith(" ") else value
    if name == "data":
        fields.setdefault("data", []).append(value)
    elif name in ("id", "event", "retry"):
        fields[name] = value


def _header_bytes(value: IdValue) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


class Clients:
    """Recorders run as tasks of one event loop in a thread of their own: ``with Clients(recorders):``."""

    def __init__(self, recorders: Iterable[Recorder]) -> None:
        self.recorders = list(recorders)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fault-clients", daemon=True)
        self._started = threading.Event()
        self._tasks: List["asyncio.Task[None]"] = []
        self.errors: List[BaseException] = []

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        timeout = httpx.Timeout(5.0, read=max(r.read_timeout for r in self.recorders))
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            self._tasks = [asyncio.ensure_future(r.run(client)) for r in self.recorders]
            self._started.set()
            for outcome in await asyncio.gather(*self._tasks, return_exceptions=True):
                if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                    self.errors.append(outcome)

    def add(self, recorder: Recorder) -> None:
        """Start one more recorder on the running loop."""
        self.recorders.append(recorder)

        async def start() -> None:
            self._tasks.append(asyncio.ensure_future(self._extra(recorder)))

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(5)

    async def _extra(self, recorder: Recorder) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(5.0, read=recorder.read_timeout)) as c:
            await recorder.run(c)

    def __enter__(self) -> "Clients":
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every recorder and wait for the loop to end."""
        if not self._thread.is_alive():
            return
        for recorder in self.recorders:
            recorder.stop()

        def cancel() -> None:
            for task in self._tasks:
                task.cancel()

        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(cancel)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the recorders' loop did not end within 15 s"
        assert not self.errors, f"a recorder failed: {self.errors!r}"


# -- the check -------------------------------------------------------------------------------------------


@dataclass
class _Walk:
    name: str
    topics: Tuple[str, ...]
    violations: List[str] = field(default_factory=list)

    def report(self, text: str) -> None:
        self.violations.append(f"{self.name} {list(self.topics)}: {text}")


def _ids(events: Sequence[Published], limit: int = 8) -> str:
    shown = ", ".join(e.id for e in events[:limit])
    more = f", ... ({len(events)} events)" if len(events) > limit else f" ({len(events)} event(s))"
    return shown + more


def check(
    truth: Sequence[Published],
    records: Union[Recorder, Sequence[Recorder]],
    key: KeyFn,
    topics: Union[str, Iterable[str]],
    sentinel: Optional[str] = None,
    unacknowledged_ok: bool = False,
    since: Optional[str] = None,
) -> List[str]:
    """Violations of "exactly what it missed, or a reset frame, never a silent gap" for each recorder.

    ``truth``: the acknowledged publishes (any order; sorted by ``key`` here). Walking a client's frames
    with its position P (its ``initial`` id, or its first event when it had none): an event must come
    after P (else duplicate or out of order), and every truth event of ``topics`` between P and it is a
    silent gap, unless a reset frame moved P past them. After the last frame, every truth event after P up
    to ``sentinel`` (default: the last one of ``topics``) is a missing tail. An event that is in no
    acknowledgment is reported unless ``unacknowledged_ok`` (a publish that failed may still be stored).
    ``since``: a client without a Last-Event-ID is owed every event from that one on (it was connected
    before it was published). An empty list: the promise held."""
    followed = (topics,) if isinstance(topics, str) else tuple(topics)
    known: Dict[str, Published] = {}
    for event in truth:
        known[event.id] = event
    ordered = sorted((e for e in known.values() if e.topic in followed), key=lambda e: key(e.id))
    keys = [key(e.id) for e in ordered]
    for event, k in zip(ordered, keys):
        if k is None:
            raise ValueError(f"the truth holds {event.id!r}, which the key function does not read as an id")
    end_key = keys[-1] if keys else None
    if sentinel is not None:
        end_key = key(sentinel)
        if end_key is None:
            raise ValueError(f"the sentinel {sentinel!r} is no id of the engine")
    since_key = None if since is None else key(since)
    if since is not None and since_key is None:
        raise ValueError(f"since {since!r} is no id of the engine")
    violations: List[str] = []
    for recorder in [records] if isinstance(records, Recorder) else records:
        walk = _Walk(recorder.name, followed)
        _walk(walk, recorder, ordered, keys, known, key, end_key, unacknowledged_ok, since_key)
        violations += walk.violations
    return violations


def _between(
    ordered: List[Published], keys: List[Key], low: Key, high: Key, inclusive: bool = False
) -> List[Published]:
    """Truth events with ``low < key < high`` (``<= high`` when inclusive); ``low`` None: from the start."""
    out = []
    for event, k in zip(ordered, keys):
        if (low is None or k > low) and (k < high or (inclusive and k == high)):
            out.append(event)
    return out


def _walk(
    walk: _Walk,
    recorder: Recorder,
    ordered: List[Published],
    keys: List[Key],
    known: Dict[str, Published],
    key: KeyFn,
    end_key: Key,
    unacknowledged_ok: bool,
    since_key: Key = None,
) -> None:
    initial = recorder.initial
    anchored = initial is None  # no Last-Event-ID: the first event sets the position
    position: Key = None
    unusable = False
    if initial is not None:
        try:
            text = initial.decode("utf-8") if isinstance(initial, bytes) else initial
        except UnicodeDecodeError:
            text = None
        position = key(text) if text is not None else None
        unusable = position is None
    seen: Dict[Key, int] = {}
    after_reset: Optional[str] = None
    reset_id: Optional[str] = None  # the reset frame that set the position, until an event moves it
    for index, frame in enumerate(recorder.frames):
        where = f"frame {index} on connection {frame.conn}"
        if frame.event == RESET:
            k = key(frame.id) if frame.id is not None else None
            if k is None:
                walk.report(f"reset frame with id {frame.id!r}, which is no id of the engine ({where})")
                continue
            position, unusable, anchored, after_reset, reset_id = k, False, False, frame.id, frame.id
            seen = {}  # the client reloads its state: what came before no longer counts as a duplicate
            continue
        if frame.id is None:
            walk.report(f"event without an id: {frame.data[:60]!r} ({where})")
            continue
        k = key(frame.id)
        if k is None:
            walk.report(f"event id {frame.id!r} is no id of the engine ({where})")
            continue
        published = known.get(frame.id)
        if published is None:
            if not unacknowledged_ok:
                walk.report(f"event {frame.id} was acknowledged to no publisher ({where})")
        elif published.topic not in walk.topics:
            walk.report(f"event {frame.id} of topic {published.topic!r}, which it does not follow ({where})")
        elif published.data is not None and published.data != frame.data:
            walk.report(f"event {frame.id} carries {frame.data[:60]!r}, published {published.data[:60]!r} ({where})")
        if unusable:
            walk.report(
                f"its Last-Event-ID {_short(initial)} cannot be served, yet its first frame is event {frame.id}, "
                f"not a reset frame ({where})"
            )
            position, unusable = k, False
        elif anchored and position is None:
            owed = [e for e, ek in zip(ordered, keys) if since_key is not None and since_key <= ek < k]
            if owed:
                walk.report(f"SILENT GAP before its first event {frame.id} ({where}): missing {_ids(owed)}")
            position = k
        elif k in seen:
            walk.report(f"duplicate: event {frame.id} again (first at frame {seen[k]}) ({where})")
        elif k <= position and reset_id is not None:
            walk.report(f"event {frame.id} is not after the reset frame's id {reset_id}, as a reset promises ({where})")
        elif k <= position:
            walk.report(f"out of order: event {frame.id} after {_show(position, recorder, index)} ({where})")
        else:
            missing = _between(ordered, keys, position, k)
            if missing:
                since = f"the reset frame {after_reset}" if after_reset else _show(position, recorder, index)
                walk.report(f"SILENT GAP after {since} before {frame.id} ({where}): missing {_ids(missing)}")
            position, reset_id = k, None
        seen.setdefault(k, index)
        after_reset = None
    if end_key is None:
        return
    if unusable:
        walk.report(f"its Last-Event-ID {_short(initial)} cannot be served, and it got no reset frame at all")
        return
    if position is None and anchored:
        tail = [e for e, ek in zip(ordered, keys) if (since_key is None or ek >= since_key) and ek <= end_key]
        if tail:
            walk.report(f"received no event at all: missing {_ids(tail)}")
        return
    tail = _between(ordered, keys, position, end_key, inclusive=True)
    if tail:
        ends = ", ".join(sorted({c.end.split(":")[0] for c in recorder.connections}))
        walk.report(
            f"MISSING TAIL after {_show(position, recorder, len(recorder.frames))} "
            f"({len(recorder.connections)} connection(s), ended: {ends}): missing {_ids(tail)}"
        )


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def _show(position: Key, recorder: Recorder, index: int) -> str:
    """The id the position was taken from, for messages."""
    for frame in reversed(recorder.frames[:index]):
        if frame.id is not None:
            return frame.id
    initial = recorder.initial
    return _short(initial) if initial is not None else repr(position)


def violations_text(violations: List[str], limit: int = 20) -> str:
    """The first ``limit`` violations, one a line, for an assertion message."""
    lines = violations[:limit] + ([f"... and {len(violations) - limit} more"] if len(violations) > limit else [])
    return f"{len(violations)} violation(s) of the resume promise:\n" + "\n".join(lines)


@contextlib.contextmanager
def running(recorders: Iterable[Recorder]) -> Iterator[Clients]:
    """``Clients`` as a context manager that stops them at the end."""
    clients = Clients(recorders)
    with clients:
        yield clients

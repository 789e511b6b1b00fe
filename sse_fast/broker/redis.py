"""``RedisLog``: the broker's event log on Redis Streams, so processes and machines share topics.

Publishing runs one Lua script: ``XADD`` to the topic's stream (``MAXLEN ~ history``) under an entry id drawn
from ONE counter for all topics (``<prefix>last``), so ids order events across every topic of the Redis, as
``EventLog`` keys must. Each entry holds the encoded body (``b``), the id of the topic's previous event
(``p``, from ``<prefix>heads``) and the start of the data set it belongs to (``s``). The wire id is the
entry id (``<ms>-<seq>``): ordered and valid in every process, and across Redis restarts when Redis persists
(AOF). Readers add the id line to the stored body; no process but the publisher encodes.

The data set. ``<prefix>since`` is an id just before the first one the data set gave, written with
``<prefix>last`` on first use. A Redis restarted without persistence, or flushed, starts a new data set with
a later ``since``: an id from before it cannot be served (the reset frame), and a reader that sees ``since``
change knows that events it had not read may be lost (a reset frame to its subscribers).

Delivery: each process runs one thread with an asyncio loop holding one reader connection: a blocking
``XREAD`` over the topics that have local subscribers only, re-issued (``CLIENT UNBLOCK``) when that set
changes. Every entry's ``p`` must be the last id the reader delivered for its topic; where it is later, the
events between were trimmed or deleted before the reader got them (its process was stalled, say): the
subscribers get the reset frame there. A newly watched topic is read from the current time of Redis's clock
(estimated from ``TIME``, erring early) less ``CALLER_ID_WINDOW_MS``, delivering only what was appended
after that time, so a new subscriber never misses an event published after it subscribed, caller ids
included. When Redis goes away the reader retries with capped backoff and resumes after the last id it
delivered per topic; subscribers stay connected meanwhile (their heartbeats go on).

Replay: one Lua script reads ``XRANGE (<id> +`` on each topic, checking the ``p`` chain from the id on. It
answers a reset (with the data set's last id, from which a resume continues exactly) when the id is not
``<ms>-<seq>``, is after every id the data set gave or before it began, or when an event after it is
missing from a topic's history.

Caller-given ids (``publish(..., id=...)``) must be entry ids ``<ms>-<seq>`` after the log's last id, not
ahead of Redis's clock and at most ``CALLER_ID_WINDOW_MS`` behind it; anything else raises ``InvalidEventId``.

Faults: every call is bounded by ``timeout`` seconds, whatever Redis does (down, frozen, slow); an
unreachable Redis, refused credentials, a Redis without Streams, or a failure of the log's thread raise
``BrokerUnavailable`` saying which. A publish that times out after it was sent may or may not have been
stored. Several workers share a single Redis here; ``ClusterLog`` (``cluster.py``) runs the same scripts
on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

from ..errors import BrokerUnavailable, InvalidBrokerURL, InvalidEventId
from ..integrations._missing import missing_framework
from .engine import GAP, LOST, Deliver, Gap, Replay, Reset
from .memory import DEFAULT_HISTORY

try:
    import redis.asyncio as redis_async
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import AuthenticationError, ResponseError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ModuleNotFoundError as _absent:  # pragma: no cover - depends on the install
    raise missing_framework(_absent, 'Broker("redis://...")', "redis", "redis") from None

log: logging.Logger = logging.getLogger("sse_fast.broker.redis")

Key = Tuple[int, int]
T = TypeVar("T")
BLOCK_MS = 5000  # longest XREAD wait; CLIENT UNBLOCK ends it sooner when the watched set changes
CALLER_ID_WINDOW_MS = 1000  # how far behind Redis's clock a caller-given id may be
ENTRY_ID = re.compile(r"^([0-9]{1,15})-([0-9]{1,15})$", re.ASCII)  # ms-seq, each exact in Lua's doubles
MAX_SEQ = 999_999_999_999_999  # the largest seq ENTRY_ID takes: "<ms - 1>-MAX_SEQ" comes just before "<ms>-0"
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

# KEYS[1..3]: last, since, heads. The data set begins with ``since`` (and ``last``) just before its first id.
_PROLOGUE = (
    """
local MAXSEQ = %d
local function parse(id) local ms, seq = string.match(id, '^(%%d+)-(%%d+)$'); return tonumber(ms), tonumber(seq) end
local function after(a, b) local ams, aseq = parse(a); local bms, bseq = parse(b)
  return ams > bms or (ams == bms and aseq > bseq) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = redis.call('GET', KEYS[1])
local since = redis.call('GET', KEYS[2])
if not last then
  since = string.format('%%d-%%d', now - 1, MAXSEQ)
  last = since
  redis.call('SET', KEYS[1], last)
  redis.call('SET', KEYS[2], since)
elseif not since then
  since = '0-1'  -- a data set from before ``since`` existed
  redis.call('SET', KEYS[2], since)
end
"""
    % MAX_SEQ
)

# KEYS: last, since, heads, stream. ARGV: maxlen, body, caller id or '', topic, window ms. Returns the entry id.
APPEND = (
    _PROLOGUE
    + """
local id
local fields = {'b', ARGV[2], 'p', redis.call('HGET', KEYS[3], ARGV[4]) or '', 's', since}
if ARGV[3] ~= '' then
  id = ARGV[3]
  local ms = parse(id)
  if not after(id, last) or ms > now or ms < now - tonumber(ARGV[5]) then
    return redis.error_reply('BADID ' .. id .. ' must come after the last id ' .. last ..
      ' and within ' .. ARGV[5] .. ' ms before the Redis clock (now ' .. now .. ' ms)')
  end
  fields[#fields + 1] = 't'
  fields[#fields + 1] = tostring(now)
else
  local lms, lseq = parse(last)
  if now > lms then id = string.format('%d-0', now)
  elseif lseq >= MAXSEQ then id = string.format('%d-0', lms + 1)  -- a caller's id used up the millisecond
  else id = string.format('%d-%d', lms, lseq + 1) end
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], id, unpack(fields))
redis.call('HSET', KEYS[3], ARGV[4], id)
redis.call('SET', KEYS[1], id)
return id
"""
)

# KEYS: last, since, heads, streams... ARGV: the id resumed from ('' when unreadable), topics...
# Returns {0, last, cause} (reset) or {1, last, {i, id, body}...}.
HISTORY = (
    _PROLOGUE
    + """
local from = ARGV[1]
if from == '' or after(from, last) or after(since, from) then return {0, last, 'unknown'} end
local out = {1, last}
for i = 4, #KEYS do
  local entries = redis.call('XRANGE', KEYS[i], '(' .. from, '+')
  local head = redis.call('HGET', KEYS[3], ARGV[i - 2])
  if #entries == 0 and head and after(head, from) then return {0, last, 'trimmed'} end
  local expect = nil  -- the id of the entry before this one; none before the first
  for _, e in ipairs(entries) do
    local p = e[2][4]  -- fields: b, body, p, previous id, s, since
    if p ~= nil and p ~= '' and ((expect == nil and after(p, from)) or (expect ~= nil and p ~= expect)) then
      return {0, last, 'trimmed'}
    end
    expect = e[1]
    out[#out + 1] = {i - 3, e[1], e[2][2]}
  end
end
return out
"""
)

# KEYS: last, since, heads. Returns {since, now seconds, now microseconds} (the reader's look at the data set).
START = (
    _PROLOGUE
    + """
return {since, t[1], t[2]}
"""
)


def check_url(url: str) -> str:
    """``url`` if redis-py can use it, else ``InvalidBrokerURL`` naming the part that is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise InvalidBrokerURL(f"a Redis URL starts with redis://, rediss:// or unix://, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError when it is no port number
    except ValueError:
        raise InvalidBrokerURL(f"the port of {safe_url(url)!r} is not a number from 0 to 65535") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise InvalidBrokerURL(f"{safe_url(url)!r} names no host (e.g. redis://127.0.0.1:6379/0)")
    db = parts.path.lstrip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise InvalidBrokerURL(f"the database of {safe_url(url)!r} must be a number, got {db!r}")
    return url


def safe_url(url: str) -> str:
    """``url`` with its password masked, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_key(entry_id: bytes) -> Key:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq)


class RedisLog:
    """An ``EventLog`` on the Redis at ``url``: ``history`` entries per topic (approximately, as
    ``MAXLEN ~``), every call bounded by ``timeout`` seconds, the reader's reconnect backoff capped at
    ``max_backoff`` seconds. Keys are ``prefix`` + ``last``, ``since``, ``heads`` and ``t:`` + topic."""

    def __init__(
        self,
        url: str,
        history: int = DEFAULT_HISTORY,
        *,
        timeout: float = 2.0,
        max_backoff: float = 2.0,
        prefix: str = "sse_fast:",
    ) -> None:
        if not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1 on Redis, got {history!r}")
        self.url: str = self._checked(url)
        self.history: int = history
        self.timeout: float = timeout
        self.max_backoff: float = max_backoff
        self.prefix = prefix
        self._keys = [prefix + "last", prefix + "since", prefix + "heads"]
        self._lock = threading.Lock()
        self._deliver: Optional[Deliver] = None
        self._gap: Optional[Gap] = None
        self._watched: Dict[str, str] = {}  # topic -> id after which it is read (advances as delivered)
        self._fresh: Dict[str, int] = {}  # topic -> Redis ms before which appended entries are not delivered
        self._since: Optional[bytes] = None  # the data set the reader reads (its ``since``)
        self._head: Key = (0, 0)
        self._clock: Optional[Tuple[float, float]] = None  # (Redis ms - local monotonic ms, uncertainty ms)
        self._closed = False
        self._pid: Optional[int] = None  # the process whose thread runs the loop (a fork needs its own)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._failed: Optional[BaseException] = None  # what ended the log's thread, if anything did
        self._counts = {"reconnects": 0, "unavailable": 0}  # reader retries after a fault; BrokerUnavailable made
        self._counting = threading.Lock()  # for "unavailable", made on any thread (some hold _lock)
        self._lag = (0, 0)  # (entries, ms): the reader's last read: entries it returned, newest one's age

    def stats(self) -> Dict[str, int]:
        """The reader's figures: ``lag_entries`` (entries its last read returned at once, i.e. waiting when it
        read; 0 when it found none), ``lag_ms`` (Redis's clock then minus the newest one's id, in ms); since
        the log was made: ``reconnects`` (retries after a fault) and ``unavailable`` (``BrokerUnavailable``
        errors raised)."""
        entries, ms = self._lag
        return {"lag_entries": entries, "lag_ms": ms, **self._counts}

    def _unavailable(self, message: str) -> BrokerUnavailable:
        """A ``BrokerUnavailable`` saying ``message``, counted."""
        with self._counting:
            self._counts["unavailable"] += 1
        return BrokerUnavailable(message)

    def _lagged(self, entries: int, newest_ms: int) -> None:
        """Record the reader's read of ``entries`` entries, the newest made at ``newest_ms`` (Redis ms)."""
        self._lag = (entries, max(0, self._redis_now() - newest_ms) if entries else 0)

    def _checked(self, url: str) -> str:
        return check_url(url)

    def _keys_for(self, topics: List[str]) -> List[str]:
        """The keys of the log's state that a script on ``topics`` reads (one set for all topics here)."""
        return self._keys

    def _options(self, role: str, read_timeout: Optional[float] = None) -> Dict[str, Any]:
        return dict(
            socket_timeout=read_timeout or self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            client_name=f"sse_fast:{os.getpid()}:{role}",
        )

    # -- the loop thread --------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The log's loop, started in this process on first use; ``BrokerUnavailable`` if its thread failed."""
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._failed = os.getpid(), None
                self._loop = asyncio.new_event_loop()
                ready = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._loop, ready), name="sse_fast-redis")
                self._thread.daemon = True
                self._thread.start()
                ready.wait(self.timeout)
            if self._failed is not None:
                raise self._unavailable(f"the Redis log's thread failed: {self._failed!r}") from self._failed
            assert self._loop is not None
            return self._loop

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        try:
            asyncio.set_event_loop(loop)
            self._commands = self._client()
            self._append = self._commands.register_script(APPEND)
            self._history = self._commands.register_script(HISTORY)
            self._changed = asyncio.Event()
            self._reader_id: Optional[int] = None
            self._reading: Optional[Dict[str, str]] = None  # the watched set the pending XREAD covers
            self._unblocker: "Optional[asyncio.Future[None]]" = None
            self._reader_task = loop.create_task(self._read())
            ready.set()
            loop.run_forever()
        except BaseException as error:  # every later call raises BrokerUnavailable with it as the cause
            self._failed = error
            log.error("the Redis log's thread failed: %r", error)
        finally:
            loop.close()
            ready.set()  # after the close: a caller that saw the failure finds the loop closed

    def _client(self) -> Any:
        """The log's client for commands (not the reader's), made on the log's loop."""
        pool = redis_async.BlockingConnectionPool.from_url(
            self.url, max_connections=4, timeout=self.timeout, **self._options("async")
        )
        return redis_async.Redis(connection_pool=pool)

    async def _call(self, command: Callable[[], Any]) -> Any:
        """``await command()`` on the log's loop from any other loop, within ``timeout``."""
        future = self._submit(command)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            raise self._timed_out() from None

    def _call_sync(self, command: Callable[[], Any]) -> Any:
        """``command()`` on the log's loop from any thread, blocking, within ``timeout``."""
        future = self._submit(command)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timed_out() from None

    def _submit(self, command: Callable[[], Any]) -> "concurrent.futures.Future[Any]":
        loop = self._running_loop()
        try:
            return asyncio.run_coroutine_threadsafe(self._guarded(command), loop)
        except RuntimeError as error:  # the loop is closed: its thread ended
            raise self._timed_out() from (self._failed or error)

    async def _guarded(self, command: Callable[[], Any]) -> Any:
        try:
            return await command()
        except Exception as error:
            raise self._failure(error) from error

    def _timed_out(self) -> BrokerUnavailable:
        if self._failed is not None:
            return self._unavailable(f"the Redis log's thread failed: {self._failed!r}")
        return self._unavailable(f"Redis at {safe_url(self.url)} did not answer within {self.timeout} s")

    # -- EventLog ---------------------------------------------------------------------------------

    def start(self, deliver: Deliver, gap: Gap) -> None:
        self._deliver, self._gap = deliver, gap

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        keys, args = self._append_args(topic, body, id)
        return self._appended(await self._call(lambda: self._append(keys, args)), body)

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        keys, args = self._append_args(topic, body, id)
        return self._appended(self._call_sync(lambda: self._append(keys, args)), body)

    def _append_args(self, topic: str, body: bytes, id: Optional[str]) -> Tuple[List[str], List[Any]]:
        if self._closed:
            raise self._unavailable("the Redis log is closed")
        if id is not None and not ENTRY_ID.match(id):
            raise InvalidEventId(
                f"on Redis an event id is a stream entry id '<ms>-<seq>' of ASCII digits (e.g. '1700000000000-0'), "
                f"got {id!r}"
            )
        keys = self._keys_for([topic]) + [self._stream(topic)]
        return keys, [self.history, body, id or "", topic, CALLER_ID_WINDOW_MS]

    def _appended(self, entry_id: bytes, body: bytes) -> Tuple[str, bytes]:
        self._seen(parse_key(entry_id))
        return entry_id.decode(), b"id: " + entry_id + b"\n" + body

    async def history_after(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        keys, args = self._history_args(list(topics), last_id)
        return self._replay(last_id, await self._call(lambda: self._history(keys, args)))

    def history_after_sync(self, topics: Iterable[str], last_id: str) -> Union[Replay, Reset]:
        keys, args = self._history_args(list(topics), last_id)
        return self._replay(last_id, self._call_sync(lambda: self._history(keys, args)))

    def _history_args(self, topics: List[str], last_id: str) -> Tuple[List[str], List[str]]:
        readable = last_id if ENTRY_ID.match(last_id) else ""
        return self._keys_for(topics) + [self._stream(t) for t in topics], [readable] + topics

    def _replay(self, last_id: str, reply: List[Any]) -> Union[Replay, Reset]:
        head = parse_key(reply[1])
        self._seen(head)
        if reply[0] == 0:
            return Reset(reply[1].decode(), head, reply[2].decode(), last_id)
        entries = sorted((parse_key(i), b"id: " + i + b"\n" + body) for _, i, body in reply[2:])
        return Replay(parse_key(last_id.encode()), entries)

    def head(self) -> str:
        return "%d-%d" % self._head

    def _seen(self, key: Key) -> None:
        with self._lock:
            if key > self._head:
                self._head = key

    def check_topics(self, topics: Tuple[str, ...]) -> None:
        """Any topics go together: one Redis orders every id."""

    def watch(self, topic: str) -> None:
        now = self._redis_now()
        with self._lock:
            self._watched[topic] = "%d-0" % max(now - CALLER_ID_WINDOW_MS, 0)
            self._fresh[topic] = now
        self._reread()

    def unwatch(self, topic: str) -> None:
        with self._lock:
            self._watched.pop(topic, None)
            self._fresh.pop(topic, None)
        self._reread()

    async def close(self) -> None:
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and self._pid == os.getpid() and not loop.is_closed():
            shutdown = self._shutdown()
            try:
                done = asyncio.run_coroutine_threadsafe(shutdown, loop)
                await asyncio.wait({asyncio.wrap_future(done)}, timeout=self.timeout)
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # the loop closed meanwhile: its thread has ended
                shutdown.close()
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5)

    # -- reading ----------------------------------------------------------------------------------

    def _redis_now(self) -> int:
        """Redis's clock now in ms, erring early (by the uncertainty of the estimate; by a second before
        the first ``TIME``, from the local clock) so a new subscriber gets every event after it came."""
        if self._clock is None:
            return int(time.time() * 1000) - 1000
        offset, uncertainty = self._clock
        return int(time.monotonic() * 1000 + offset - uncertainty) - 1

    def _reread(self) -> None:
        """Re-issue the reader's XREAD over the watched topics now (from any thread)."""
        if not self._closed:
            self._running_loop().call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._changed.set()
        busy = self._unblocker is not None and not self._unblocker.done()
        if self._reading is not None and self._reader_id is not None and not busy:  # one at a time
            self._unblocker = asyncio.ensure_future(self._unblock())

    async def _unblock(self) -> None:
        """End the pending XREAD if it covers a stale set (retrying while it is not yet blocked)."""
        for _ in range(20):
            if self._reading is None or set(self._reading) == set(self._snapshot()) or self._reader_id is None:
                return
            try:
                if await self._commands.client_unblock(self._reader_id):
                    return
            except UNREACHABLE + (ResponseError,):
                return  # the reader finds the fault itself
            await asyncio.sleep(0.005)

    def _snapshot(self) -> Dict[Any, Any]:
        with self._lock:
            return {self._stream(t): pos for t, pos in self._watched.items()}

    async def _read(self) -> None:
        """The reader task: XREAD the watched topics, deliver, repeat; on a fault back off and reconnect."""
        backoff = 0.0
        reader: Optional[Any] = None
        try:
            while not self._closed:
                streams = self._snapshot()
                self._changed.clear()
                if not streams:
                    await self._changed.wait()
                    continue
                try:
                    if reader is None:
                        options = self._options("reader", self.timeout + BLOCK_MS / 1000)
                        reader = redis_async.Redis.from_url(self.url, single_connection_client=True, **options)
                        await self._look(reader)
                        self._reader_id = await reader.client_id()
                        continue  # the positions may have moved to a new data set
                    self._reading = streams
                    reply: Any = await reader.xread(streams, block=BLOCK_MS)
                    self._reading = None
                    backoff = 0.0
                except Exception as error:  # any fault: report it, back off, reconnect, resume from positions
                    self._reading = self._reader_id = None
                    if reader is not None:
                        await _quietly(reader.aclose())
                        reader = None
                    backoff = min(max(backoff * 2, 0.05), self.max_backoff)
                    self._counts["reconnects"] += 1
                    log.warning("Redis reader at %s: %s; retrying in %.2f s", safe_url(self.url), error, backoff)
                    await asyncio.sleep(backoff)
                    continue
                if reply:
                    self._dispatch(reply)
                else:
                    self._lagged(0, 0)
        finally:
            if reader is not None:
                await _quietly(reader.aclose())

    async def _look(self, reader: Any) -> None:
        """On (re)connecting: measure Redis's clock, and check the data set is the one read so far."""
        before = time.monotonic() * 1000
        since, seconds, micros = await reader.eval(START, 3, *self._keys)
        after = time.monotonic() * 1000
        redis_ms = int(seconds) * 1000 + int(micros) / 1000
        self._clock = (redis_ms - (before + after) / 2, (after - before) / 2 + 1)
        self._new_data_set(since)

    def _new_data_set(self, since: bytes, topic: str = "") -> bool:
        """The reader sees data set ``since`` (on ``topic``'s entry; all topics share one data set here); if
        it read another before, every watched topic may have lost events it had not read: each gets a
        reset, and is read again from the new data set's start."""
        if self._since is None or self._since == since:
            self._since = since
            return False
        self._since = since
        head = since.decode()
        with self._lock:
            lost = dict(self._watched)
            self._watched = dict.fromkeys(lost, head)
            self._fresh.clear()
        for topic, last in lost.items():
            self._report(topic, Reset(head, parse_key(since), LOST, last))
        return True

    def _dispatch(self, reply: List[Any]) -> None:
        """Deliver one XREAD batch in id order (ids are ordered across topics), advancing positions.

        An entry whose predecessor is not the last id read for its topic opens a gap: the entries between
        were trimmed or deleted before this process read them. XREAD reads all its streams at one instant,
        so the gap begins right after the entry read before it; its reset goes out at that point, ahead of
        every later entry of any topic (a subscriber of several topics skips what falls inside the gap)."""
        batch = []
        for stream, entries in reply:
            topic = self._topic_of(stream)
            for entry_id, fields in entries:
                since = fields.get(b"s")
                if since is not None and self._new_data_set(since, topic):
                    return  # read again from the new data set's start
                batch.append((parse_key(entry_id), topic, entry_id, fields))
        batch.sort(key=lambda item: item[0])
        self._lagged(len(batch), batch[-1][0][0] if batch else 0)
        gaps: List[Tuple[Key, str, Reset]] = []  # (key after which it opens, topic, reset), in key order
        wanted = []
        with self._lock:
            for key, topic, entry_id, fields in batch:
                position = self._watched.get(topic)
                if position is None:
                    continue
                self._watched[topic] = entry_id.decode()
                fresh = self._fresh.get(topic)
                if fresh is not None:
                    if int(fields.get(b"t") or key[0]) < fresh:
                        continue  # appended before the topic's first subscriber came
                    del self._fresh[topic]
                previous = fields.get(b"p")
                opened = parse_key(position.encode())
                if previous and parse_key(previous) > opened:
                    gaps.append((opened, topic, Reset(_just_before(key), _key_before(key), GAP, position)))
                wanted.append((key, topic, entry_id, fields))
        gaps.sort(key=lambda gap: gap[0])
        for key, topic, entry_id, fields in wanted:
            while gaps and gaps[0][0] < key:
                self._report(gaps[0][1], gaps.pop(0)[2])
            self._seen(key)
            if self._deliver is not None:
                self._deliver(topic, key, b"id: " + entry_id + b"\n" + fields[b"b"])

    def _report(self, topic: str, reset: Reset) -> None:
        if self._gap is not None:
            self._gap(topic, reset)

    async def _shutdown(self) -> None:
        self._reader_task.cancel()
        await _quietly(self._reader_task)
        await _quietly(self._commands.aclose())
        await _quietly(self._commands.connection_pool.disconnect())

    # -- errors -----------------------------------------------------------------------------------

    def _stream(self, topic: str) -> str:
        return self.prefix + "t:" + topic

    def _topic_of(self, stream: bytes) -> str:
        return stream[len(self.prefix) + 2 :].decode("utf-8", "surrogatepass")

    def _failure(self, error: Exception) -> Exception:
        """The error to raise for a failed command: which problem, at which (password-masked) URL."""
        where = f"Redis at {safe_url(self.url)}"
        text = str(error)
        if isinstance(error, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
            return self._unavailable(f"{where} refused the credentials (wrong or missing password): {text}")
        if isinstance(error, ResponseError):
            if "BADID" in text:
                return InvalidEventId("on Redis an event id " + text.split("BADID ", 1)[1].split(" script:")[0])
            if "unknown command" in text.lower() or "Unknown Redis command" in text:
                return self._unavailable(f"{where} has no Streams (needs Redis >= 6.2 with XADD/XRANGE): {text}")
            return self._unavailable(f"{where} failed: {text}")
        if isinstance(error, UNREACHABLE):
            return self._unavailable(f"{where} is unreachable within {self.timeout} s: {text or type(error).__name__}")
        return error


def _key_before(key: Key) -> Key:
    """The key just before ``key``: nothing can be appended between them."""
    ms, seq = key
    return (ms, seq - 1) if seq else (ms - 1, MAX_SEQ)


def _just_before(key: Key) -> str:
    """The id of ``_key_before(key)``: resuming from it continues exactly with ``key``."""
    return "%d-%d" % _key_before(key)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except BaseException:  # closing after a fault: nothing more to report
        pass

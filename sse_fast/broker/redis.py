"""``RedisLog``: the broker's event log on Redis Streams, so processes and machines share topics.

Publishing runs one Lua script: ``XADD`` to the topic's stream (``MAXLEN ~ history``) with the encoded body
as the stored field, under an entry id drawn from ONE counter for all topics (``<prefix>last``), so ids
order events across every topic of the Redis, as ``EventLog`` keys must. The wire id is that entry id
(``<ms>-<seq>``): ordered and valid in every process, and across Redis restarts when Redis persists (AOF).
Readers add the id line to the stored body; no process but the publisher encodes.

Delivery: each process runs one thread with an asyncio loop holding one reader connection: a blocking
``XREAD`` over the topics that have local subscribers only, re-issued (``CLIENT UNBLOCK``) when that set
changes. A newly watched topic is read from the current time of Redis's clock (estimated from ``TIME``),
so a new subscriber never misses an event published after it subscribed. When Redis goes away the reader
retries with capped backoff and resumes after the last id it delivered per topic; subscribers stay
connected meanwhile (their heartbeats go on).

Replay: one Lua script reads ``XRANGE (<id> +`` on each topic. It returns the reset case when the id is
not ``<ms>-<seq>``, is after every id Redis gave, or is older than the first entry a topic kept after
trimming (or deleted, ``max-deleted-entry-id``) — erring towards a reset, never a partial stream.

Caller-given ids (``publish(..., id=...)``) must be Redis entry ids ``<ms>-<seq>`` after the log's last id
and not ahead of Redis's clock (ids stay timestamps); anything else raises ``InvalidEventId``.

Faults: every command is bounded by ``timeout`` seconds; an unreachable Redis, refused credentials or a
Redis without Streams raise ``BrokerUnavailable`` saying which. A publish that times out after it was sent
may or may not have been stored. Several workers need a single Redis (not Cluster).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..errors import BrokerUnavailable, InvalidBrokerURL, InvalidEventId
from .core import DEFAULT_QUEUE_BYTES, Broker, ResetPolicy, reset_frame
from .engine import Deliver, Replay
from .memory import DEFAULT_HISTORY

try:
    import redis as redis_sync
    import redis.asyncio as redis_async
    from redis.backoff import NoBackoff
    from redis.exceptions import AuthenticationError, ResponseError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError('Broker("redis://...") needs redis-py: pip install "sse-fast[redis]"') from error

log = logging.getLogger("sse_fast.broker.redis")

Key = Tuple[int, int]
T = TypeVar("T")
BLOCK_MS = 5000  # longest XREAD wait; CLIENT UNBLOCK ends it sooner when the watched set changes
ENTRY_ID = re.compile(r"^(\d{1,15})-(\d{1,15})$")  # ms-seq, each exact in Lua's doubles
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

_PARSE = """
local function parse(id) local ms, seq = string.match(id, '^(%d+)-(%d+)$'); return tonumber(ms), tonumber(seq) end
local function after(ams, aseq, bms, bseq) return ams > bms or (ams == bms and aseq > bseq) end
"""

# KEYS: last, stream. ARGV: maxlen, body, caller id or ''. Returns the entry id, or an error.
APPEND = (
    _PARSE
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lms, lseq = 0, 0
local last = redis.call('GET', KEYS[1])
if last then lms, lseq = parse(last) end
local ms, seq
if ARGV[3] ~= '' then
  ms, seq = parse(ARGV[3])
  if not after(ms, seq, lms, lseq) or ms > now then
    return redis.error_reply('BADID ' .. ARGV[3] .. ' is not after the last id ' .. lms .. '-' .. lseq ..
      ' or is ahead of the Redis clock (' .. now .. ' ms)')
  end
elseif now > lms then ms, seq = now, 0
else ms, seq = lms, lseq + 1 end
local id = string.format('%d-%d', ms, seq)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], id, 'b', ARGV[2])
redis.call('SET', KEYS[1], id)
return id
"""
)

# KEYS: last, streams... ARGV: the id resumed from. Returns {0, last} (reset) or {1, last, {i, id, body}...}.
HISTORY = (
    _PARSE
    + """
local lms, lseq = parse(ARGV[1])
local last = redis.call('GET', KEYS[1]) or '0-0'
local hms, hseq = parse(last)
if after(lms, lseq, hms, hseq) then return {0, last} end
local out = {1, last}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    local f = {}
    for j = 1, #info, 2 do f[info[j]] = info[j + 1] end
    local first = f['recorded-first-entry-id'] or (f['first-entry'] and f['first-entry'][1])
    local trimmed = f['entries-added'] == nil or f['entries-added'] > f['length']
    if trimmed and first then
      local fms, fseq = parse(first)
      if after(fms, fseq, lms, lseq) then return {0, last} end
    end
    if f['max-deleted-entry-id'] then
      local dms, dseq = parse(f['max-deleted-entry-id'])
      if after(dms, dseq, lms, lseq) then return {0, last} end
    end
    for _, e in ipairs(redis.call('XRANGE', KEYS[i], '(' .. ARGV[1], '+')) do
      out[#out + 1] = {i - 1, e[1], e[2][2]}
    end
  end
end
return out
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
    ``MAXLEN ~``), every command bounded by ``timeout`` seconds, the reader's reconnect backoff capped at
    ``max_backoff`` seconds. Keys are ``prefix`` + ``last`` and ``prefix`` + ``t:`` + topic."""

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
        self.url, self.history, self.timeout, self.max_backoff = check_url(url), history, timeout, max_backoff
        self.prefix = prefix
        self._last_key = prefix + "last"
        self._lock = threading.Lock()
        self._deliver: Optional[Deliver] = None
        self._watched: Dict[str, str] = {}  # topic -> id after which it is read (advances as delivered)
        self._head: Key = (0, 0)
        self._clock: Optional[Tuple[float, float]] = None  # (Redis ms - local monotonic ms, uncertainty ms)
        self._closed = False
        self._sync = redis_sync.Redis.from_url(url, **self._options("sync"))
        self._append_sync = self._sync.register_script(APPEND)
        self._history_sync = self._sync.register_script(HISTORY)
        self._pid: Optional[int] = None  # the process whose thread runs the loop (a fork needs its own)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    def _options(self, role: str, read_timeout: Optional[float] = None) -> Dict[str, Any]:
        return dict(
            socket_timeout=read_timeout or self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            client_name=f"sse_fast:{os.getpid()}:{role}",
        )

    # -- the loop thread --------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The log's loop, started in this process on first use."""
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._run, args=(self._loop,), name="sse_fast-redis")
                self._thread.daemon = True
                self._thread.start()
            assert self._loop is not None
            return self._loop

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        pool = redis_async.BlockingConnectionPool.from_url(
            self.url, max_connections=4, timeout=self.timeout, **self._options("async")
        )
        self._commands = redis_async.Redis(connection_pool=pool)
        self._append_async = self._commands.register_script(APPEND)
        self._history_async = self._commands.register_script(HISTORY)
        self._changed = asyncio.Event()
        self._reader_id: Optional[int] = None
        self._reading: Optional[Dict[str, str]] = None  # the watched set the pending XREAD covers
        self._unblocker: "Optional[asyncio.Future[None]]" = None
        self._reader_task = loop.create_task(self._read())
        loop.run_forever()
        loop.close()

    async def _on_loop(self, coro_fn: Callable[[], Any]) -> Any:
        """Await ``coro_fn()`` run on the log's loop, from any other loop, bounded by the timeout."""

        async def bounded() -> Any:
            return await asyncio.wait_for(coro_fn(), self.timeout * 2)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(bounded(), self._running_loop()))

    # -- EventLog ---------------------------------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        args = self._append_args(topic, body, id)
        entry_id = await self._guard(lambda: self._on_loop(lambda: self._append_async(*args)))
        return self._appended(entry_id, body)

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        args = self._append_args(topic, body, id)
        return self._appended(self._guard_sync(lambda: self._append_sync(*args)), body)

    def _append_args(self, topic: str, body: bytes, id: Optional[str]) -> Tuple[List[str], List[Any]]:
        if self._closed:
            raise BrokerUnavailable("the Redis log is closed")
        if id is not None and not ENTRY_ID.match(id):
            raise InvalidEventId(
                f"on Redis an event id is a stream entry id '<ms>-<seq>' (e.g. '1700000000000-0'), got {id!r}"
            )
        return [self._last_key, self._stream(topic)], [self.history, body, id or ""]

    def _appended(self, entry_id: bytes, body: bytes) -> Tuple[str, bytes]:
        self._seen(parse_key(entry_id))
        return entry_id.decode(), b"id: " + entry_id + b"\n" + body

    async def history_after(self, topics: Iterable[str], last_id: str) -> Optional[Replay]:
        names = list(topics)
        if not ENTRY_ID.match(last_id):
            return None
        args = self._history_args(names, last_id)
        reply = await self._guard(lambda: self._on_loop(lambda: self._history_async(*args)))
        return self._replay(last_id, reply)

    def history_after_sync(self, topics: Iterable[str], last_id: str) -> Optional[Replay]:
        names = list(topics)
        if not ENTRY_ID.match(last_id):
            return None
        args = self._history_args(names, last_id)
        return self._replay(last_id, self._guard_sync(lambda: self._history_sync(*args)))

    def _history_args(self, topics: List[str], last_id: str) -> Tuple[List[str], List[str]]:
        return [self._last_key] + [self._stream(t) for t in topics], [last_id]

    def _replay(self, last_id: str, reply: List[Any]) -> Optional[Replay]:
        self._seen(parse_key(reply[1]))
        if reply[0] == 0:
            return None
        entries = sorted((parse_key(i), b"id: " + i + b"\n" + body) for _, i, body in reply[2:])
        return parse_key(last_id.encode()), entries

    def head(self) -> str:
        return "%d-%d" % self._head

    def _seen(self, key: Key) -> None:
        with self._lock:
            if key > self._head:
                self._head = key

    def watch(self, topic: str) -> None:
        start = "%d-0" % max(self._redis_now() - 1, 0)
        with self._lock:
            self._watched[topic] = start
        self._reread()

    def unwatch(self, topic: str) -> None:
        with self._lock:
            self._watched.pop(topic, None)
        self._reread()

    async def close(self) -> None:
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and self._pid == os.getpid():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._shutdown(), loop))
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5)
        self._sync.close()

    # -- reading ----------------------------------------------------------------------------------

    def _redis_now(self) -> int:
        """Redis's clock now in ms, erring early (by the uncertainty of the estimate; by a second before
        the first ``TIME``, from the local clock) so a new subscriber gets every event after it came."""
        if self._clock is None:
            return int(time.time() * 1000) - 1000
        offset, uncertainty = self._clock
        return int(time.monotonic() * 1000 + offset - uncertainty)

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
                        await self._measure_clock(reader)
                        self._reader_id = await reader.client_id()
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
                    log.warning("Redis reader at %s: %s; retrying in %.2f s", safe_url(self.url), error, backoff)
                    await asyncio.sleep(backoff)
                    continue
                if reply:
                    self._dispatch(reply)
        finally:
            if reader is not None:
                await _quietly(reader.aclose())

    async def _measure_clock(self, reader: Any) -> None:
        before = time.monotonic() * 1000
        seconds, micros = await reader.time()
        after = time.monotonic() * 1000
        redis_ms = seconds * 1000 + micros / 1000
        self._clock = (redis_ms - (before + after) / 2, (after - before) / 2 + 1)

    def _dispatch(self, reply: List[Any]) -> None:
        """Deliver one XREAD batch in id order (ids are ordered across topics), advancing positions."""
        batch = []
        for stream, entries in reply:
            topic = stream[len(self.prefix) + 2 :].decode("utf-8", "surrogatepass")
            for entry_id, fields in entries:
                batch.append((parse_key(entry_id), topic, entry_id, fields[b"b"]))
        batch.sort(key=lambda item: item[0])
        deliver = self._deliver
        for key, topic, entry_id, body in batch:
            with self._lock:
                if topic not in self._watched:
                    continue
                self._watched[topic] = entry_id.decode()
            self._seen(key)
            if deliver is not None:
                deliver(topic, key, b"id: " + entry_id + b"\n" + body)

    async def _shutdown(self) -> None:
        self._reader_task.cancel()
        await _quietly(self._reader_task)
        await _quietly(self._commands.aclose())
        await _quietly(self._commands.connection_pool.disconnect())

    # -- errors -----------------------------------------------------------------------------------

    def _stream(self, topic: str) -> str:
        return self.prefix + "t:" + topic

    async def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return await call()
        except Exception as error:
            raise self._failure(error) from error

    def _guard_sync(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as error:
            raise self._failure(error) from error

    def _failure(self, error: Exception) -> Exception:
        """The error to raise for a failed command: which problem, at which (password-masked) URL."""
        where = f"Redis at {safe_url(self.url)}"
        text = str(error)
        if isinstance(error, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
            return BrokerUnavailable(f"{where} refused the credentials (wrong or missing password): {text}")
        if isinstance(error, ResponseError):
            if "BADID" in text:
                return InvalidEventId("on Redis an event id " + text.split("BADID ", 1)[1].split(" script:")[0])
            if "unknown command" in text.lower() or "Unknown Redis command" in text:
                return BrokerUnavailable(f"{where} has no Streams (needs Redis >= 6.2 with XADD/XRANGE): {text}")
            return BrokerUnavailable(f"{where} failed: {text}")
        if isinstance(error, UNREACHABLE):
            return BrokerUnavailable(f"{where} is unreachable within {self.timeout} s: {text or type(error).__name__}")
        return error


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except BaseException:  # closing after a fault: nothing more to report
        pass


class RedisBroker(Broker):
    """A ``Broker`` on Redis Streams: ``RedisBroker("redis://127.0.0.1:6379/0")``, or ``Broker(url)``.
    ``timeout`` bounds every Redis command (a publish while Redis is down raises ``BrokerUnavailable``
    after at most that long); ``prefix`` namespaces the keys."""

    def __init__(
        self,
        url: str,
        *,
        history: int = DEFAULT_HISTORY,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        on_reset: ResetPolicy = reset_frame,
        timeout: float = 2.0,
        max_backoff: float = 2.0,
        prefix: str = "sse_fast:",
    ) -> None:
        redis_log = RedisLog(url, history, timeout=timeout, max_backoff=max_backoff, prefix=prefix)
        super().__init__(queue_bytes=queue_bytes, on_reset=on_reset, log=redis_log)

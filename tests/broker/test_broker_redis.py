"""The broker on a real redis-server (Debian's, started and killed here): fan-out, resume across the
replay->live handoff, reset, Redis restarted mid-stream, publish while Redis is down, URL and password
errors, caller-given ids, one reader connection per process, a WSGI and an ASGI app sharing a topic."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any, Iterator, List, Tuple

import httpx
import pytest
from support.broker_apps import asgi_app, read_events, wsgi_app
from support.broker_clients import in_thread, run_clients, subscribers
from support.redis_server import RedisServer, missing_reason, redis_server
from support.servers import uvicorn_server, wait_until, waitress_server

import sse_fast
from sse_fast.broker.core import reset_frame
from sse_fast.errors import BrokerUnavailable, InvalidBrokerURL, InvalidEventId

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture
def redis(tmp_path: Any) -> Iterator[RedisServer]:
    with redis_server(str(tmp_path / "redis")) as server:
        yield server


@pytest.fixture
def broker(redis: RedisServer) -> Iterator[sse_fast.Broker]:
    broker = sse_fast.Broker(redis.url, timeout=1.0, max_backoff=0.2)
    yield broker
    close(broker)


def close(broker: sse_fast.Broker) -> None:
    asyncio.run(broker.close())


def our_connections(redis: RedisServer) -> List[str]:
    """The roles (``reader``, ``async``, ...) of this process's broker connections, from ``CLIENT LIST``."""
    import redis as redis_py

    mine = f"sse_fast:{os.getpid()}:"
    with redis_py.Redis.from_url(redis.url) as admin:
        names = [c.get("name", "") for c in admin.client_list()]
    return [n[len(mine) :] for n in names if n.startswith(mine)]


def test_broker_url_gives_a_redis_broker_and_every_subscriber_gets_every_event_in_order(
    broker: sse_fast.Broker,
) -> None:
    assert type(broker) is sse_fast.Broker and type(broker.log).__name__ == "RedisLog"
    with uvicorn_server(asgi_app(broker)) as server:
        clients = in_thread(lambda: run_clients(*(read_events(server.url + "/?topic=room", 30) for _ in range(10))))
        subscribers(broker, 10)
        ids = [broker.publish_sync("room", {"n": i}) for i in range(30)]
        results = clients.join()
    expected = [(i, "message", f'{{"n":{n}}}') for n, i in enumerate(ids)]
    assert all(got == expected for got in results)
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    stats = broker.stats()
    assert stats["published"] == 30 and stats["delivered"] == 300


def test_two_topics_interleave_in_publish_order_and_unwatched_topics_are_not_read(broker: sse_fast.Broker) -> None:
    with uvicorn_server(asgi_app(broker)) as server:
        clients = in_thread(lambda: run_clients(read_events(server.url + "/?topic=a&topic=b", 6)))
        subscribers(broker, 1)

        async def publish_all() -> None:
            for i in range(3):
                await broker.publish("a", f"a{i}")
                await broker.publish("nobody-here", "x")
                await broker.publish("b", f"b{i}", event="ev")

        asyncio.run_coroutine_threadsafe(publish_all(), server.loop).result(10)
        (both,) = clients.join()
    assert [d for _, _, d in both] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert [e for _, e, _ in both] == ["message", "ev"] * 3
    assert broker.stats()["published"] == 6  # this process never read the topic nobody follows here


def test_resume_across_the_replay_to_live_handoff_has_no_gap_and_no_duplicate(broker: sse_fast.Broker) -> None:
    """Events are published without pause while the client reconnects, replays and goes live."""
    with uvicorn_server(asgi_app(broker)) as server:
        url = server.url + "/?topic=room"
        first = in_thread(lambda: run_clients(read_events(url, 5)))
        subscribers(broker, 1)
        stop = threading.Event()
        published: List[str] = []

        def publisher() -> None:
            n = 0
            while not stop.is_set() and n < 2000:
                published.append(broker.publish_sync("room", str(n)))
                n += 1

        thread = threading.Thread(target=publisher)
        thread.start()
        (got,) = first.join()
        wait_until(lambda: len(published) > 40)
        (resumed,) = run_clients(read_events(url, 60, last_id=got[-1][0]))
        stop.set()
        thread.join(10)
    numbers = [int(d) for _, _, d in got + resumed]
    assert numbers == list(range(65)), numbers
    assert [i for i, _, _ in got + resumed] == published[:65]


def test_trimmed_unknown_and_future_ids_get_the_reset_frame_whose_id_resumes(redis: RedisServer) -> None:
    broker = sse_fast.Broker(redis.url, history=5)
    try:
        first = broker.publish_sync("room", "first")
        for i in range(400):  # MAXLEN ~ trims whole stream nodes (100 entries), so go well past one
            broker.publish_sync("room", i)
        last = broker.publish_sync("room", "last")
        with uvicorn_server(asgi_app(broker)) as server:
            url = server.url + "/?topic=room"
            got = run_clients(
                read_events(url, 1, last_id=first),
                read_events(url, 1, last_id="not-a-redis-id"),
                read_events(url, 1, last_id="99999999999999-0"),
            )
            head = got[0][0][0]
            assert head == last
            assert got == [[(last, "reset", "{}")]] * 3
            assert reset_frame(head) == f"id: {head}\nevent: reset\ndata: {{}}\n\n".encode()
            clients = in_thread(
                lambda: run_clients(
                    read_events(url, 1, last_id=last), read_events(url + "&topic=other", 1, last_id=head)
                )
            )
            subscribers(broker, 2)
            later = broker.publish_sync("room", "after reset")
            resumed = clients.join()  # before the server stops: the event may still be on its way
    finally:
        close(broker)
    assert resumed == [[(later, "message", "after reset")]] * 2


def test_caller_given_ids_must_be_later_redis_entry_ids(broker: sse_fast.Broker) -> None:
    auto = broker.publish_sync("room", "a")
    ms = int(auto.split("-")[0])
    given = broker.publish_sync("room", "b", id=f"{ms}-7")
    assert given == f"{ms}-7"
    for bad in ("order-17", "17", f"{ms}-7", f"{ms}-3", "1-0", f"{ms + 3_600_000}-0"):
        with pytest.raises(InvalidEventId) as info:
            broker.publish_sync("room", "never", id=bad)
        assert bad in str(info.value)
    after = broker.publish_sync("room", "c")
    assert broker.log.history_after_sync(["room"], auto)[1][0][1] == f"id: {given}\ndata: b\n\n".encode()
    assert [f for _, f in broker.log.history_after_sync(["room"], given)[1]] == [f"id: {after}\ndata: c\n\n".encode()]


def raw_stream(url: str, until: Any, lines: List[bytes]) -> List[bytes]:
    """Appends the lines of the stream (comments included) to ``lines`` until ``until(lines)`` is true."""
    with httpx.Client(timeout=20) as client:
        with client.stream("GET", url) as response:
            for line in response.iter_lines():
                lines.append(line.encode())
                if until(lines):
                    break
    return lines


def test_redis_killed_and_restarted_mid_stream_subscribers_stay_and_nothing_is_lost_or_repeated(
    redis: RedisServer, broker: sse_fast.Broker
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await sse_fast.ASGIResponse(broker.subscriber("room"), heartbeat=0.1)(scope, receive, send)

    with uvicorn_server(app) as server:
        data = lambda lines: [line for line in lines if line.startswith(b"data:")]  # noqa: E731
        lines: List[bytes] = []
        client = in_thread(lambda: raw_stream(server.url, lambda lines: len(data(lines)) >= 9, lines))
        subscribers(broker, 1)
        before = [broker.publish_sync("room", f"before {i}") for i in range(3)]
        wait_until(lambda: len(data(lines)) == 3)
        redis.kill()
        killed_at = len(lines)
        with pytest.raises(BrokerUnavailable) as info:
            broker.publish_sync("room", "lost")
        assert "unreachable" in str(info.value) and str(redis.port) in str(info.value)
        with pytest.raises(BrokerUnavailable):
            asyncio.run_coroutine_threadsafe(broker.publish("room", "lost"), server.loop).result(10)
        # heartbeats every 0.1 s go on while Redis is away
        wait_until(lambda: lines[killed_at:].count(b": heartbeat") >= 2)
        stats = broker.stats()
        redis.start()  # same port and dir: the AOF brings the stream back
        during = [broker.publish_sync("room", f"during {i}") for i in range(3)]  # the reader may still be away
        after = [broker.publish_sync("room", f"after {i}") for i in range(3)]
        client.join()
    assert data(lines) == [f"data: {w} {i}".encode() for w in ("before", "during", "after") for i in range(3)]
    assert [line[4:].decode() for line in lines if line.startswith(b"id:")] == before + during + after
    assert stats["subscribers"] == 1  # one connection throughout: raw_stream never reconnects


def test_publish_while_redis_is_down_raises_within_the_timeout_and_recovers(redis: RedisServer) -> None:
    broker = sse_fast.Broker(redis.url, timeout=0.5)
    try:
        broker.publish_sync("room", "up")
        redis.kill()
        outcome = in_thread(lambda: pytest.raises(BrokerUnavailable, broker.publish_sync, "room", "down"))
        assert "unreachable" in str(outcome.join(timeout=5).value)  # returns, never hangs
        redis.start()
        assert broker.publish_sync("room", "up again")
    finally:
        close(broker)


def test_publish_while_redis_is_frozen_fails_on_the_logs_own_bound(redis: RedisServer) -> None:
    """SIGSTOP: the connection stays open and nothing answers; every call, async, from a thread or a replay,
    is cut at ``timeout`` (by the log's own bound, or the socket's read timeout, whichever fires first)."""
    broker = sse_fast.Broker(redis.url, timeout=0.3)
    try:
        first = broker.publish_sync("room", "up")
        assert redis.process is not None
        redis.process.send_signal(signal.SIGSTOP)
        try:
            for call in (
                lambda: broker.publish_sync("room", "frozen"),
                lambda: asyncio.run(broker.publish("room", "frozen")),
                lambda: broker.log.history_after_sync(["room"], first),
            ):
                with pytest.raises(BrokerUnavailable) as info:
                    call()
                assert "within 0.3 s" in str(info.value)  # the log's bound, or the socket's when it fires first
        finally:
            redis.process.send_signal(signal.SIGCONT)
        assert broker.publish_sync("room", "thawed")
    finally:
        close(broker)


def test_a_failed_log_thread_fails_every_call_with_its_cause() -> None:
    """The log's thread cannot build its connection pool (a bad option in the URL): each publish, async or
    not, and each subscribe raises BrokerUnavailable with the cause attached; none hangs."""
    broker = sse_fast.Broker("redis://127.0.0.1:1/0?socket_timeout=oops", timeout=0.5)
    try:
        for _ in range(2):
            with pytest.raises(BrokerUnavailable) as info:
                broker.publish_sync("room", "x")
            assert isinstance(info.value.__cause__, ValueError) and "socket_timeout" in str(info.value)
            with pytest.raises(BrokerUnavailable):
                asyncio.run(broker.publish("room", "x"))
            with pytest.raises(BrokerUnavailable):
                broker.log.watch("room")
    finally:
        close(broker)


def test_bad_urls_and_credentials_raise_errors_that_name_the_problem(tmp_path: Any) -> None:
    for url, part in [
        ("redis://127.0.0.1:notaport/0", "port"),
        ("redis://127.0.0.1:6379/zero", "database"),
        ("redis:///0", "host"),
        ("http://127.0.0.1:6379", "redis://"),
        ("redis://:secret@127.0.0.1:port", "***"),
    ]:
        with pytest.raises(InvalidBrokerURL) as info:
            sse_fast.Broker(url)
        assert part in str(info.value) and "secret" not in str(info.value)
    with redis_server(str(tmp_path / "auth"), password="right") as server:
        for url in (server.url.replace(":right@", ":wrong@"), server.url.replace(":right@", "")):
            broker = sse_fast.Broker(url, timeout=1.0)
            try:
                with pytest.raises(BrokerUnavailable) as info:
                    broker.publish_sync("room", "x")
                assert "password" in str(info.value) and "wrong@" not in str(info.value)
            finally:
                close(broker)
        broker = sse_fast.Broker(server.url)
        try:
            assert broker.publish_sync("room", "x")
        finally:
            close(broker)


def test_a_redis_without_streams_is_named(tmp_path: Any) -> None:
    server = RedisServer(str(tmp_path))
    server.command = lambda: RedisServer.command(server) + ["--rename-command", "XADD", ""]  # type: ignore
    server.start()
    broker = sse_fast.Broker(server.url)
    try:
        with pytest.raises(BrokerUnavailable) as info:
            broker.publish_sync("room", "x")
        assert "no Streams" in str(info.value)
    finally:
        close(broker)
        server.stop()


def test_one_reader_connection_per_process_whatever_the_subscribers(
    redis: RedisServer, broker: sse_fast.Broker
) -> None:
    def roles_once_the_reader_is_in() -> List[str]:
        now = our_connections(redis)
        return now if "reader" in now else []

    with uvicorn_server(asgi_app(broker)) as server:
        urls = [server.url + f"/?topic=t{i % 5}" for i in range(100)]
        clients = in_thread(lambda: run_clients(*(read_events(url, 1, timeout=30) for url in urls)))
        wait_until(lambda: broker.stats()["subscribers"] == 100, timeout=30)
        # the reader connects in the broker's own thread once topics are watched: count after it has
        during = wait_until(roles_once_the_reader_is_in, timeout=10)

        async def publish_all() -> None:
            for i in range(5):
                await broker.publish(f"t{i}", i)

        asyncio.run_coroutine_threadsafe(publish_all(), server.loop).result(10)
        clients.join()
        after = our_connections(redis)
    # one reader; the async commands' pool is capped at 4; no sync client yet: never one per subscriber
    for seen in (during, after):
        assert seen.count("reader") == 1 and seen.count("async") <= 4 and len(seen) <= 5, seen


def test_a_waitress_wsgi_app_and_a_uvicorn_asgi_app_share_one_topic(redis: RedisServer) -> None:
    """Two brokers on one Redis, as two processes would have: each publishes, both apps' clients get all."""
    wsgi_broker, asgi_broker = sse_fast.Broker(redis.url), sse_fast.Broker(redis.url)
    try:
        with waitress_server(wsgi_app(wsgi_broker)) as w, uvicorn_server(asgi_app(asgi_broker)) as a:
            clients = in_thread(lambda: run_clients(read_events(w.url + "/?topic=room", 4), read_events(a.url, 4)))
            subscribers(wsgi_broker, 1)
            subscribers(asgi_broker, 1)
            ids: List[Tuple[str, str]] = []
            for i in range(2):
                ids.append((wsgi_broker.publish_sync("room", f"wsgi {i}"), f"wsgi {i}"))
                fut = asyncio.run_coroutine_threadsafe(asgi_broker.publish("room", f"asgi {i}"), a.loop)
                ids.append((fut.result(10), f"asgi {i}"))
            from_wsgi, from_asgi = clients.join()
    finally:
        close(wsgi_broker)
        close(asgi_broker)
    expected = [(i, "message", d) for i, d in ids]
    assert from_wsgi == from_asgi == expected


def test_close_ends_the_reader_thread_and_its_connections(redis: RedisServer) -> None:
    broker = sse_fast.Broker(redis.url)
    broker.log.watch("room")
    broker.publish_sync("room", "x")
    wait_until(lambda: "reader" in our_connections(redis))
    close(broker)
    assert not [t for t in threading.enumerate() if t.name == "sse_fast-redis"]
    wait_until(lambda: not our_connections(redis))


def test_subscribe_unsubscribe_cycles_on_new_topics_leave_nothing_behind(
    redis: RedisServer, broker: sse_fast.Broker
) -> None:
    """Each cycle watches a topic no one else follows, then unwatches it (each re-issues the reader's XREAD)."""
    with uvicorn_server(asgi_app(broker)) as server:

        async def cycle(i: int) -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                async with client.stream("GET", server.url + f"/?topic=t{i}") as response:
                    assert response.status_code == 200

        async def cycles() -> None:
            for start in range(0, 120, 30):
                await asyncio.gather(*(cycle(i) for i in range(start, start + 30)))

        asyncio.run(cycles())
        wait_until(lambda: broker.stats()["subscribers"] == 0 and not broker.log._watched, timeout=10)
    loop = broker.log._loop
    tasks = asyncio.run_coroutine_threadsafe(_count_tasks(), loop).result(5)
    assert tasks <= 2, tasks  # the reader, and this count
    assert broker.stats()["topics"] == 0
    assert len([t for t in threading.enumerate() if t.name == "sse_fast-redis"]) == 1
    wait_until(lambda: our_connections(redis).count("reader") == 1)


async def _count_tasks() -> int:
    return len(asyncio.all_tasks())

"""The written figures (events, bytes, heartbeats) scraped from real servers match what the clients got,
on both twins of the async write path (run the file again with SSE_FAST_NO_EXTENSIONS=1) and the sync
writer; the Redis reader's figures on a real redis-server killed and started again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest
from support.redis_server import RedisServer, missing_reason, redis_server
from support.servers import uvicorn_server, wait_until, waitress_server
from test_metrics import Samples, scrape, value

import sse_fast
import sse_fast.metrics
from sse_fast.errors import BrokerUnavailable

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")), reason="these tests are the single-process mode"
)
HEARTBEAT = b": heartbeat\n\n"
WRITTEN = ("sse_fast_events_written_total", "sse_fast_bytes_written_total", "sse_fast_heartbeats_total")


def written(samples: Samples) -> List[float]:
    return [value(samples, name) for name in WRITTEN]


def asgi_app(stream: Any) -> Any:
    scrape_app = sse_fast.metrics.asgi_app()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await (scrape_app if scope["path"].startswith("/metrics") else stream)(scope, receive, send)

    return app


def wsgi_app(stream: Any) -> Any:
    scrape_app = sse_fast.metrics.wsgi_app()

    def app(environ: Dict[str, Any], start_response: Any) -> Any:
        return (scrape_app if str(environ["PATH_INFO"]).startswith("/metrics") else stream)(environ, start_response)

    return app


def frames(body: bytes) -> List[bytes]:
    return [frame + b"\n\n" for frame in body.split(b"\n\n") if frame]


def test_an_open_then_ended_asgi_stream_is_counted_as_its_client_read_it() -> None:
    async def hold(writer: sse_fast.AsyncWriter) -> None:
        for i in range(3):
            await writer.write_event({"n": i})
        await writer.write_event_with_name("tick", "x" * 1000)
        await writer.context.wait()

    with uvicorn_server(asgi_app(sse_fast.ASGIResponse(hold, heartbeat=None))) as server:
        http = httpx.Client(base_url=server.url, timeout=10)
        before = written(scrape(http))
        body = b""
        with http.stream("GET", "/events") as response:
            for chunk in response.iter_raw():
                body += chunk
                if len(frames(body)) == 4 and body.endswith(b"\n\n"):
                    break
            open_now = written(scrape(http))
        assert [now - was for now, was in zip(open_now, before)] == [4, len(body), 0]
        # ended: the figures move to the process's total and stay
        assert wait_until(lambda: value(scrape(http), "sse_fast_open_streams", transport="asgi") == 0)
        assert [now - was for now, was in zip(written(scrape(http)), before)] == [4, len(body), 0]
        http.close()


def read_one_stream(url: str, transport: str) -> Tuple[bytes, List[float]]:
    """The body of one whole ``/events`` stream, and what the scrape's written figures (events, bytes,
    heartbeats) grew by once the stream had ended."""
    with httpx.Client(base_url=url, timeout=10) as http:
        before = written(scrape(http))
        body = http.get("/events").content
        assert wait_until(lambda: value(scrape(http), "sse_fast_open_streams", transport=transport) == 0)
        after = written(scrape(http))
    return body, [now - was for now, was in zip(after, before)]


def test_asgi_heartbeats_are_counted_apart_from_events() -> None:
    async def beats(writer: sse_fast.AsyncWriter) -> None:
        await writer.write_raw_event("first")
        await asyncio.sleep(0.35)  # heartbeats every ~0.05 s meanwhile
        await writer.write_raw_event("last")

    with uvicorn_server(asgi_app(sse_fast.ASGIResponse(beats, heartbeat=0.05))) as server:
        body, counted = read_one_stream(server.url, "asgi")
    got = frames(body)
    assert got.count(HEARTBEAT) >= 2
    events = len(got) - got.count(HEARTBEAT)
    assert counted == [events, len(body), got.count(HEARTBEAT)]


def test_wsgi_stream_with_heartbeats_is_counted_as_its_client_read_it() -> None:
    def beats(writer: sse_fast.Writer) -> None:
        writer.write_raw_event("first")
        writer.context.wait_sync(0.35)  # heartbeats every 0.05 s meanwhile
        writer.write_event({"n": 2})

    with waitress_server(wsgi_app(sse_fast.WSGIResponse(beats, heartbeat=0.05))) as server:
        body, counted = read_one_stream(server.url, "wsgi")
    got = frames(body)
    assert got.count(HEARTBEAT) >= 2
    events = len(got) - got.count(HEARTBEAT)
    assert events == 2
    assert counted == [events, len(body), got.count(HEARTBEAT)]


@pytest.fixture
def redis(tmp_path: Any) -> Iterator[RedisServer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with redis_server(str(tmp_path / "redis")) as server:
        yield server


def test_the_redis_readers_reconnects_and_unavailable_errors_are_scraped(redis: RedisServer) -> None:
    broker = sse_fast.Broker(redis.url, timeout=0.5, max_backoff=0.1)
    sse_fast.metrics.watch(broker)
    got: List[str] = []

    async def follow(writer: sse_fast.AsyncWriter) -> None:
        await broker.subscriber("room")(writer)

    try:
        assert broker.log.stats() == {"lag_entries": 0, "lag_ms": 0, "reconnects": 0, "unavailable": 0}
        with uvicorn_server(asgi_app(sse_fast.ASGIResponse(follow, heartbeat=None))) as server:
            http = httpx.Client(base_url=server.url, timeout=10)

            def read() -> None:
                with http.stream("GET", "/events") as response:
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            got.append(line[6:])
                            if len(got) == 2:
                                return

            with contextlib.ExitStack() as stack:
                reader = threading.Thread(target=read, daemon=True)
                reader.start()
                stack.callback(reader.join, 10)
                assert wait_until(lambda: broker.stats()["subscribers"] == 1)
                broker.publish_sync("room", "before")
                assert wait_until(lambda: got == ["before"])
                redis.kill()
                with pytest.raises(BrokerUnavailable):
                    broker.publish_sync("room", "lost")
                assert wait_until(lambda: broker.log.stats()["reconnects"] >= 2)
                samples = scrape(http)
                assert value(samples, "sse_fast_broker_unavailable_total") >= 1
                assert value(samples, "sse_fast_redis_reader_reconnects_total") >= 2
                redis.start()
                broker.publish_sync("room", "after")
                assert wait_until(lambda: got == ["before", "after"], timeout=10)
            samples = scrape(http)
            http.close()
        stats = broker.log.stats()
        assert stats["unavailable"] >= 1 and stats["reconnects"] >= 2
        assert value(samples, "sse_fast_broker_unavailable_total") == stats["unavailable"]
        assert value(samples, "sse_fast_redis_reader_reconnects_total") == stats["reconnects"]
    finally:
        asyncio.run(broker.close())


def test_the_redis_readers_lag_is_the_entries_one_read_returned(redis: RedisServer) -> None:
    """Five entries appended in one transaction wake the reader's XREAD once: it reads all five at once."""
    import gc

    import redis as redis_py

    from sse_fast.broker.redis import APPEND

    gc.collect()  # brokers of earlier tests leave the watched set
    broker = sse_fast.Broker(redis.url, timeout=1.0)
    sse_fast.metrics.watch(broker)
    got: List[str] = []
    done = threading.Event()  # the stream stays open till then (leaving would unwatch the topic: a new read)

    async def follow(writer: sse_fast.AsyncWriter) -> None:
        await broker.subscriber("room")(writer)

    try:
        with uvicorn_server(asgi_app(sse_fast.ASGIResponse(follow, heartbeat=None))) as server:
            http = httpx.Client(base_url=server.url, timeout=10)

            def read() -> None:
                with http.stream("GET", "/events") as response:
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            got.append(line[6:])
                            if len(got) == 6:
                                done.wait(10)
                                return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert wait_until(lambda: broker.stats()["subscribers"] == 1)
            broker.publish_sync("room", "one")
            assert wait_until(lambda: len(got) == 1)
            assert broker.log.stats()["lag_entries"] == 1
            keys, args = broker.log._append_args("room", b"data: five\n\n", None)
            with redis_py.Redis.from_url(redis.url) as admin:
                pipe = admin.pipeline(transaction=True)
                for _ in range(5):
                    pipe.eval(APPEND, len(keys), *keys, *args)
                pipe.execute()
            assert wait_until(lambda: len(got) == 6)
            stats = broker.log.stats()  # the next read blocks for up to 5 s: the figures are the last read's
            samples = scrape(http)
            done.set()
            reader.join(10)
            http.close()
        assert got == ["one"] + ["five"] * 5
        assert stats["lag_entries"] == 5 and stats["lag_ms"] >= 0
        assert value(samples, "sse_fast_redis_reader_lag_entries") == 5
    finally:
        asyncio.run(broker.close())

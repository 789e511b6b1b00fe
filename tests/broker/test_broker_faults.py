"""Fault injection over real sockets and processes: whatever happens (a burst, a worker killed or stopped,
Redis killed, stopped, restarted empty, flushed, trimmed, bad ids), every client that reconnects with its
``Last-Event-ID`` gets exactly what it missed or a reset frame marking the gap: ``fault_checker.check``
finds no silent gap, duplicate, disorder or missing tail. Select with ``-m faults``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
import redis as redis_py
from support.fault_checker import Clients, Recorder, boot_of, memory_key, redis_key
from support.fault_harness import (
    Truth,
    Worker,
    cluster,
    publishing,
    settle,
    summary,
    verify,
    wait_subscribers,
    workers,
)
from support.redis_server import RedisServer, missing_reason

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("error")]
needs_redis = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))

TOPIC = "room"
STREAM = "sse_fast:t:" + TOPIC
Cluster = Tuple[RedisServer, List[Worker]]


def recorders(urls: Any, n: int, name: str, **options: Any) -> List[Recorder]:
    return [Recorder(urls, name=f"{name}{i}", **options) for i in range(n)]


def client_of(server: RedisServer) -> redis_py.Redis:
    """A Redis client of the test's own (close it: ``with client_of(server) as r``)."""
    return redis_py.Redis.from_url(server.url, socket_timeout=5)


# -- in-process broker, one uvicorn process ------------------------------------------------------------------


@pytest.fixture
def memory_worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Worker]:
    history = getattr(request, "param", {}).get("history", 5000)
    with workers(1, {"SSE_FAST_HISTORY": str(history)}, str(tmp_path / "workers")) as (worker,):
        yield worker


@pytest.mark.parametrize(
    "threads, readers", [(0, 100), (8, 20)], ids=["await-publish-100-readers", "8-threads-20-readers"]
)
def test_memory_burst_reaches_every_reader_and_drops_none(memory_worker: Worker, threads: int, readers: int) -> None:
    """1000 publishes of 300 bytes in a tight loop (or from 8 threads): every reader that keeps up gets all."""
    worker, truth = memory_worker, Truth()
    clients = recorders(worker.events_url(TOPIC), readers, "reader")
    with Clients(clients):
        wait_subscribers([(worker, readers)])
        first = truth.must_publish(worker, TOPIC, "ready")
        key = memory_key(boot_of(first))
        settle(clients, first, key)
        truth.add(worker.burst(TOPIC, n=1000, pad=300, threads=threads), TOPIC, "x" * 300)
        sentinel = truth.must_publish(worker, TOPIC, "end")
        settle(clients, sentinel, key, timeout=60)
        stats = worker.stats()
    verify(
        truth,
        clients,
        key,
        TOPIC,
        sentinel,
        context=f"connections: {summary(clients)}; stats {stats}",
        workers=(worker,),
    )
    assert stats["dropped_slow"] == 0, f"readers that keep up were dropped as slow: {stats}; {summary(clients)}"
    assert all(len(r.connections) == 1 for r in clients), f"readers reconnected: {summary(clients)}"


@pytest.mark.parametrize("memory_worker", [{"history": 50}], indirect=True)
def test_memory_client_away_past_history_gets_a_reset(memory_worker: Worker) -> None:
    """A client away while more than ``history`` events were published comes back to a reset frame."""
    worker, truth = memory_worker, Truth()
    away = recorders(worker.events_url(TOPIC), 3, "away")
    with Clients(away):
        wait_subscribers([(worker, 3)])
        first = truth.must_publish(worker, TOPIC, "ready")
        key = memory_key(boot_of(first))
        settle(away, first, key)
    truth.add(worker.burst(TOPIC, n=200), TOPIC, "")
    back = [Recorder(worker.events_url(TOPIC), initial=first, name=f"back{i}") for i in range(3)]
    with Clients(back):
        wait_subscribers([(worker, 3)])
        sentinel = truth.must_publish(worker, TOPIC, "end")
        settle(back, sentinel, key)
        stats = worker.stats()
    verify(truth, back, key, TOPIC, sentinel, context=summary(back), workers=(worker,))
    if "resets_trimmed" in stats:
        assert stats["resets_trimmed"] >= 3, f"three resets for trimmed ids, counted: {stats}"


@pytest.mark.parametrize("threads", [0, 4], ids=["await-publish", "4-threads-publish-sync"])
def test_memory_a_stalled_reader_is_dropped_cleanly_and_resumes_exactly(memory_worker: Worker, threads: int) -> None:
    """A reader that stops reading is dropped as slow with its response ended properly (the chunked body
    ends); it reconnects with its Last-Event-ID and gets exactly what it missed; the others miss nothing,
    and publishers (on the loop or in threads) are slowed, never stuck."""
    worker, truth = memory_worker, Truth()
    stalled, healthy = Recorder(worker.events_url(TOPIC), name="stalled"), recorders(worker.events_url(TOPIC), 5, "ok")
    with Clients([stalled] + healthy):
        wait_subscribers([(worker, 6)])
        first = truth.must_publish(worker, TOPIC, "ready")
        key = memory_key(boot_of(first))
        settle([stalled] + healthy, first, key)
        stalled.stalled = True
        try:
            deadline = time.monotonic() + 30  # a guard against a hang: the drop must come long before
            n = 0
            while worker.stats()["dropped_slow"] == 0 and time.monotonic() < deadline:
                truth.add(worker.burst(TOPIC, n=20, pad=4000, threads=threads), TOPIC, "x" * 4000)
                n += 20
        finally:
            stalled.stalled = False
        sentinel = truth.must_publish(worker, TOPIC, "end")
        settle([stalled] + healthy, sentinel, key, timeout=30)
        stats = worker.stats()
    verify(
        truth,
        [stalled] + healthy,
        key,
        TOPIC,
        sentinel,
        context=f"{summary([stalled] + healthy)}; {stats}",
        workers=(worker,),
    )
    assert stats["dropped_slow"] >= 1, f"the stalled reader was never dropped after {n} events of 4 KB: {stats}"
    ends = [c.end for c in stalled.connections[:-1]]
    assert ends and all(e == "clean" for e in ends), f"the slow reader's response did not end properly: {ends}"
    assert all(len(r.connections) == 1 for r in healthy), f"healthy readers were dropped: {summary(healthy)}"


def bad_ids(boot: str) -> List[Any]:
    """Last-Event-IDs no engine can serve: non-ASCII digits, over 1 KiB, invalid UTF-8, 0-0, garbage."""
    return [
        "1-\u00b2",
        "\u0661\u0667-\u0660",
        "\uff11-\uff10",
        "1" * 1100 + "-0",
        b"\xff\xfe-1",
        "0-0",
        "garbage",
        f"{boot}-\u00b2",
        f"{boot}-\u0661\u0667",
        f"{boot}-\uff11",
        f"{boot}-99999999",
        "ffffffffffff-1",
    ]


def check_bad_ids(workers_: List[Worker], key: Any, boot: str) -> None:
    """Each bad Last-Event-ID gets the reset frame first, then the live stream."""
    truth = Truth()
    for n in range(3):
        truth.must_publish(workers_[n % len(workers_)], TOPIC, f"before {n}")
    ids = bad_ids(boot)
    clients = [
        Recorder(workers_[i % len(workers_)].events_url(TOPIC), initial=bad, name=f"bad{i}:{bad!r:.24}")
        for i, bad in enumerate(ids)
    ]
    with Clients(clients):
        subscribed = [(w, sum(1 for i in range(len(ids)) if i % len(workers_) == n)) for n, w in enumerate(workers_)]
        try:
            wait_subscribers(subscribed, timeout=10)
        except AssertionError:
            pass  # a client whose request fails is not subscribed: the check below says why
        for n in range(5):
            truth.must_publish(workers_[n % len(workers_)], TOPIC, f"live {n}")
        sentinel = truth.must_publish(workers_[0], TOPIC, "end")
        settle(clients, sentinel, key, timeout=10)
    failed = [f"{r.name}: {c.end}" for r in clients for c in r.connections if c.end not in ("stopped", "clean")]
    raised = "".join(w.tracebacks() for w in workers_)[:800]
    context = "connections that failed: " + "; ".join(failed[:12]) + (f"\nworker log: {raised}" if raised else "")
    verify(truth, clients, key, TOPIC, sentinel, context=context, workers=workers_)
    assert not failed, "a bad Last-Event-ID broke the response: " + "; ".join(failed[:12])
    for worker in workers_:
        assert not worker.tracebacks(), f"a bad Last-Event-ID raised in the worker:\n{worker.tracebacks()}"


def test_memory_bad_last_event_ids_get_the_reset_frame_then_live_events(memory_worker: Worker) -> None:
    first = Truth().must_publish(memory_worker, TOPIC, "boot")
    check_bad_ids([memory_worker], memory_key(boot_of(first)), boot_of(first))


# -- Redis, two uvicorn workers ------------------------------------------------------------------------------


@pytest.fixture
def redis_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    options = getattr(request, "param", {})
    with cluster(str(tmp_path / "redis"), **options) as started:
        yield started


@needs_redis
def test_redis_worker_killed_mid_stream_clients_fail_over_with_their_last_id(redis_cluster: Cluster) -> None:
    _, (a, b) = redis_cluster
    truth = Truth()
    on_a = recorders([a.events_url(TOPIC), b.events_url(TOPIC)], 10, "a")
    on_b = recorders([b.events_url(TOPIC), a.events_url(TOPIC)], 10, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 10), (b, 10)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)

        def publish_many() -> None:
            for n in range(150):
                truth.publish(b, TOPIC, f"e{n}")
                time.sleep(0.003)

        publisher = threading.Thread(target=publish_many)
        publisher.start()
        while len(truth.events) < 50 and publisher.is_alive():
            time.sleep(0.005)
        a.kill()
        publisher.join(60)
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    assert not truth.failed, f"publishes through the live worker failed: {truth.failed[:5]}"
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        context=f"connections: {summary(on_a + on_b)}",
        workers=(a, b),
    )
    assert all(len(r.connections) >= 2 for r in on_a), f"A's clients did not fail over: {summary(on_a)}"


@needs_redis
def test_redis_worker_stopped_within_history_its_clients_get_every_event(redis_cluster: Cluster) -> None:
    _, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 10, "a"), recorders(b.events_url(TOPIC), 5, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 10), (b, 5)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        a.pause()
        try:
            truth.add(b.burst(TOPIC, n=100), TOPIC)
            time.sleep(0.3)
        finally:
            a.resume()
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        context=f"connections: {summary(on_a + on_b)}",
        workers=(a, b),
    )
    resets = [(r.name, f.id) for r in on_a + on_b for f in r.resets()]
    assert not resets, f"the history held every event, yet clients got reset frames: {resets[:5]}"


@needs_redis
@pytest.mark.parametrize("redis_cluster", [{"history": 50}], indirect=True)
def test_redis_worker_stopped_past_history_its_clients_get_a_reset_at_the_gap(redis_cluster: Cluster) -> None:
    server, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 10, "a"), recorders(b.events_url(TOPIC), 5, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 10), (b, 5)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        a.pause()
        try:
            truth.add(b.burst(TOPIC, n=150), TOPIC)
            settle(on_b, truth.events[-1].id, redis_key)
            with client_of(server) as r:
                length = r.xlen(STREAM)
        finally:
            a.resume()
        assert length < 150, f"the stream kept {length} entries: no trimming, the scenario proves nothing"
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        context=f"stream kept {length}; {summary(on_a + on_b)}",
        workers=(a, b),
    )


@needs_redis
def test_redis_killed_with_aof_everything_resumes_exactly(redis_cluster: Cluster) -> None:
    server, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 5, "a"), recorders(b.events_url(TOPIC), 5, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 5), (b, 5)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        for n in range(20):
            truth.publish((a, b)[n % 2], TOPIC, f"before {n}")
        server.kill()
        down = a.publish(TOPIC, "while down")
        server.start()
        for n in range(20):
            truth.must_publish((a, b)[n % 2], TOPIC, f"after {n}")
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        unacknowledged_ok=True,
        context=summary(on_a + on_b),
        workers=(a, b),
    )
    resets = [(r.name, f.id) for r in on_a + on_b for f in r.resets()]
    assert not resets, f"Redis kept everything (AOF), yet clients got reset frames: {resets[:5]}"
    assert down.status_code == 400 and down.text.startswith("BrokerUnavailable"), f"while down: {down.text[:200]}"


@needs_redis
@pytest.mark.parametrize("redis_cluster", [{"persistence": False}], indirect=True)
def test_redis_restarted_empty_old_ids_and_live_gaps_get_a_reset(redis_cluster: Cluster) -> None:
    """No persistence: a client back with a pre-restart id, and the live clients of a worker that missed
    events Redis then lost, each get a reset frame at the gap."""
    server, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 5, "a"), recorders(b.events_url(TOPIC), 5, "b")
    away = recorders(b.events_url(TOPIC), 3, "away")
    with Clients(on_a + on_b):
        with Clients(away):
            wait_subscribers([(a, 5), (b, 8)])
            first = truth.must_publish(b, TOPIC, "ready")
            settle(on_a + on_b + away, first, redis_key)
        for n in range(10):
            truth.must_publish(b, TOPIC, f"away missed {n}")
        settle(on_a + on_b, truth.events[-1].id, redis_key)
        a.pause()
        try:
            for n in range(10):
                truth.must_publish(b, TOPIC, f"A missed {n}")
            settle(on_b, truth.events[-1].id, redis_key)
            server.restart()  # kill -9, back empty
        finally:
            a.resume()
        for n in range(10):
            truth.must_publish((a, b)[n % 2], TOPIC, f"after {n}")
        back = [Recorder(b.events_url(TOPIC), initial=first, name=f"back{i}") for i in range(3)]
        with Clients(back):
            wait_subscribers([(b, 8)], timeout=10)
            sentinel = truth.must_publish(a, TOPIC, "end")
            settle(on_a + on_b + back, sentinel, redis_key)
    verify(
        truth,
        on_a + on_b + back,
        redis_key,
        TOPIC,
        sentinel,
        unacknowledged_ok=True,
        context=summary(on_a + back),
        workers=(a, b),
    )


@needs_redis
def test_redis_stopped_publishes_fail_within_the_timeout_and_nothing_is_lost(redis_cluster: Cluster) -> None:
    server, (a, b) = redis_cluster
    assert server.process is not None
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 5, "a"), recorders(b.events_url(TOPIC), 5, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 5), (b, 5)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        for n in range(10):
            truth.must_publish((a, b)[n % 2], TOPIC, f"before {n}")
        server.process.send_signal(19)  # SIGSTOP
        try:
            stopped = time.monotonic()
            answers = [(a, b)[n % 2].publish(TOPIC, f"while stopped {n}") for n in range(2)]
            time.sleep(max(0.0, 1.5 - (time.monotonic() - stopped)))
        finally:
            server.process.send_signal(18)  # SIGCONT
        for n in range(10):
            truth.must_publish((a, b)[n % 2], TOPIC, f"after {n}")
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    bad = [f"{r.status_code} {r.text[:120]}" for r in answers if not r.text.startswith("BrokerUnavailable")]
    assert not bad, f"a publish while Redis was stopped did not fail with BrokerUnavailable: {bad}"
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        unacknowledged_ok=True,
        context=summary(on_a + on_b),
        workers=(a, b),
    )


@needs_redis
def test_redis_flushall_a_client_back_with_a_flushed_id_and_a_stopped_worker_get_a_reset(
    redis_cluster: Cluster,
) -> None:
    """FLUSHALL: a client back with a flushed id, and the live clients of a worker stopped while events it
    never delivered were flushed, each get a reset frame at the gap; B's live clients miss nothing."""
    server, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 5, "a"), recorders(b.events_url(TOPIC), 5, "b")
    away = recorders(a.events_url(TOPIC), 3, "away")
    with Clients(on_a + on_b):
        with Clients(away):
            wait_subscribers([(a, 8), (b, 5)])
            first = truth.must_publish(b, TOPIC, "ready")
            settle(on_a + on_b + away, first, redis_key)
        a.pause()
        try:
            for n in range(10):
                truth.must_publish(b, TOPIC, f"flushed {n}")
            settle(on_b, truth.events[-1].id, redis_key)
            with client_of(server) as r:
                r.flushall()
        finally:
            a.resume()
        for n in range(10):
            truth.must_publish((a, b)[n % 2], TOPIC, f"after {n}")
        back = [Recorder(a.events_url(TOPIC), initial=first, name=f"back{i}") for i in range(3)]
        with Clients(back):
            wait_subscribers([(a, 8)], timeout=10)
            sentinel = truth.must_publish(b, TOPIC, "end")
            settle(on_a + on_b + back, sentinel, redis_key)
    verify(truth, on_a + on_b + back, redis_key, TOPIC, sentinel, context=summary(on_a + on_b + back), workers=(a, b))


@needs_redis
def test_redis_xtrim_while_a_client_is_away_gets_it_a_reset(redis_cluster: Cluster) -> None:
    server, (a, b) = redis_cluster
    truth = Truth()
    away = recorders(a.events_url(TOPIC), 3, "away")
    with Clients(away):
        wait_subscribers([(a, 3)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(away, first, redis_key)
    truth.add(b.burst(TOPIC, n=200), TOPIC)
    with client_of(server) as r:
        r.xtrim(STREAM, maxlen=5, approximate=False)
    back = [Recorder((a, b)[i % 2].events_url(TOPIC), initial=first, name=f"back{i}") for i in range(4)]
    with Clients(back):
        wait_subscribers([(a, 2), (b, 2)])
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(back, sentinel, redis_key)
    verify(truth, back, redis_key, TOPIC, sentinel, context=summary(back), workers=(a, b))


@needs_redis
def test_redis_caller_ids_in_the_past_or_ahead_are_refused_and_accepted_ones_reach_every_process(
    redis_cluster: Cluster,
) -> None:
    server, (a, b) = redis_cluster
    with client_of(server) as redis:
        caller_ids(redis, a, b)


def caller_ids(redis: redis_py.Redis, a: Worker, b: Worker) -> None:
    seconds, micros = redis.time()
    now = seconds * 1000 + micros // 1000
    refused = {
        "5 s in the past": f"{now - 5000}-0",
        "1.5 s in the past": f"{now - 1500}-0",
        "a minute ahead": f"{now + 60000}-0",
        "fullwidth digits": "\uff11-\uff10",
        "Arabic-Indic digits": "\u0661\u0667-\u0660",
        "superscript": "1-\u00b2",
    }
    answers = {why: a.publish(TOPIC, "refused", id=id) for why, id in refused.items()}
    wrong = {
        why: f"{r.status_code} {r.text[:100]}" for why, r in answers.items() if not r.text.startswith("InvalidEventId")
    }
    assert not wrong, f"caller ids that must be refused with InvalidEventId were not: {wrong}"
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 3, "a"), recorders(b.events_url(TOPIC), 3, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 3), (b, 3)])
        first = truth.must_publish(a, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        stored = redis.get("sse_fast:last") or b"0-1"
        last = redis_key(stored.decode() if isinstance(stored, bytes) else stored)
        seconds, micros = redis.time()
        mine = max((seconds * 1000 + micros // 1000, 0), (last[0], last[1] + 1))
        caller = "%d-%d" % mine
        response = b.publish(TOPIC, "caller", id=caller)
        assert response.status_code == 200 and response.text == caller, f"{caller} refused: {response.text}"
        truth.add([caller], TOPIC, "caller")
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    verify(truth, on_a + on_b, redis_key, TOPIC, sentinel, context=summary(on_a + on_b), workers=(a, b))


@needs_redis
def test_redis_bad_last_event_ids_get_the_reset_frame_then_live_events(redis_cluster: Cluster) -> None:
    _, (a, b) = redis_cluster
    check_bad_ids([a, b], redis_key, "ffffffffffff")


# -- more than one topic, and a watcher that just came -------------------------------------------------------

SIDE = "side"


@pytest.mark.parametrize("memory_worker", [{"history": 50}], indirect=True)
def test_memory_two_topics_away_while_one_is_trimmed_gets_a_reset(memory_worker: Worker) -> None:
    worker, truth = memory_worker, Truth()
    away = recorders(worker.events_url(TOPIC, SIDE), 2, "away")
    with Clients(away):
        wait_subscribers([(worker, 2)])
        first = truth.must_publish(worker, TOPIC, "ready")
        key = memory_key(boot_of(first))
        settle(away, first, key)
    truth.add(worker.burst(SIDE, n=100), SIDE, "")
    for n in range(3):
        truth.must_publish(worker, TOPIC, f"room {n}")
    back = [Recorder(worker.events_url(TOPIC, SIDE), initial=first, name=f"back{i}") for i in range(2)]
    room_only = [Recorder(worker.events_url(TOPIC), initial=first, name=f"room-only{i}") for i in range(2)]
    with Clients(back + room_only):
        wait_subscribers([(worker, 4)])
        sentinel = truth.must_publish(worker, TOPIC, "end")
        settle(back + room_only, sentinel, key)
    verify(truth, back, key, [TOPIC, SIDE], sentinel, context=summary(back), workers=(worker,))
    verify(truth, room_only, key, TOPIC, sentinel, context=summary(room_only), workers=(worker,))


@needs_redis
@pytest.mark.parametrize("redis_cluster", [{"history": 50}], indirect=True)
@pytest.mark.parametrize("burst_topic", [SIDE, TOPIC], ids=["two-topics", "one-topic"])
def test_redis_worker_stopped_while_a_topic_is_trimmed_under_live_publishing(
    redis_cluster: Cluster, burst_topic: str
) -> None:
    """Clients follow one topic or two; their worker is stopped while a topic loses more than its history
    and events go on being published, before, during and after the stop."""
    _, (a, b) = redis_cluster
    truth = Truth()
    followed = [TOPIC, SIDE] if burst_topic == SIDE else [TOPIC]
    on_a = recorders(a.events_url(*followed), 5, "a")
    on_b = recorders(b.events_url(*followed), 3, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 5), (b, 3)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        with publishing(truth, [b], TOPIC, every=0.004):
            time.sleep(0.1)
            a.pause()
            try:
                truth.add(b.burst(burst_topic, n=150), burst_topic, "")
                time.sleep(0.2)
            finally:
                a.resume()
            time.sleep(0.3)
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    assert not truth.failed, f"publishes failed: {truth.failed[:3]}"
    verify(truth, on_a + on_b, redis_key, followed, sentinel, context=summary(on_a + on_b), workers=(a, b))


@needs_redis
def test_redis_two_topics_away_while_one_is_trimmed_gets_a_reset(redis_cluster: Cluster) -> None:
    server, (a, b) = redis_cluster
    truth = Truth()
    away = recorders(a.events_url(TOPIC, SIDE), 2, "away")
    with Clients(away):
        wait_subscribers([(a, 2)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(away, first, redis_key)
    truth.add(b.burst(SIDE, n=20), SIDE, "")
    for n in range(3):
        truth.must_publish(a, TOPIC, f"room {n}")
    with client_of(server) as r:
        r.xtrim("sse_fast:t:" + SIDE, maxlen=2, approximate=False)
    back = [Recorder((a, b)[i % 2].events_url(TOPIC, SIDE), initial=first, name=f"back{i}") for i in range(2)]
    room_only = [Recorder((a, b)[i % 2].events_url(TOPIC), initial=first, name=f"room-only{i}") for i in range(2)]
    with Clients(back + room_only):
        wait_subscribers([(a, 2), (b, 2)])
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(back + room_only, sentinel, redis_key)
    verify(truth, back, redis_key, [TOPIC, SIDE], sentinel, context=summary(back), workers=(a, b))
    verify(truth, room_only, redis_key, TOPIC, sentinel, context=summary(room_only), workers=(a, b))


@needs_redis
def test_redis_a_caller_id_from_the_last_second_reaches_a_subscriber_that_just_came(redis_cluster: Cluster) -> None:
    """A caller id up to a second behind Redis's clock, published after a client subscribed, reaches it
    (its worker started reading the topic only when the client came)."""
    server, (a, b) = redis_cluster
    truth = Truth()
    clients = recorders(b.events_url("late"), 2, "b") + recorders(a.events_url("late"), 2, "a")
    with client_of(server) as redis:
        begun = redis_key(truth.must_publish(a, "other", "the data set begins"))
        seconds, micros = redis.time()  # a caller id must come after the last id: let a second pass
        time.sleep(max(0.0, (begun[0] + 1100 - (seconds * 1000 + micros // 1000)) / 1000))
    with Clients(clients), client_of(server) as redis:
        wait_subscribers([(a, 2), (b, 2)])
        time.sleep(0.2)  # the watchers have been reading for a while when the old-looking id comes
        seconds, micros = redis.time()
        caller = "%d-0" % (seconds * 1000 + micros // 1000 - 900)
        response = a.publish("late", "caller", id=caller)
        assert response.status_code == 200 and response.text == caller, f"{caller} refused: {response.text}"
        truth.add([caller], "late", "caller")
        sentinel = truth.must_publish(b, "late", "end")
        settle(clients, sentinel, redis_key)
    missed = [r.name for r in clients if not r.got(caller)]
    assert not missed, f"subscribers that came before it never got the caller id {caller}: {missed}"
    verify(truth, clients, redis_key, "late", sentinel, context=summary(clients), workers=(a, b))


# -- resuming while it all goes on -----------------------------------------------------------------------------


def test_memory_clients_resume_a_long_history_while_a_burst_is_published(memory_worker: Worker) -> None:
    """Clients come back with an old id (1500 events to replay) while another 1000 are being published."""
    worker, truth = memory_worker, Truth()
    first = truth.must_publish(worker, TOPIC, "ready")
    key = memory_key(boot_of(first))
    truth.add(worker.burst(TOPIC, n=1500, pad=300), TOPIC, "x" * 300)
    burst: List[str] = []
    publisher = threading.Thread(target=lambda: burst.extend(worker.burst(TOPIC, n=1000, pad=300, threads=2)))
    back = [Recorder(worker.events_url(TOPIC), initial=first, name=f"back{i}") for i in range(10)]
    publisher.start()
    try:
        with Clients(back):
            publisher.join(60)
            truth.add(burst, TOPIC, "x" * 300)
            sentinel = truth.must_publish(worker, TOPIC, "end")
            settle(back, sentinel, key, timeout=60)
    finally:
        publisher.join(60)
    verify(truth, back, key, TOPIC, sentinel, context=summary(back), workers=(worker,))


@needs_redis
@pytest.mark.parametrize("redis_cluster", [{"history": 3000}], indirect=True)
def test_redis_worker_killed_while_its_clients_replay_they_fail_over_mid_replay(redis_cluster: Cluster) -> None:
    """Clients come back to A with an old id (1500 events to replay) while B publishes; A is killed while
    they replay: they go on at B from the last id they got."""
    _, (a, b) = redis_cluster
    truth = Truth()
    first = truth.must_publish(b, TOPIC, "ready")
    truth.add(b.burst(TOPIC, n=1500, pad=300), TOPIC, "x" * 300)
    back = [Recorder([a.events_url(TOPIC), b.events_url(TOPIC)], initial=first, name=f"back{i}") for i in range(10)]
    with Clients(back):
        with publishing(truth, [b], TOPIC):
            wait_until_any(lambda: sum(len(r.frames) for r in back) >= 2000)
            a.kill()
            time.sleep(0.3)
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(back, sentinel, redis_key, timeout=60)
    assert not truth.failed, f"publishes through B failed: {truth.failed[:3]}"
    verify(truth, back, redis_key, TOPIC, sentinel, context=summary(back), workers=(b,))
    assert all(len(r.connections) >= 2 for r in back), f"clients did not fail over: {summary(back)}"


@needs_redis
def test_redis_every_connection_of_the_workers_killed_under_publishing(redis_cluster: Cluster) -> None:
    """CLIENT KILL of every normal connection (the readers', the publishers') while events are published:
    the readers reconnect and resume from their positions; nothing acknowledged is lost."""
    server, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 5, "a"), recorders(b.events_url(TOPIC), 5, "b")
    with Clients(on_a + on_b), client_of(server) as redis:
        wait_subscribers([(a, 5), (b, 5)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        killed = 0
        with publishing(truth, [a, b], TOPIC):
            for _ in range(5):
                time.sleep(0.1)
                killed += int(redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))
            time.sleep(0.2)
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key)
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        unacknowledged_ok=True,
        context=summary(on_a + on_b),
        workers=(a, b),
    )
    assert killed >= 5, f"CLIENT KILL found only {killed} connections to cut"


def wait_until_any(check: Any, timeout: float = 30) -> None:
    """Wait for ``check()``, at most ``timeout`` s (a guard: the scenario goes on either way)."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


@needs_redis
def test_redis_burst_reaches_every_reader_of_both_workers_and_drops_none(redis_cluster: Cluster) -> None:
    """1000 publishes of 300 bytes in a tight loop on B: the 25 readers of each worker get them all (on A
    they come through its Redis reader)."""
    _, (a, b) = redis_cluster
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 25, "a"), recorders(b.events_url(TOPIC), 25, "b")
    with Clients(on_a + on_b):
        wait_subscribers([(a, 25), (b, 25)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)
        truth.add(b.burst(TOPIC, n=1000, pad=300), TOPIC, "x" * 300)
        sentinel = truth.must_publish(b, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key, timeout=60)
        stats = [a.stats(), b.stats()]
    verify(truth, on_a + on_b, redis_key, TOPIC, sentinel, context=summary(on_a + on_b), workers=(a, b))
    assert all(s["dropped_slow"] == 0 for s in stats), f"readers that keep up were dropped as slow: {stats}"
    assert all(len(r.connections) == 1 for r in on_a + on_b), f"readers reconnected: {summary(on_a + on_b)}"


@needs_redis
def test_redis_stopped_under_a_publish_sync_burst_from_threads_fails_it_and_loses_nothing(
    redis_cluster: Cluster,
) -> None:
    """Redis is stopped for 1.5 s under 4 threads of ``publish_sync``: the burst fails (no thread hangs)
    and every event a publisher was told about reaches every reader."""
    server, (a, b) = redis_cluster
    assert server.process is not None
    truth = Truth()
    on_a, on_b = recorders(a.events_url(TOPIC), 3, "a"), recorders(b.events_url(TOPIC), 3, "b")
    answer: List[Any] = []
    with Clients(on_a + on_b):
        wait_subscribers([(a, 3), (b, 3)])
        first = truth.must_publish(b, TOPIC, "ready")
        settle(on_a + on_b, first, redis_key)

        def burst() -> None:
            params = {"topic": TOPIC, "n": "4000", "threads": "4"}
            answer.append(b.http.post(b.url + "/burst", params=params, timeout=60))

        publisher = threading.Thread(target=burst)
        publisher.start()
        time.sleep(0.2)
        server.process.send_signal(19)  # SIGSTOP
        try:
            time.sleep(1.5)
        finally:
            server.process.send_signal(18)  # SIGCONT
        publisher.join(60)
        assert not publisher.is_alive(), "the publish_sync burst hung after Redis came back"
        for n in range(5):
            truth.must_publish((a, b)[n % 2], TOPIC, f"after {n}")
        sentinel = truth.must_publish(a, TOPIC, "end")
        settle(on_a + on_b, sentinel, redis_key, timeout=30)
    response = answer[0]
    assert response.status_code == 400 and response.text.startswith("BrokerUnavailable"), (
        f"a burst under a stopped Redis answered {response.status_code} {response.text[:200]}"
    )
    verify(
        truth,
        on_a + on_b,
        redis_key,
        TOPIC,
        sentinel,
        unacknowledged_ok=True,
        context=summary(on_a + on_b),
        workers=(a, b),
    )

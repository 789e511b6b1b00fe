"""The broker on a real Redis Cluster (six redis-server processes, three masters with a replica each):
topics spread over the masters reach the subscribers of every worker process, a resume within a hash tag
is exact, a master killed mid-stream (its replica promoted) loses no acknowledged event, and the fault
suite's checker (every gap filled or marked) runs on what the clients received."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from support.fault_checker import Clients, Recorder, redis_key
from support.fault_harness import Truth, Worker, publishing, settle, summary, verify, wait_subscribers, workers
from support.redis_cluster import Cluster, ClusterNode, missing_reason, redis_cluster

from sse_fast import Broker
from sse_fast.broker.cluster import ClusterLog, group_of
from sse_fast.errors import InvalidBrokerURL, InvalidTopic, InvalidType, InvalidValue

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("error")]
needs_cluster = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))

Workers = Tuple[Cluster, List[Worker]]


def topic_elsewhere(cluster: Cluster, master: ClusterNode) -> str:
    """A topic whose keys live on a master other than ``master``."""
    return next(t for t in (f"t{n}" for n in range(6)) if cluster.master_of("sse_fast:{" + t + "}last") is not master)


def env_of(cluster: Cluster, history: int = 1000) -> dict:
    return {
        "SSE_FAST_REDIS": cluster.url,
        "SSE_FAST_HISTORY": str(history),
        "SSE_FAST_TIMEOUT": "1.0",
        "SSE_FAST_MAX_BACKOFF": "0.2",
    }


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the tests that leave it whole."""
    if missing_reason() is not None:
        pytest.skip(str(missing_reason()))
    with redis_cluster(str(tmp_path_factory.mktemp("cluster") / "nodes")) as started:
        yield started


@pytest.fixture
def on_shared(shared_cluster: Cluster, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workers]:
    """Two uvicorn workers on the shared cluster (``history`` from the test's parameter, else 1000)."""
    history = getattr(request, "param", {}).get("history", 1000)
    with workers(2, env_of(shared_cluster, history), str(tmp_path / "workers")) as started:
        yield shared_cluster, started


@pytest.fixture
def on_own(tmp_path: Path) -> Iterator[Workers]:
    """A cluster of the test's own (it kills a node) and two workers on it."""
    if missing_reason() is not None:
        pytest.skip(str(missing_reason()))
    with redis_cluster(str(tmp_path / "nodes")) as started, workers(2, env_of(started), str(tmp_path / "w")) as ws:
        yield started, ws


# -- no cluster needed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://127.0.0.1",
        "redis+cluster://127.0.0.1:7000,127.0.0.1:x",
        "redis+cluster://127.0.0.1:70000",
        "redis+cluster://127.0.0.1:7000/1",
        "redis+cluster://:7000",
    ],
)
def test_a_bad_cluster_url_is_refused_naming_the_part(url: str) -> None:
    with pytest.raises(InvalidBrokerURL, match="node is host:port|only database 0"):
        Broker(url)


def test_the_url_picks_the_cluster_broker_and_masks_the_password() -> None:
    broker = Broker("redis+cluster://:secret@127.0.0.1:7000,127.0.0.1:7001")
    assert isinstance(broker.log, ClusterLog)
    with pytest.raises(InvalidBrokerURL) as refused:
        Broker("redis+cluster://:secret@127.0.0.1:7000,127.0.0.1:port")
    assert "secret" not in str(refused.value) and "***" in str(refused.value)


@pytest.mark.parametrize(
    "topic, group",
    [("room", "room"), ("{room42}.chat", "room42"), ("a{b}c{d}", "b"), ("{}x", "{}x"), ("x{y", "x{y")],
)
def test_a_topics_group_is_its_hash_tag_as_redis_reads_it(topic: str, group: str) -> None:
    assert group_of(topic) == group


def test_a_subscription_across_hash_tags_is_refused_and_one_tag_is_taken() -> None:
    broker = Broker("redis+cluster://127.0.0.1:7000")
    with pytest.raises(InvalidTopic, match="share a hash tag.*'a', 'b'"):
        broker.subscriber(["a", "b"])
    assert callable(broker.subscriber(["{room}.chat", "{room}.presence"]))
    with pytest.raises(InvalidTopic, match="must not start with '}'"):
        broker.subscriber("}room")
    assert callable(broker.subscriber("{x}}room"))


@pytest.mark.parametrize(
    "options, error",
    [({"prefix": "app{1}:"}, InvalidValue), ({"replicas": -1}, InvalidValue), ({"replicas": "1"}, InvalidType)],
)
def test_a_bad_cluster_option_is_refused(options: dict, error: type) -> None:
    with pytest.raises(error, match="prefix|replicas"):
        Broker("redis+cluster://127.0.0.1:7000", **options)


# -- on the cluster --------------------------------------------------------------------------------------


@needs_cluster
def test_topics_on_every_master_reach_the_subscribers_of_both_workers(on_shared: Workers) -> None:
    cluster, (a, b) = on_shared
    topics = [f"t{n}" for n in range(6)]
    masters = {cluster.master_of("sse_fast:{" + t + "}last").port for t in topics}
    assert len(masters) == 3, f"the six topics should spread over the three masters, got {masters}"
    truth = Truth()
    clients = {t: [Recorder(w.events_url(t), name=f"{t}@{w.port}") for w in (a, b)] for t in topics}
    every = [r for rs in clients.values() for r in rs]
    with Clients(every):
        wait_subscribers([(a, 6), (b, 6)])
        for n in range(20):
            for i, t in enumerate(topics):
                truth.must_publish((a, b)[(n + i) % 2], t, f"{t} {n}")
        sentinels = {t: truth.must_publish(a, t, "end") for t in topics}
        for t in topics:
            settle(clients[t], sentinels[t], redis_key)
    assert not truth.failed, truth.failed[:3]
    for t in topics:
        verify(truth, clients[t], redis_key, t, sentinels[t], context=summary(clients[t]), workers=(a, b))
        assert all(len(r.events()) == 21 for r in clients[t]), summary(clients[t])


@needs_cluster
@pytest.mark.parametrize("topic", ["a}b", "{}x", "x{y", "{x}}room", "\u00fc{\u65e5\u672c}", "{a}{b}"])
def test_odd_braces_keep_a_topics_keys_in_one_slot(shared_cluster: Cluster, topic: str) -> None:
    """Whatever braces a topic has, its scripts touch one slot (Redis would answer CROSSSLOT otherwise)."""
    import asyncio

    broker = Broker(shared_cluster.url, timeout=5.0)
    try:
        first = broker.publish_sync(topic, "one")
        second = broker.publish_sync(topic, "two")
        replay = broker.log.history_after_sync([topic], first)
    finally:
        asyncio.run(broker.close())
    assert [frame for _, frame in replay.entries] == [b"id: " + second.encode() + b"\ndata: two\n\n"], replay


@needs_cluster
def test_a_resume_within_a_hash_tag_is_exact_and_an_unknown_id_gets_a_reset(on_shared: Workers) -> None:
    _, (a, b) = on_shared
    topics = ["{g}.x", "{g}.y"]
    truth = Truth()
    first = truth.must_publish(a, topics[0], "first")
    for n in range(10):
        truth.must_publish(b, topics[n % 2], f"away {n}")
    back = Recorder(a.events_url(*topics), initial=first, name="back")
    lost = Recorder(b.events_url(*topics), initial="1-0", name="unknown")
    with Clients([back, lost]):
        wait_subscribers([(a, 1), (b, 1)])
        sentinel = truth.must_publish(b, topics[1], "end")
        settle([back, lost], sentinel, redis_key)
    verify(truth, [back], redis_key, topics, sentinel, context=summary([back]), workers=(a, b))
    assert [f.data for f in back.events()][:11] == [f"away {n}" for n in range(10)] + ["end"]
    assert [f.event for f in lost.frames][:1] == ["reset"], f"an id before the data set: {lost.frames[:2]}"


@needs_cluster
@pytest.mark.parametrize("on_shared", [{"history": 50}], indirect=True)
def test_a_worker_stopped_past_history_its_clients_get_a_reset_at_the_gap(on_shared: Workers) -> None:
    """Worker A is stopped (SIGSTOP) while 200 events go through B with a history of 50: when A reads again
    its reader finds the p chain broken, and A's clients get the reset frame at the gap, then the rest."""
    _, (a, b) = on_shared
    topic, truth = "{gap}.room", Truth()
    on_a, on_b = [Recorder(a.events_url(topic), name=f"a{n}") for n in range(2)], [Recorder(b.events_url(topic))]
    with Clients(on_a + on_b):
        wait_subscribers([(a, 2), (b, 1)])
        settle(on_a + on_b, truth.must_publish(b, topic, "ready"), redis_key)
        a.pause()
        try:
            for n in range(200):
                truth.must_publish(b, topic, f"while A is stopped {n}")
        finally:
            a.resume()
        sentinel = truth.must_publish(b, topic, "end")
        settle(on_a + on_b, sentinel, redis_key, timeout=30)
        stats = a.stats()
    verify(truth, on_a + on_b, redis_key, topic, sentinel, context=summary(on_a + on_b), workers=(a, b))
    assert all(r.resets() for r in on_a) and stats["resets_gap"] >= 1, f"{summary(on_a)}; {stats}"
    assert not on_b[0].resets(), summary(on_b)


@needs_cluster
def test_a_flushed_master_resets_its_topics_subscribers_and_no_others(on_shared: Workers) -> None:
    """FLUSHALL on one master: the topics it holds start a new data set, so their connected subscribers get
    the reset frame ("lost": events nobody had read may be gone) and then the new events; a topic on another
    master goes on without a reset."""
    cluster, (a, b) = on_shared
    flushed, master = "room", cluster.master_of("sse_fast:{room}last")
    other = topic_elsewhere(cluster, master)
    truths = {flushed: Truth(), other: Truth()}
    clients = {t: [Recorder(w.events_url(t), name=f"{t}@{w.port}") for w in (a, b)] for t in truths}
    with Clients(clients[flushed] + clients[other]):
        wait_subscribers([(a, 2), (b, 2)])
        for t, truth in truths.items():
            settle(clients[t], truth.must_publish(a, t, "before"), redis_key)
        assert master.cli("flushall").strip() == "OK"
        ends = {
            t: [truth.must_publish((a, b)[n % 2], t, f"after {n}") for n in range(5)][-1] for t, truth in truths.items()
        }
        for t in truths:
            settle(clients[t], ends[t], redis_key)
        stats = [w.stats() for w in (a, b)]
    for t, truth in truths.items():
        verify(truth, clients[t], redis_key, t, ends[t], context=summary(clients[t]), workers=(a, b))
    assert all(r.resets() for r in clients[flushed]), f"no reset after the flush: {summary(clients[flushed])}"
    assert not any(r.resets() for r in clients[other]), f"a reset on another master: {summary(clients[other])}"
    assert sum(s["resets_lost"] for s in stats) == 2, stats


@needs_cluster
def test_a_master_killed_mid_stream_loses_no_acknowledged_event(on_own: Workers) -> None:
    """kill -9 of the master holding the topic while events are published through both workers: its
    replica takes over, and the old master comes back as its replica; publishes fail meanwhile (within
    the timeout: no replica holds them) and then succeed again, and every client gets every acknowledged
    event (or a reset where one is missing), checked by the fault checker; a topic on another master goes on."""
    cluster, (a, b) = on_own
    topic, master = "room", cluster.master_of("sse_fast:{room}last")
    other = topic_elsewhere(cluster, master)
    truth, bystander_truth = Truth(), Truth()  # ids are unique within a hash tag only: one truth each
    clients = [
        Recorder([w.events_url(topic), v.events_url(topic)], name=f"c{n}")
        for n, (w, v) in enumerate([(a, b), (b, a)] * 3)
    ]
    bystanders = [Recorder(w.events_url(other), name=f"other@{w.port}") for w in (a, b)]
    with Clients(clients + bystanders):
        wait_subscribers([(a, 4), (b, 4)])
        first = truth.must_publish(a, topic, "ready")
        settle(clients, first, redis_key)
        with publishing(truth, (a, b), topic, every=0.005), publishing(bystander_truth, (b, a), other, every=0.01):
            time.sleep(0.5)
            master.kill()
            cluster.wait_healthy(replicated=False)  # its replica took over (publishes still fail: no replica)
            master.start()  # back as the new master's replica
            cluster.wait_healthy()
            ok_after = len(truth.events)
            deadline = time.monotonic() + 20
            while len(truth.events) < ok_after + 50 and time.monotonic() < deadline:
                time.sleep(0.05)
        sentinel = truth.must_publish(b, topic, "end")
        other_end = bystander_truth.must_publish(a, other, "end")
        settle(clients, sentinel, redis_key, timeout=30)
        settle(bystanders, other_end, redis_key, timeout=30)
    assert truth.failed, "no publish failed: the master was killed after publishing ended?"
    assert not bystander_truth.failed, f"publishes to a topic on another master failed: {bystander_truth.failed[:3]}"
    # a publish that failed (no replica held it) may still have been stored, and delivered: not a violation
    verify(truth, clients, redis_key, topic, sentinel, unacknowledged_ok=True, context=summary(clients), workers=(a, b))
    refused = [f for f in truth.failed if not f.startswith("400 BrokerUnavailable: ")]
    assert not refused, f"a publish failed otherwise than with BrokerUnavailable: {refused[:3]}"
    verify(bystander_truth, bystanders, redis_key, other, other_end, context=summary(bystanders), workers=(a, b))


@needs_cluster
def test_a_slot_moved_to_another_master_mid_stream_ask_then_moved(on_own: Workers) -> None:
    """The topic's slot migrates to another master while events are published: clients of the cluster
    meet ASK (keys half moved) and then MOVED; publishes fail at most while the slot's keys are split
    (TRYAGAIN), and every client gets every acknowledged event, checked by the fault checker."""
    cluster, (a, b) = on_own
    topic, source = "room", cluster.master_of("sse_fast:{room}last")
    target = cluster.other_master(source)
    truth = Truth()
    clients = [Recorder(w.events_url(topic), name=f"c{n}") for n, w in enumerate([a, b] * 2)]
    with Clients(clients):
        wait_subscribers([(a, 2), (b, 2)])
        first = truth.must_publish(a, topic, "ready")
        settle(clients, first, redis_key)
        with publishing(truth, (a, b), topic, every=0.005):
            time.sleep(0.3)
            cluster.move_slot("sse_fast:{room}last", target)
            moved_at = len(truth.events)
            deadline = time.monotonic() + 20
            while len(truth.events) < moved_at + 50 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert cluster.master_of("sse_fast:{room}last") is target
        assert len(truth.events) >= moved_at + 50, f"publishing did not go on after the move: {truth.failed[-3:]}"
        sentinel = truth.must_publish(b, topic, "end")
        settle(clients, sentinel, redis_key, timeout=30)
    verify(truth, clients, redis_key, topic, sentinel, unacknowledged_ok=True, context=summary(clients), workers=(a, b))
    refused = [f for f in truth.failed if not f.startswith("400 BrokerUnavailable: ")]
    assert not refused, f"a publish failed otherwise than with BrokerUnavailable: {refused[:3]}"

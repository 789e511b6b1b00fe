"""The broker on real servers and clients: fan-out, topics, resume, reset, slow subscribers, errors."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import pytest
from support.broker_apps import asgi_app, read_events, wsgi_app
from support.broker_clients import in_thread, run_clients, subscribers
from support.servers import uvicorn_server, wait_until, waitress_server

import sse_fast
from sse_fast.broker.core import reset_frame
from sse_fast.broker.engine import TRIMMED, Replay, Reset


def test_every_subscriber_gets_every_event_in_order_encoded_once() -> None:
    broker = sse_fast.Broker()
    with uvicorn_server(asgi_app(broker)) as server:
        clients = in_thread(lambda: run_clients(*(read_events(server.url + "/?topic=room", 50) for _ in range(20))))
        subscribers(broker, 20)
        ids = [broker.publish_sync("room", {"n": i}) for i in range(50)]
        results = clients.join()
    expected = [(i, "message", f'{{"n":{n}}}') for n, i in enumerate(ids)]
    assert all(got == expected for got in results)
    stats = broker.stats()
    assert stats["published"] == 50 and stats["delivered"] == 50 * 20 and stats["dropped_slow"] == 0


def test_topics_are_separate_and_one_subscriber_follows_two_in_publish_order() -> None:
    broker = sse_fast.Broker()
    with uvicorn_server(asgi_app(broker)) as server:
        clients = in_thread(
            lambda: run_clients(
                read_events(server.url + "/?topic=a", 3),
                read_events(server.url + "/?topic=b", 3),
                read_events(server.url + "/?topic=a&topic=b", 6),
            )
        )
        subscribers(broker, 3)

        async def publish_all() -> None:
            for i in range(3):
                await broker.publish("a", f"a{i}", event="ev")
                await broker.publish("b", f"b{i}")

        asyncio.run_coroutine_threadsafe(publish_all(), server.loop).result(5)
        a, b, both = clients.join()
    assert [d for _, _, d in a] == ["a0", "a1", "a2"]
    assert [e for _, e, _ in a] == ["ev"] * 3
    assert [d for _, _, d in b] == ["b0", "b1", "b2"]
    assert [d for _, _, d in both] == ["a0", "b0", "a1", "b1", "a2", "b2"]


@pytest.mark.parametrize("serve", ["uvicorn", "waitress"])
def test_resume_gets_exactly_the_missed_events_then_live_ones(serve: str) -> None:
    broker = sse_fast.Broker()
    app, server_of = (asgi_app(broker), uvicorn_server) if serve == "uvicorn" else (wsgi_app(broker), waitress_server)
    with server_of(app) as server:
        url = server.url + "/?topic=room"
        first = in_thread(lambda: run_clients(read_events(url, 3)))
        subscribers(broker, 1)
        ids = [broker.publish_sync("room", f"m{i}") for i in range(3)]
        assert [d for _, _, d in first.join()[0]] == ["m0", "m1", "m2"]
        subscribers(broker, 0)
        ids += [broker.publish_sync("room", f"m{i}") for i in range(3, 7)]  # missed while away
        second = in_thread(lambda: run_clients(read_events(url, 6, last_id=ids[2])))
        subscribers(broker, 1)
        ids += [broker.publish_sync("room", f"m{i}") for i in range(7, 9)]
        got = second.join()[0]
    assert got == [(ids[i], "message", f"m{i}") for i in range(3, 9)]
    assert broker.stats()["replayed"] == 4


def test_unknown_or_trimmed_id_gets_the_reset_frame() -> None:
    broker = sse_fast.Broker(history=2)
    with uvicorn_server(asgi_app(broker)) as server:
        url = server.url + "/?topic=room"
        ids = [broker.publish_sync("room", f"m{i}") for i in range(5)]
        (unknown,) = run_clients(read_events(url, 1, last_id="other-boot-7"))
        (trimmed,) = run_clients(read_events(url, 1, last_id=ids[0]))
        (kept,) = run_clients(read_events(url, 1, last_id=ids[3]))
    head = broker.log.head()
    assert unknown == trimmed == [(head, "reset", "{}")]
    assert kept == [(ids[4], "message", "m4")]
    assert reset_frame(head) == f"id: {head}\nevent: reset\ndata: {{}}\n\n".encode()


def test_an_id_of_another_topic_set_gets_the_reset_frame_and_the_reset_id_resumes() -> None:
    broker = sse_fast.Broker()
    with uvicorn_server(asgi_app(broker)) as server:
        other = broker.publish_sync("other", "x", id="order-17")
        (got,) = run_clients(read_events(server.url + "/?topic=room", 1, last_id=other))
        head = got[0][0]
        assert got[0][1] == "reset"
        later = broker.publish_sync("room", "after reset")
        (resumed,) = run_clients(read_events(server.url + "/?topic=room", 1, last_id=head))
    assert resumed == [(later, "message", "after reset")]


def test_bad_topics_and_ids_raise_typed_errors_and_publish_nothing() -> None:
    broker = sse_fast.Broker()
    for topic in ["", "a\nb", "x" * 1025, 7]:
        with pytest.raises(sse_fast.InvalidTopic):
            broker.publish_sync(topic, "x")  # type: ignore[arg-type]
    for bad in ["a\nb", "a\rb", "a\0b", "", "x" * 1025]:
        with pytest.raises(sse_fast.InvalidEventId):
            broker.publish_sync("room", "x", id=bad)
    assert broker.stats()["published"] == 0
    assert broker.publish_sync("room", "x", id="evt-1") == "evt-1"
    asyncio.run(broker.close())
    with pytest.raises(sse_fast.BrokerClosed):
        broker.publish_sync("room", "x")
    assert isinstance(sse_fast.BrokerClosed("x"), sse_fast.SSEError)


def test_history_is_bounded_by_count_bytes_and_age() -> None:
    log = sse_fast.broker.MemoryLog(history=3, max_bytes=100)
    ids = [log.append_sync("t", b"data: %d\n\n" % i)[0] for i in range(10)]
    replay = log.history_after_sync(["t"], ids[6])
    assert replay == (7, [(seq, b"id: %s\ndata: %d\n\n" % (ids[seq - 1].encode(), seq - 1)) for seq in (8, 9, 10)])
    replay = log.history_after_sync(["t"], ids[7])
    assert replay is not None and [k for k, _ in replay[1]] == [9, 10]
    assert log.history_after_sync(["t"], ids[5]) == Reset(log.head(), 10, TRIMMED, ids[5])
    small = sse_fast.broker.MemoryLog(history=100, max_bytes=60)
    ids = [small.append_sync("t", b"data: 0123456789\n\n")[0] for i in range(5)]
    assert isinstance(small.history_after_sync(["t"], ids[1]), Reset)  # bytes bound dropped the early ones
    assert isinstance(small.history_after_sync(["t"], ids[3]), Replay)
    aged = sse_fast.broker.MemoryLog(max_age=0.0)
    before = aged.head()
    aged.append_sync("t", b"data: x\n\n")
    assert isinstance(aged.history_after_sync(["t"], before), Reset)  # the event after it aged out: a gap
    assert aged.history_after_sync(["t"], aged.head()) == (1, [])  # nothing after it was lost


async def read_ids(port: int, seen: List[bytes], stop: threading.Event) -> None:
    """A cheap healthy subscriber: appends each ``id:`` it reads to ``seen`` until ``stop`` is set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /?topic=room HTTP/1.1\r\nHost: x\r\n\r\n")
    tail = b""
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 18), 0.2)
        except asyncio.TimeoutError:
            continue
        if not data:
            break
        lines = (tail + data).split(b"\n")
        tail = lines.pop()
        seen.extend(line[4:] for line in lines if line.startswith(b"id: "))
    writer.close()


def test_a_frozen_subscriber_is_dropped_as_slow_and_100_healthy_ones_get_everything() -> None:
    """Publishing goes at the pace of the healthy readers (never the clock), so load cannot make them slow."""
    import socket

    limit, healthy_count, burst = 64 * 1024, 100, 10
    broker = sse_fast.Broker(queue_bytes=limit)
    with uvicorn_server(asgi_app(broker)) as server:
        frozen = socket.socket()
        frozen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a tiny window
        frozen.connect(("127.0.0.1", server.port))
        frozen.sendall(b"GET /?topic=room HTTP/1.1\r\nHost: x\r\n\r\n")
        subscribers(broker, 1)
        seen: List[List[bytes]] = [[] for _ in range(healthy_count)]
        stop = threading.Event()
        readers = in_thread(lambda: run_clients(*(read_ids(server.port, ids, stop) for ids in seen)))
        subscribers(broker, 1 + healthy_count)
        payload, published = "x" * 4000, 0
        while broker.stats()["dropped_slow"] == 0 and published < 10_000:  # 40 MB at most to the frozen one
            for _ in range(burst):  # 40 KB a burst: below every subscriber's bound
                broker.publish_sync("room", payload, id=f"e{published}")
                published += 1
            wait_until(lambda n=published: all(len(ids) == n for ids in seen), timeout=30)
        stats = broker.stats()
        stop.set()
        readers.join()
        frozen.close()
    expected = [f"e{i}".encode() for i in range(published)]
    assert stats["dropped_slow"] == 1, f"the frozen client was not dropped after {published} events"
    assert stats["subscribers"] == healthy_count
    assert all(ids == expected for ids in seen)


@pytest.mark.parametrize("serve", ["uvicorn", "waitress"])
def test_a_burst_from_eight_threads_reaches_every_reader_in_full(serve: str) -> None:
    """Eight threads publish 1,000 frames of ~330 B as fast as they can (more than ``queue_bytes`` in all):
    the publishers wait for the readers, so every reader keeps up and gets every event, none is dropped."""
    broker = sse_fast.Broker(queue_bytes=128 * 1024)
    app, server_of = (asgi_app(broker), uvicorn_server) if serve == "uvicorn" else (wsgi_app(broker), waitress_server)
    threads, per_thread, readers = 8, 125, 6  # waitress serves each stream on one of its 8 threads
    with server_of(app, **({"threads": readers + 2} if serve == "waitress" else {})) as server:
        url = server.url + "/?topic=room"
        reading = (read_events(url, threads * per_thread, timeout=60) for _ in range(readers))
        clients = in_thread(lambda: run_clients(*reading))
        subscribers(broker, readers)
        ids: List[List[str]] = [[] for _ in range(threads)]

        def publish(mine: List[str], n: int) -> None:
            for i in range(per_thread):
                mine.append(broker.publish_sync("room", {"thread": n, "i": i, "pad": "x" * 300}))

        workers = [threading.Thread(target=publish, args=(ids[n], n)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        results = clients.join(timeout=60)
    published = sorted((id for mine in ids for id in mine), key=lambda id: int(id.rpartition("-")[2]))
    assert all([id for id, _, _ in got] == published for got in results)
    assert broker.stats()["dropped_slow"] == 0


def test_an_empty_last_event_id_starts_live_and_an_unreadable_one_gets_the_reset_frame() -> None:
    """``""`` is no id (``EventSource`` sends none until it has one); ``UNREADABLE`` (a header that was sent
    but is no id) is answered like an unknown id, with the reset frame."""
    from sse_fast.resume import UNREADABLE

    broker = sse_fast.Broker()
    given: List[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await sse_fast.ASGIResponse(broker.subscriber("room", given[-1]))(scope, receive, send)

    with uvicorn_server(app) as server:
        broker.publish_sync("room", "before")
        given.append("")
        client = in_thread(lambda: run_clients(read_events(server.url, 1)))
        subscribers(broker, 1)
        live = broker.publish_sync("room", "live")
        assert client.join() == [[(live, "message", "live")]]  # no replay, no reset: live from here
        given.append(UNREADABLE)
        (got,) = run_clients(read_events(server.url, 1))
    assert got == [(broker.log.head(), "reset", "{}")]

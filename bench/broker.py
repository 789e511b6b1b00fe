"""Broker benchmark: fan-out, idle subscribers and replay, each on one uvicorn process.

    python bench/broker.py            # 1,000 subscribers x 100 events; 10,000 idle; replay of 1,000
    python bench/broker.py --quick    # 200 x 20; 1,000 idle; replay of 1,000 (CI)
    python bench/broker.py --only broker handrolled --subs 500
    python bench/broker.py --burst 100 1000   # only the burst run, for 100 then 1,000 subscribers

Contenders (each its own uvicorn process, reusing bench/e2e.py's Server): ``broker`` (sse_fast.Broker),
``handrolled`` (an asyncio.Queue per client on sse_fast's writer), ``sse-starlette`` (a queue per client on
EventSourceResponse), ``broadcaster`` (the broadcaster package's memory backend + sse-starlette). Clients
are raw sockets in 2 separate processes that count ``data: `` lines. Server CPU is utime + stime from
/proc/<pid>/stat, from the first publish to the last client's last event. The broker app also counts its
encoder calls (must equal the events published).

Idle: N subscribers connect and wait; the server's RSS added per subscriber (connection included), then the
cost of one publish to all of them (server CPU, and time until the last client has it). Replay: 1,001 events
are published with nobody listening, then one client resumes from the first id; time to its 1,000th event
and the server CPU spent. Burst: 1,000 events of ~330 B published in a tight ``await broker.publish`` loop
(no pause) to N subscribers: every one must get all of them, none dropped as slow (the publisher waits for
readers that are behind); server CPU per delivered event and how long the loop took. Report only; fails
only when an output is wrong (an incomplete subscriber, a drop), never on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any, Dict, List, Set, Tuple
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import PATTERN, Server, _cpu_seconds, _raise_nofile, _rss_kib, versions  # noqa: E402

APPS = {
    "broker": "broker:broker_app",
    "handrolled": "broker:handrolled_app",
    "sse-starlette": "broker:starlette_queue_app",
    "broadcaster": "broker:broadcaster_app",
}
TOPIC = "chat"
PAUSE = 0.002  # seconds between two published chunks, as a model streams them


def chunk(i: int, pad: int = 0) -> Dict[str, Any]:
    data: Dict[str, Any] = {"choices": [{"delta": {"content": f" token{i}"}, "index": 0}]}
    if pad:
        data["pad"] = "x" * pad
    return data


# ---- the servers (imported by uvicorn in its own process) --------------------------------------------


def _app(subscribe: Any, publish: Any, count: Any, extra: Any = None) -> Any:
    """``/sub`` subscribes; ``/pub?n=N&pause=S&pad=P`` publishes N chunks (P bytes of padding each) S seconds
    apart and answers with the first id and ``extra()``; ``/count`` answers with the number of subscribers."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/sub":
            await subscribe(scope, receive, send)
            return
        if path == "/pub":
            query = parse_qs(scope["query_string"].decode())
            n, pause = int(query["n"][0]), float(query.get("pause", [PAUSE])[0])
            pad = int(query.get("pad", [0])[0])
            first = None
            for i in range(n):
                id = await publish(str(i + 1), chunk(i, pad))
                first = first or id
                if pause:
                    await asyncio.sleep(pause)
            body = json.dumps({"first_id": first, **(extra() if extra else {})}).encode()
        else:
            body = str(count()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


def _broker() -> Any:
    import sse_fast
    from sse_fast.broker import core
    from sse_fast.resume import from_scope

    broker = sse_fast.Broker(history=5000)  # replay_run resumes from the first of 1,001 events
    calls = {"encode_json": 0}
    real = core.encode_json

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls["encode_json"] += 1
        return real(*args, **kwargs)

    core.encode_json = counted  # type: ignore[assignment]

    async def subscribe(scope: dict, receive: Any, send: Any) -> None:
        last = from_scope(scope)
        await sse_fast.ASGIResponse(broker.subscriber(TOPIC, last_event_id=last))(scope, receive, send)

    async def publish(id: str, data: Any) -> str:
        return await broker.publish(TOPIC, data)

    return _app(subscribe, publish, lambda: broker.stats()["subscribers"], lambda: {**calls, **broker.stats()})


def _handrolled() -> Any:
    import sse_fast

    queues: Set[asyncio.Queue] = set()

    async def handler(writer: Any) -> None:
        q: asyncio.Queue = asyncio.Queue()
        queues.add(q)
        try:
            while True:
                id, data = await q.get()
                await writer.write_event_with_id(id, data)
        finally:
            queues.discard(q)

    async def subscribe(scope: dict, receive: Any, send: Any) -> None:
        await sse_fast.ASGIResponse(handler)(scope, receive, send)

    async def publish(id: str, data: Any) -> None:
        for q in queues:
            q.put_nowait((id, data))

    return _app(subscribe, publish, lambda: len(queues))


def _starlette_queue() -> Any:
    from sse_starlette import EventSourceResponse

    queues: Set[asyncio.Queue] = set()

    async def subscribe(scope: dict, receive: Any, send: Any) -> None:
        q: asyncio.Queue = asyncio.Queue()

        async def events() -> Any:
            queues.add(q)
            try:
                while True:
                    id, data = await q.get()
                    yield {"id": id, "data": json.dumps(data, separators=(",", ":"))}
            finally:
                queues.discard(q)

        await EventSourceResponse(events())(scope, receive, send)

    async def publish(id: str, data: Any) -> None:
        for q in queues:
            q.put_nowait((id, data))

    return _app(subscribe, publish, lambda: len(queues))


def _broadcaster() -> Any:
    from broadcaster import Broadcast
    from sse_starlette import EventSourceResponse

    broadcast = Broadcast("memory://")
    state = {"connected": False, "subs": 0}

    async def connect() -> None:
        if not state["connected"]:
            state["connected"] = True
            await broadcast.connect()

    async def subscribe(scope: dict, receive: Any, send: Any) -> None:
        await connect()

        async def events() -> Any:
            async with broadcast.subscribe(channel=TOPIC) as subscriber:
                state["subs"] += 1
                try:
                    async for event in subscriber:
                        yield {"data": event.message}
                finally:
                    state["subs"] -= 1

        await EventSourceResponse(events())(scope, receive, send)

    async def publish(id: str, data: Any) -> None:
        await connect()
        await broadcast.publish(channel=TOPIC, message=json.dumps(data, separators=(",", ":")))

    return _app(subscribe, publish, lambda: state["subs"])


if os.environ.get("BENCH_BROKER_APP"):
    _which = os.environ["BENCH_BROKER_APP"]
    broker_app = _broker() if _which == "broker" else None
    handrolled_app = _handrolled() if _which == "handrolled" else None
    starlette_queue_app = _starlette_queue() if _which == "sse-starlette" else None
    broadcaster_app = _broadcaster() if _which == "broadcaster" else None


# ---- clients (their own processes) -------------------------------------------------------------------


async def _subscriber(port: int, events: int, last_id: str = "") -> Tuple[float, asyncio.StreamWriter]:
    """Read ``/sub`` until ``events`` ``data:`` lines came: the time of the last (-1 if the stream ended) and
    the connection, left open so the server's cleanup is not counted with the delivery."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
    writer.write(f"GET /sub HTTP/1.1\r\nHost: 127.0.0.1\r\n{resume}\r\n".encode())
    count, tail = 0, b""
    while count < events:
        data = await reader.read(1 << 16)
        if not data:
            break
        window = tail + data
        count += window.count(PATTERN)
        tail = window[-(len(PATTERN) - 1) :]
    return (time.time() if count >= events else -1.0), writer


def client_main(port: int, conns: int, events: int, last_id: str) -> None:
    """``conns`` subscribers each reading ``events`` events; prints how many completed and the last end,
    then closes the connections."""

    async def run() -> None:
        start = time.time()
        done = await asyncio.gather(*(_subscriber(port, events, last_id) for _ in range(conns)))
        ends = [end for end, _ in done]
        print(json.dumps({"complete": sum(e > 0 for e in ends), "start": start, "end": max(ends)}), flush=True)
        for _, writer in done:
            writer.close()

    asyncio.run(run())


def _spawn_clients(port: int, subs: int, events: int, procs: int = 2, last_id: str = "") -> List[Any]:
    share = [subs // procs + (1 if i < subs % procs else 0) for i in range(procs)]
    command = [sys.executable, __file__, "client", str(port)]
    return [subprocess.Popen([*command, str(k), str(events), last_id], stdout=subprocess.PIPE) for k in share if k]


def _collect(children: List[Any], subs: int, what: str) -> Dict[str, float]:
    """The client processes' reports (they close their connections after): when the first started
    connecting and the last got its last event."""
    results = [json.loads(child.stdout.readline()) for child in children]
    complete = sum(r["complete"] for r in results)
    if complete != subs:
        raise RuntimeError(f"{what}: {complete} of {subs} subscribers got all their events")
    return {"start": min(r["start"] for r in results), "end": max(r["end"] for r in results)}


def _reap(children: List[Any]) -> None:
    for child in children:
        child.stdout.read()
        if child.wait(60):
            raise RuntimeError(f"a client process exited with {child.returncode}")


def _get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=300) as r:
        return r.read()


def _wait_subscribers(port: int, n: int, children: List[Any]) -> None:
    deadline = time.time() + 300
    while int(_get(port, "/count")) < n:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a client process ended before its subscribers connected")
        if time.time() > deadline:
            raise RuntimeError(f"{n} subscribers did not all connect within 300 s")
        time.sleep(0.2)


def _server(name: str) -> Server:
    os.environ["BENCH_BROKER_APP"] = name
    return Server(APPS[name], "auto", "auto", probe="/count", expect=b" 200 OK")


# ---- the runs ----------------------------------------------------------------------------------------


def fanout_run(name: str, subs: int, events: int) -> Dict[str, Any]:
    """``subs`` subscribers each get ``events`` chat chunks; server CPU per delivered event."""
    server = _server(name)
    try:
        children = _spawn_clients(server.port, subs, events)
        _wait_subscribers(server.port, subs, children)
        cpu0, start = _cpu_seconds(server.proc.pid), time.time()
        extra = json.loads(_get(server.port, f"/pub?n={events}"))
        end = _collect(children, subs, name)["end"]
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        _reap(children)
    finally:
        server.stop()
    delivered = subs * events
    return {"name": name, "delivered": delivered, "cpu_s": cpu, "us_per_delivered": cpu / delivered * 1e6,
            "seconds": end - start, **extra}  # fmt: skip


def idle_run(subs: int) -> Dict[str, Any]:
    """RSS per idle broker subscriber (connection included), then one publish to all of them."""
    server = _server("broker")
    try:
        time.sleep(0.5)
        before = _rss_kib(server.proc.pid)
        children = _spawn_clients(server.port, subs, 1, procs=4)
        _wait_subscribers(server.port, subs, children)
        time.sleep(1.0)
        after = _rss_kib(server.proc.pid)
        cpu0, start = _cpu_seconds(server.proc.pid), time.time()
        _get(server.port, "/pub?n=1&pause=0")
        end = _collect(children, subs, "idle")["end"]
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        _reap(children)
    finally:
        server.stop()
    return {"subs": subs, "kib_per_sub": (after - before) / subs, "publish_cpu_ms": cpu * 1e3,
            "publish_to_last_ms": (end - start) * 1e3}  # fmt: skip


def replay_run(missed: int, clients: int) -> Dict[str, Any]:
    """``clients`` clients at once resume from the first of ``missed + 1`` events published while nobody
    listened; per client: time from connecting to its last replayed event, and server CPU."""
    server = _server("broker")
    try:
        first = json.loads(_get(server.port, f"/pub?n={missed + 1}&pause=0"))["first_id"]
        cpu0 = _cpu_seconds(server.proc.pid)
        children = _spawn_clients(server.port, clients, missed, procs=1, last_id=first)
        span = _collect(children, clients, "replay")
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        _reap(children)
        replayed = json.loads(_get(server.port, "/pub?n=0"))["replayed"]
    finally:
        server.stop()
    if replayed != missed * clients:
        raise RuntimeError(f"the broker replayed {replayed} events, expected {missed * clients}")
    return {"missed": missed, "clients": clients, "ms": (span["end"] - span["start"]) * 1e3,
            "cpu_ms_per_client": cpu * 1e3 / clients}  # fmt: skip


def burst_run(subs: int, events: int = 1000, pad: int = 300, name: str = "broker") -> Dict[str, Any]:
    """``events`` chunks padded to ~330 B, published with no pause to ``subs`` subscribers: all must get all."""
    server = _server(name)
    try:
        children = _spawn_clients(server.port, subs, events)
        _wait_subscribers(server.port, subs, children)
        cpu0, start = _cpu_seconds(server.proc.pid), time.time()
        stats = json.loads(_get(server.port, f"/pub?n={events}&pause=0&pad={pad}"))
        published = time.time()
        end = _collect(children, subs, "burst")["end"]
        cpu = _cpu_seconds(server.proc.pid) - cpu0
        _reap(children)
    finally:
        server.stop()
    if stats["dropped_slow"]:
        raise RuntimeError(f"burst: {stats['dropped_slow']} of {subs} subscribers were dropped as slow")
    return {"subs": subs, "events": events, "us_per_delivered": cpu / (subs * events) * 1e6,
            "loop_s": published - start, "seconds": end - start}  # fmt: skip


def print_burst(r: Dict[str, Any]) -> None:
    print(f"\nburst: {r['events']:,} events of ~330 B in a tight publish loop to {r['subs']:,} subscribers: all got"
          f" all, none dropped; {r['us_per_delivered']:.2f} us server CPU per delivered event; the loop took"
          f" {r['loop_s']:.2f} s, the last event arrived after {r['seconds']:.2f} s")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 x 20 fan-out, 1,000 idle (for CI)")
    parser.add_argument("--subs", type=int, help="fan-out subscribers (default 1,000)")
    parser.add_argument("--events", type=int, help="fan-out events (default 100)")
    parser.add_argument("--idle", type=int, help="idle subscribers (default 10,000)")
    parser.add_argument("--only", nargs="*", default=list(APPS), choices=list(APPS), help="fan-out contenders")
    parser.add_argument("--burst", nargs="+", type=int, metavar="SUBS", help="only the burst run, for these counts")
    args = parser.parse_args()
    _raise_nofile()
    if args.burst:
        print(json.dumps(versions()))
        for count in args.burst:
            print_burst(burst_run(count))
        return
    subs = args.subs or (200 if args.quick else 1000)
    events = args.events or (20 if args.quick else 100)
    idle = args.idle or (1000 if args.quick else 10_000)
    print(json.dumps(versions()))
    rows = [fanout_run(name, subs, events) for name in args.only]
    print(f"\nfan-out: {subs:,} subscribers x {events} chat chunks, server CPU per delivered event (one run)")
    for row in rows:
        print(f"  {row['name']:14s} {row['us_per_delivered']:7.2f} us   ({row['cpu_s']:.2f} s CPU, "
              f"{row['seconds']:.2f} s from first publish to last event)")  # fmt: skip
    base = {row["name"]: row["us_per_delivered"] for row in rows}
    if "broker" in base:
        for other in base:
            if other != "broker":
                print(f"  broker uses {base[other] / base['broker']:.1f}x less CPU per event than {other}")
        calls = next(r for r in rows if r["name"] == "broker")["encode_json"]
        print(f"  encoder calls in the broker: {calls} for {events} events")
        if calls != events:
            sys.exit(f"the broker encoded {calls} times for {events} events: not once per event")
    r = idle_run(idle)
    print(f"\nidle: {r['subs']:,} subscribers, {r['kib_per_sub']:.1f} KiB of server RSS each (connection included);"
          f" one publish to all: {r['publish_cpu_ms']:.0f} ms server CPU, {r['publish_to_last_ms']:.0f} ms until"
          " the last client had it")  # fmt: skip
    print_burst(burst_run(100 if args.quick else 1000))
    r = replay_run(1000, 20)
    print(f"\nreplay: {r['clients']} clients reconnect at once, each missed {r['missed']:,} events: all replayed in"
          f" {r['ms']:.0f} ms; {r['cpu_ms_per_client']:.1f} ms server CPU per client")  # fmt: skip


if __name__ == "__main__":
    main()

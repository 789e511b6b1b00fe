"""The broker across processes on Redis Streams: latency, CPU per delivered event, Redis connections and CPU.

    python bench/broker_redis.py            # 1,000 subscribers x 100 events (report only; never fails on time)
    python bench/broker_redis.py --quick    # 200 subscribers x 30 events, < 60 s
    python bench/broker_redis.py capacity   # events/s one redis-server takes with 1, 4, 16 processes reading

Runs, each on uvicorn processes of their own with the subscribers in separate client processes (raw
asyncio sockets on 127.0.0.1):
  memory       one process, the in-process ``Broker()``, every subscriber on it;
  redis        two processes on one redis-server (``Broker("redis://...")``), half the subscribers on each;
  broadcaster  the peer: sse-starlette + ``broadcaster`` (its Redis pub/sub backend), two processes, half each
               (run when both are installed: pip install sse-starlette "broadcaster[redis]").
Process A publishes ``{"t": <time.time()>, "n": i}`` every ``--gap`` seconds; clients take ``now - t`` at
receipt (publish-to-client latency, one clock: same machine). Server CPU is utime + stime from
/proc/<pid>/stat over the run, divided by the events that process's clients received; Redis CPU likewise
over all delivered events. Redis connections are counted with CLIENT LIST while the subscribers are open.

``capacity``: how far one Redis goes. N reader processes (each the broker's Redis log, as a worker process
runs it, counting what it is delivered) follow the topic while publisher processes call ``publish_sync`` as
fast as they can for ``--seconds``. It reports the acknowledged publishes per second, Redis's CPU per event
(utime + stime of redis-server over the window) and the rate at which that CPU would fill Redis's one core
(its ceiling: 1 s / CPU per event), and checks that every reader got every event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "tests")]

import e2e  # noqa: E402
from e2e import _cpu_seconds, _raise_nofile, versions  # noqa: E402
from support.redis_server import missing_reason, redis_server  # noqa: E402

TOPIC = "room"
STAMP = re.compile(rb'"t":([0-9.]+),')

# ---- the servers (imported by uvicorn in their own processes; the kind comes from the environment) ------


def app() -> Any:
    """The ASGI app of one server process: ``/events`` streams the topic, ``/burst?n=&gap=`` publishes,
    ``/stats`` says the pid and the subscribers open here."""
    kind, url = os.environ["BENCH_KIND"], os.environ.get("BENCH_REDIS", "")
    if kind == "broadcaster":
        return _broadcaster_app(url)
    import sse_fast

    broker = sse_fast.Broker(url) if kind == "redis" else sse_fast.Broker()

    async def events(scope: dict, receive: Any, send: Any) -> None:
        await sse_fast.ASGIResponse(broker.subscriber(TOPIC))(scope, receive, send)

    return _routes(events, lambda data: broker.publish(TOPIC, data), lambda: broker.stats()["subscribers"])


def _broadcaster_app(url: str) -> Any:
    from broadcaster import Broadcast
    from sse_starlette import EventSourceResponse

    broadcast = Broadcast(url)
    state: Dict[str, Any] = {"subscribers": 0, "connected": None}

    async def keep() -> None:
        async with broadcast.subscribe(channel=TOPIC) as subscriber:
            async for _ in subscriber:
                pass

    async def connect() -> None:
        # Two races of broadcaster 0.3.1 worked around: concurrent first subscribers of a channel replace
        # each other's queue (so one subscriber, always there, is made first), and its listener stops for
        # good when it wakes before the first SUBSCRIBE completes (so it is woken again once it has).
        await broadcast.connect()
        state["keeper"] = asyncio.ensure_future(keep())
        while not broadcast._subscribers.get(TOPIC):
            await asyncio.sleep(0.01)
        broadcast._backend._ready.set()

    async def connected() -> None:
        if state["connected"] is None:
            state["connected"] = asyncio.ensure_future(connect())
        await state["connected"]

    async def events(scope: dict, receive: Any, send: Any) -> None:
        await connected()

        async def stream() -> Any:
            async with broadcast.subscribe(channel=TOPIC) as subscriber:
                state["subscribers"] += 1
                try:
                    async for event in subscriber:
                        yield {"data": event.message}
                finally:
                    state["subscribers"] -= 1

        await EventSourceResponse(stream())(scope, receive, send)

    async def publish(data: dict) -> None:
        await connected()
        await broadcast.publish(channel=TOPIC, message=json.dumps(data, separators=(",", ":")))

    return _routes(events, publish, lambda: state["subscribers"])


def _routes(events: Any, publish: Any, subscribers: Any) -> Any:
    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/events":
            await events(scope, receive, send)
            return
        if scope["path"] == "/burst":
            query = parse_qs(scope["query_string"].decode())
            n, gap = int(query["n"][0]), float(query["gap"][0])
            for i in range(n):
                await publish({"t": time.time(), "n": i})
                await asyncio.sleep(gap)
            body = b"ok"
        else:
            body = json.dumps({"pid": os.getpid(), "subscribers": subscribers()}).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


# ---- the clients (separate processes) ------------------------------------------------------------------


async def _subscriber(port: int, events: int, out: Dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    buffer, got = b"", 0
    while got < events:  # (the driver bounds the wait)
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError("a stream ended early")
        now, buffer, done = time.time(), buffer + chunk, 0
        for stamp in STAMP.finditer(buffer):  # a stamp ends with its comma: one cut between reads waits
            out["latencies"].append(now - float(stamp.group(1)))
            out["events"] += 1
            got, done = got + 1, stamp.end()
        buffer = buffer[done:]
    writer.close()


def client_main(args: argparse.Namespace) -> None:
    _raise_nofile()
    ports = [int(p) for p in args.ports.split(",")]
    results = {p: {"latencies": [], "events": 0} for p in ports}

    async def run() -> None:
        tasks = [asyncio.ensure_future(_subscriber(port, args.events, results[port]))
                 for port in (ports[i % len(ports)] for i in range(args.conns))]  # fmt: skip
        await asyncio.wait(tasks, timeout=args.timeout)  # what is missing then is reported, not waited for
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())
    print(json.dumps({str(p): r for p, r in results.items()}), flush=True)


# ---- the driver ----------------------------------------------------------------------------------------


class Server(e2e.Server):
    """``uvicorn broker_redis:app --factory`` as its own process, on a socket bound here (stopped as e2e's)."""

    def __init__(self, kind: str, redis_url: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        env = dict(os.environ, BENCH_KIND=kind, BENCH_REDIS=redis_url)
        # broadcaster 0.3.1 logs a KeyError from every subscriber that leaves: keep the report readable
        quiet = "critical" if kind == "broadcaster" else "warning"
        cmd = [sys.executable, "-m", "uvicorn", "broker_redis:app", "--factory", "--app-dir", HERE,
               "--fd", str(self.sock.fileno()), "--lifespan", "off", "--no-access-log", "--log-level", quiet,
               "--backlog", "4096"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, pass_fds=(self.sock.fileno(),), env=env, start_new_session=True)
        deadline = time.time() + 20
        while self.stats() is None:
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.1)

    def get(self, path: str, timeout: float = 5) -> Optional[bytes]:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                got = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return got.split(b"\r\n\r\n", 1)[1]
                    got += chunk
        except OSError:
            return None

    def stats(self) -> Optional[dict]:
        body = self.get("/stats", 1)
        return json.loads(body) if body else None


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(kind: str, processes: int, args: argparse.Namespace, redis: Any) -> Dict[str, Any]:
    import redis as redis_py

    servers = [Server(kind, redis.url if redis else "") for _ in range(processes)]
    try:
        ports = ",".join(str(s.port) for s in servers)
        share = [args.subscribers // args.client_procs + (i < args.subscribers % args.client_procs)
                 for i in range(args.client_procs)]  # fmt: skip
        clients = [subprocess.Popen([sys.executable, __file__, "client", "--ports", ports, "--conns", str(n),
                                     "--events", str(args.events), "--timeout", str(args.events * args.gap + 30)],
                                    stdout=subprocess.PIPE)
                   for n in share]  # fmt: skip
        deadline = time.time() + 60
        want = args.subscribers // processes
        while any((s.stats() or {}).get("subscribers", 0) < want for s in servers):
            if time.time() > deadline:
                raise RuntimeError(f"{kind}: the subscribers did not all connect within 60 s")
            time.sleep(0.1)
        cpu_before = [_cpu_seconds(s.proc.pid) for s in servers]
        redis_before = _cpu_seconds(redis.process.pid) if redis else 0.0
        servers[0].get(f"/burst?n={args.events}&gap={args.gap}", timeout=300)
        connections = None
        if redis is not None:  # after publishing, the subscribers still open
            with redis_py.Redis.from_url(redis.url) as admin:
                connections = len(admin.client_list()) - 1  # less this admin connection
        results: Dict[str, Any] = {}
        for client in clients:
            out, _ = client.communicate(timeout=300)
            for port, r in json.loads(out).items():
                merged = results.setdefault(port, {"latencies": [], "events": 0})
                merged["latencies"] += r["latencies"]
                merged["events"] += r["events"]
        cpu = [_cpu_seconds(s.proc.pid) - b for s, b in zip(servers, cpu_before)]
        redis_cpu = (_cpu_seconds(redis.process.pid) - redis_before) if redis else None
    finally:
        for server in servers:
            server.stop()
    per = [results[str(s.port)] for s in servers]
    latencies = [x for r in per for x in r["latencies"]]
    delivered = sum(r["events"] for r in per)
    return {
        "kind": kind,
        "processes": processes,
        "delivered": delivered,
        "missing": args.subscribers * args.events - delivered,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "per_process": [
            {
                "events": r["events"],
                "cpu_s": c,
                "cpu_us_per_event": c / r["events"] * 1e6,
                "p50_ms": percentile(r["latencies"], 0.5) * 1000,
                "p99_ms": percentile(r["latencies"], 0.99) * 1000,
            }
            for r, c in zip(per, cpu)
        ],  # fmt: skip
        "redis_connections": connections,
        "redis_cpu_us_per_event": None if redis_cpu is None else redis_cpu / delivered * 1e6,
    }


def driver_main(args: argparse.Namespace) -> None:
    reason = missing_reason()
    if reason:
        print(f"skipped: {reason}")
        return
    kinds = list(args.kinds)
    if "broadcaster" in kinds:
        try:
            import broadcaster  # noqa: F401
            import sse_starlette  # noqa: F401
        except ImportError:
            print("broadcaster or sse-starlette not installed: the peer run is skipped")
            kinds.remove("broadcaster")
    print(json.dumps(versions()))
    print(f"{args.subscribers:,} subscribers x {args.events} events, one every {args.gap * 1000:.0f} ms, "
          f"{args.client_procs} client processes\n")  # fmt: skip
    print(f"{'run':<13}{'procs':>6}{'missing':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/event per process':>27}"
          f"{'Redis conns':>13}{'Redis CPU us/ev':>17}", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            if kind == "memory":
                r = run(kind, 1, args, None)
            else:
                with redis_server(os.path.join(tmp, kind)) as redis:
                    r = run(kind, 2, args, redis)
            rows.append(r)
            cpu = " / ".join(f"{p['cpu_us_per_event']:.1f}" for p in r["per_process"])
            conns = "-" if r["redis_connections"] is None else str(r["redis_connections"])
            redis_cpu = "-" if r["redis_cpu_us_per_event"] is None else f"{r['redis_cpu_us_per_event']:.2f}"
            print(f"{kind:<13}{r['processes']:>6}{r['missing']:>8}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{cpu:>27}"
                  f"{conns:>13}{redis_cpu:>17}", flush=True)  # fmt: skip
    print()
    base = {r["kind"]: r for r in rows}.get("memory")
    for r in rows:
        mean = sum(p["cpu_s"] for p in r["per_process"]) / max(r["delivered"], 1) * 1e6
        ratio = f" = {mean / base['per_process'][0]['cpu_us_per_event']:.2f}x the in-process broker's" if base else ""
        print(f"{r['kind']}: server CPU per delivered event {mean:.1f} us (all its processes){ratio}")
    if args.json:
        print(json.dumps(rows))
    wrong = [r["kind"] for r in rows if r["missing"] and r["kind"] != "broadcaster"]
    if wrong:  # an output check, not a time check: sse_fast's runs must deliver every event
        sys.exit(f"events missing in: {', '.join(wrong)}")


def reader_main(args: argparse.Namespace) -> None:
    """One reading process: the broker's Redis log following the topic, counting deliveries until stdin ends."""
    from sse_fast.broker.redis import RedisLog

    got = [0]
    log = RedisLog(args.url)
    log.start(lambda topic, key, frame: got.__setitem__(0, got[0] + 1), lambda topic, reset: None)
    log.watch(TOPIC)
    print("ready", flush=True)
    sys.stdin.read()
    time.sleep(1.0)  # the tail in flight
    print(got[0], flush=True)


def publisher_main(args: argparse.Namespace) -> None:
    """One publishing process: ``publish_sync`` in a loop for ``--seconds``; prints how many were acknowledged."""
    import sse_fast

    broker, n = sse_fast.Broker(args.url), 0
    broker.publish_sync(TOPIC, "warm-up")
    sys.stdin.readline()  # go
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        broker.publish_sync(TOPIC, '{"n":%d}' % n)
        n += 1
    print(n + 1, flush=True)


def capacity_main(args: argparse.Namespace) -> None:
    reason = missing_reason()
    if reason:
        print(f"skipped: {reason}")
        return
    print(json.dumps(versions()))
    print(f"{args.publishers} publisher processes, publish_sync in a loop for {args.seconds} s; one redis-server\n")
    print(f"{'readers':>8}{'events/s':>10}{'Redis CPU us/event':>20}{'Redis core busy':>17}{'ceiling events/s':>18}"
          f"{'missing':>9}", flush=True)  # fmt: skip
    spawn = [sys.executable, __file__]
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.readers:
            with redis_server(os.path.join(tmp, f"r{n}"), persistence=False) as redis:
                readers = [subprocess.Popen(spawn + ["reader", "--url", redis.url], **pipes) for _ in range(n)]
                for reader in readers:
                    assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
                publishers = [
                    subprocess.Popen(spawn + ["publisher", "--url", redis.url, "--seconds", str(args.seconds)], **pipes)
                    for _ in range(args.publishers)
                ]
                time.sleep(1.0)  # every publisher connected and warmed up
                before, start = _cpu_seconds(redis.process.pid), time.monotonic()
                for publisher in publishers:
                    assert publisher.stdin is not None
                    publisher.stdin.write("go\n")
                    publisher.stdin.flush()
                published = sum(int(p.communicate(timeout=args.seconds + 60)[0]) for p in publishers)
                elapsed, cpu = time.monotonic() - start, _cpu_seconds(redis.process.pid) - before
                got = [int(r.communicate(timeout=60)[0]) for r in readers]
            events = published - args.publishers  # less the warm-up publishes
            missing = sum(max(published - g, 0) for g in got)
            failed = failed or missing > 0
            per_event = cpu / events * 1e6
            print(f"{n:>8}{events / elapsed:>10.0f}{per_event:>20.1f}{cpu / elapsed * 100:>16.0f}%"
                  f"{1e6 / per_event:>18.0f}{missing:>9}", flush=True)  # fmt: skip
    if failed:  # an output check: every reader must get every event
        sys.exit("a reader missed events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    client = sub.add_parser("client")
    client.add_argument("--ports", required=True)
    client.add_argument("--conns", type=int, required=True)
    client.add_argument("--events", type=int, required=True)
    client.add_argument("--timeout", type=float, required=True)
    for name in ("reader", "publisher"):
        role = sub.add_parser(name)
        role.add_argument("--url", required=True)
        role.add_argument("--seconds", type=float, default=5.0)
    capacity = sub.add_parser("capacity", help="events/s one Redis takes with N processes reading")
    capacity.add_argument("--readers", type=int, nargs="+", default=[1, 4, 16])
    capacity.add_argument("--publishers", type=int, default=2)
    capacity.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="200 subscribers x 30 events (CI)")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between two publishes (default 0.02)")
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON at the end")
    parser.add_argument("--kinds", nargs="+", default=["memory", "redis", "broadcaster"], help="runs to make")
    args = parser.parse_args()
    if args.command in ("client", "reader", "publisher", "capacity"):
        {"client": client_main, "reader": reader_main, "publisher": publisher_main, "capacity": capacity_main}[
            args.command
        ](args)
        return
    args.subscribers = args.subscribers or (200 if args.quick else 1000)
    args.events = args.events or (30 if args.quick else 100)
    driver_main(args)


if __name__ == "__main__":
    main()

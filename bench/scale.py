"""Scale benchmark: N idle broker subscribers in ONE uvicorn process (httptools + uvloop), then lone publishes.

    python bench/scale.py --quick            # 2,000 streams (CI; well under a minute)
    python bench/scale.py                    # 10,000 then 50,000 streams
    python bench/scale.py --streams 100000   # one size
    python bench/scale.py --streams 10000 --rounds 10 --idle 20 --floor
    python bench/scale.py --streams 10000 --py-spy prof.txt   # where the server's time goes (pip install py-spy)

Per N: server RSS per stream (VmRSS with N open minus before, over N, connections included), the time to
accept them all (from the clients' go to the last response head), and ``--rounds`` lone publishes, each
carrying the server's ``time.time()`` just before ``publish``: the p50/p99/max latency of one publish to
all N (arrival in the client minus that stamp, over every stream of every round), server CPU per delivery
(utime + stime over the rounds, less the same time's CPU before them with no publish, over N x rounds),
the longest event-loop pause (a probe task in the server sleeping 1 ms at a time: the worst overshoot) and
the longest pause of Python's cyclic garbage collector (``gc.callbacks``) while the streams are open,
rounds and ``--idle`` seconds of quiet included (15 s by default: the default heartbeat comes due then),
and what one full collection (``gc.collect()``) takes with them open: the pause a generation-2 collection
would make. Pauses are in wall time and, in brackets, in the server thread's CPU time, which other
processes taking the CPU do not inflate. The clients' own loop lag (the same probe in each client process)
is shown next to the latency: arrival times include it. ``--gc-freeze`` calls ``gc.freeze()`` in the
server before the clients connect (what docs/scale.md advises after startup). ``--floor`` first times raw
``send()`` calls to 10,000 loopback connections from one process: what a delivery costs here at the least,
the kernel's loopback path (the receiving side's too) included.

Clients are lean (asyncio protocols on raw
sockets, no HTTP library) in ``--procs`` processes, each connecting from its own loopback source addresses
(127.0.0.2, 127.0.0.3, ...: each address has the ephemeral port range, ~28,000 ports, to itself). Every process
raises ``RLIMIT_NOFILE`` (to N + 1,000 when allowed, else to its hard limit: check ``ulimit -Hn``). Linux only;
loopback only. Reports; fails only when an output is wrong (a stream that did not get an event), never on time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import Server, _cpu_seconds, _rss_kib  # noqa: E402

TOPIC = "scale"
PORTS_PER_ADDRESS = 25_000  # of the ~28,000 ephemeral ports (net.ipv4.ip_local_port_range) each address has
PROBE = 0.001  # seconds the loop-lag probes sleep
QUIET = 2.0  # seconds of no publish before the rounds: the server's CPU then is taken off theirs


def raise_nofile(want: int) -> int:
    """Raise this process's fd limit to ``want`` (root may raise the hard limit too); returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((max(want, hard), max(want, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return limit[0]
        except (ValueError, OSError):
            continue
    return soft


class Pauses:
    """The longest event-loop pause (a task sleeping ``PROBE`` at a time) and the longest GC pause, each in
    wall time and in this thread's CPU time (which a busy machine's preemption does not inflate)."""

    def __init__(self) -> None:
        self.loop = self.loop_cpu = self.gc = self.gc_cpu = 0.0
        self.collections = self.full = 0
        self._gc_start = self._gc_start_cpu = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start, self._gc_start_cpu = time.perf_counter(), time.thread_time()
        else:
            self.collections += 1
            self.full += info["generation"] == 2
            self.gc = max(self.gc, time.perf_counter() - self._gc_start)
            self.gc_cpu = max(self.gc_cpu, time.thread_time() - self._gc_start_cpu)

    async def probe(self) -> None:
        while True:
            before, before_cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(PROBE)
            self.loop = max(self.loop, time.perf_counter() - before - PROBE)
            self.loop_cpu = max(self.loop_cpu, time.thread_time() - before_cpu)

    def take(self) -> Dict[str, float]:
        """The worst pauses since the last ``take``, in ms; starts again."""
        out = {"loop_ms": self.loop * 1e3, "loop_cpu_ms": self.loop_cpu * 1e3, "gc_ms": self.gc * 1e3,
               "gc_cpu_ms": self.gc_cpu * 1e3, "collections": self.collections, "full": self.full}  # fmt: skip
        self.loop = self.loop_cpu = self.gc = self.gc_cpu = 0.0
        self.collections = self.full = 0
        return out


# ---- the server (imported by uvicorn in its own process) ---------------------------------------------


def _server_app() -> Any:
    import sse_fast

    broker = sse_fast.Broker()
    pauses: List[Pauses] = []

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not pauses:
            pauses.append(Pauses())
            asyncio.get_running_loop().create_task(pauses[0].probe())
        path = scope["path"]
        if path == "/sub":
            await sse_fast.ASGIResponse(broker.subscriber(TOPIC))(scope, receive, send)
            return
        if path == "/pub":
            round_ = scope["query_string"].decode()
            await broker.publish(TOPIC, f"{round_} {time.time()!r}")
            body = b"ok"
        elif path == "/pauses":
            body = json.dumps(pauses[0].take()).encode()
        elif path == "/gc-full":  # what a collection of every generation costs with the streams open
            start = time.thread_time()
            gc.collect()
            kinds = Counter(type(o).__name__ for o in gc.get_objects())
            body = json.dumps([time.thread_time() - start, sum(kinds.values()), kinds.most_common(15)]).encode()
        elif path == "/gc-freeze":
            gc.collect()
            gc.freeze()
            body = b"frozen"
        else:
            body = str(broker.stats()["subscribers"]).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


app = _server_app() if os.environ.get("BENCH_SCALE_SERVER") else None


# ---- the clients (their own processes) ---------------------------------------------------------------


class _Stream(asyncio.Protocol):
    """One subscriber: notes when its response head came, and each event's latency."""

    __slots__ = ("client", "headed")

    def __init__(self, client: "_Client") -> None:
        self.client = client
        self.headed = False

    def connection_made(self, transport: Any) -> None:
        transport.write(b"GET /sub HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.headed:
            self.headed = True
            self.client.headed()
        at = data.find(b"data: ")
        while at >= 0:
            end = data.find(b"\n", at)
            round_, stamp = data[at + 6 : end].split()
            self.client.latencies.setdefault(int(round_), []).append(now - float(stamp))
            at = data.find(b"data: ", end)

    def connection_lost(self, exc: Any) -> None:
        self.client.lost += 1


class _Client:
    def __init__(self, conns: int) -> None:
        self.conns = conns
        self.heads = 0
        self.lost = 0
        self.latencies: Dict[int, List[float]] = {}
        self.all_headed = asyncio.get_running_loop().create_future()

    def headed(self) -> None:
        self.heads += 1
        if self.heads == self.conns:
            self.all_headed.set_result(time.time())


def client_main(port: int, conns: int, addresses: List[str], rounds: int) -> None:
    """Open ``conns`` streams from ``addresses`` (``PORTS_PER_ADDRESS`` each), print when all had their
    head; then, after ``rounds`` events on every stream (or the parent's "report" line on stdin), print the
    latencies, the loop lag seen meanwhile, and exit."""
    raise_nofile(conns + 1000)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        client = _Client(conns)
        pauses = Pauses()
        sys.stdin.readline()  # "go"
        go = time.time()
        gate = asyncio.Semaphore(512)  # connects in flight (the server's backlog is 4,096)
        transports = []

        async def connect(i: int) -> None:
            async with gate:
                transport, _ = await loop.create_connection(
                    lambda: _Stream(client), "127.0.0.1", port, local_addr=(addresses[i // PORTS_PER_ADDRESS], 0)
                )
                transports.append(transport)

        await asyncio.gather(*(connect(i) for i in range(conns)))
        done = await client.all_headed
        print(json.dumps({"go": go, "headed": done}), flush=True)
        pauses.take()
        probe = loop.create_task(pauses.probe())
        report = loop.run_in_executor(None, sys.stdin.readline)
        await report
        probe.cancel()
        lat = {str(k): v for k, v in client.latencies.items()}
        print(json.dumps({"latencies": lat, "lost": client.lost, **pauses.take()}), flush=True)
        for transport in transports:
            transport.abort()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


# ---- the driver --------------------------------------------------------------------------------------


def _get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=300) as r:
        return bytes(r.read())


def _pct(values: List[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def scale_run(streams: int, procs: int, rounds: int, idle: float, freeze: bool, py_spy: str = "") -> Dict[str, Any]:
    """One server, ``streams`` subscribers over ``procs`` client processes, ``rounds`` lone publishes."""
    raise_nofile(streams + 1000)  # inherited by the server and the clients
    os.environ["BENCH_SCALE_SERVER"] = "1"
    server = Server("scale:app", "httptools", "uvloop", probe="/count", expect=b" 200 OK")
    children: List[Any] = []
    try:
        if freeze:
            _get(server.port, "/gc-freeze")
        rss0 = _rss_kib(server.proc.pid)
        share = [streams // procs + (1 if i < streams % procs else 0) for i in range(procs)]
        per_proc = -(-max(share) // PORTS_PER_ADDRESS)  # source addresses each client process needs
        for i, k in enumerate(share):
            firsts = range(i * per_proc, (i + 1) * per_proc)
            addresses = [f"127.0.{2 + n // 250}.{2 + n % 250}" for n in firsts]
            cmd = [sys.executable, __file__, "client", str(server.port), str(k), ",".join(addresses), str(rounds)]
            children.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        time.sleep(1.0)  # the clients start their interpreters
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        heads = [json.loads(child.stdout.readline()) for child in children]
        accept_s = max(h["headed"] for h in heads) - min(h["go"] for h in heads)
        while int(_get(server.port, "/count")) < streams:
            time.sleep(0.1)
        time.sleep(0.5)
        rss = _rss_kib(server.proc.pid)
        _get(server.port, "/pauses")  # the pauses of the connecting are not counted
        quiet0 = _cpu_seconds(server.proc.pid)
        time.sleep(QUIET)
        spy = None
        if py_spy:
            spy = subprocess.Popen(["py-spy", "record", "-p", str(server.proc.pid), "-o", py_spy, "-f", "raw",
                                    "-r", "1000", "--nonblocking"], stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(1.0)
        cpu0 = _cpu_seconds(server.proc.pid)
        quiet_rate = (cpu0 - quiet0) / QUIET  # the probe's and the heartbeats' CPU, taken off the rounds'
        for r in range(rounds):
            _get(server.port, f"/pub?{r}")
            time.sleep(1.0)
        cpu = _cpu_seconds(server.proc.pid) - cpu0 - quiet_rate * rounds
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
        time.sleep(idle)
        pauses = json.loads(_get(server.port, "/pauses"))
        full_gc, tracked, kinds = json.loads(_get(server.port, "/gc-full"))
        for child in children:
            child.stdin.write("report\n")
            child.stdin.flush()
        reports = [json.loads(child.stdout.readline()) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
        server.stop()
    latencies = [x for rep in reports for v in rep["latencies"].values() for x in v]
    if len(latencies) != streams * rounds or any(rep["lost"] for rep in reports):
        raise RuntimeError(f"{len(latencies)} of {streams * rounds} events arrived; streams lost: "
                           f"{sum(rep['lost'] for rep in reports)}")  # fmt: skip
    worst_round = max(max(v) for rep in reports for v in rep["latencies"].values())
    return {
        "streams": streams,
        "rss_kib_per_stream": (rss - rss0) / streams,
        "accept_s": accept_s,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": _pct(latencies, 0.99) * 1e3,
        "max_ms": worst_round * 1e3,
        "cpu_us_per_delivery": cpu / (streams * rounds) * 1e6,
        "loop_pause_ms": pauses["loop_ms"],
        "loop_pause_cpu_ms": pauses["loop_cpu_ms"],
        "gc_pause_ms": pauses["gc_ms"],
        "gc_pause_cpu_ms": pauses["gc_cpu_ms"],
        "collections": pauses["collections"],
        "full_collections": pauses["full"],
        "full_gc_ms": full_gc * 1e3,
        "tracked_per_stream": tracked / streams,
        "tracked_kinds": {kind: round(n / streams, 1) for kind, n in kinds},
        "client_loop_lag_ms": max(rep["loop_ms"] for rep in reports),
    }


def send_floor(n: int) -> float:
    """Seconds per ``send`` of one small chunk to each of ``n`` loopback TCP connections from one Python
    loop, no framework: what one delivery costs at least here (the kernel's loopback path included)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    clients, servers = [], []
    try:
        for i in range(n):
            client = socket.socket()
            client.bind((f"127.0.0.{2 + i // PORTS_PER_ADDRESS}", 0))
            client.connect(listener.getsockname())
            clients.append(client)
            servers.append(listener.accept()[0])
        chunk = b"2c\r\ndata: 0 1765130000.123456\n\n\r\n"
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for s in servers:
                s.send(chunk)
            best = min(best, time.perf_counter() - start)
            for c in clients:
                c.recv(100)
        return best / n
    finally:
        for s in clients + servers + [listener]:
            s.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        port, conns, addresses, rounds = sys.argv[2:6]
        client_main(int(port), int(conns), addresses.split(","), int(rounds))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 streams, 3 rounds, 2 s idle (CI)")
    parser.add_argument("--streams", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=5, help="lone publishes, 1 s apart")
    parser.add_argument("--idle", type=float, default=15.0, help="quiet seconds watched after the rounds")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() in the server before the streams")
    parser.add_argument("--floor", action="store_true", help="first, raw loopback sends from one process")
    parser.add_argument("--py-spy", default="", metavar="FILE",
                        help="profile the server over the rounds with py-spy (raw stacks to FILE)")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.streams, args.rounds, args.idle = [2_000], 3, 2.0
    limit = raise_nofile(max(args.streams) + 1000)
    if args.quick and limit < max(args.streams) + 200:
        args.streams = [limit - 200]  # CI where the fd limit is low: fewer streams, the same checks
    if limit < max(args.streams) + 200:
        sys.exit(f"scale: {max(args.streams):,} streams need as many fds in the server, and the limit here is "
                 f"{limit:,} (ulimit -Hn); raise the hard limit (root with CAP_SYS_RESOURCE, limits.conf, "
                 f"systemd's LimitNOFILE=) or run fewer")  # fmt: skip
    if args.floor:
        n = min(10_000, (limit - 100) // 2)
        print(f"floor: {send_floor(n) * 1e6:.2f} us per raw send() to {n:,} loopback connections from one process")
    print(f"scale: one uvicorn process (httptools, uvloop), {args.procs} client processes, {args.rounds} lone "
          f"publishes 1 s apart, then {args.idle:g} s idle; fd limit {limit}")  # fmt: skip
    print(f"{'streams':>8} {'RSS/stream':>11} {'accept':>7} {'p50':>8} {'p99':>8} {'max':>8} {'CPU/deliv':>10} "
          f"{'loop max (CPU)':>16} {'GC max (CPU)':>14} {'full GC':>8} {'client lag':>10} "
          f"{'GC objs/stream':>17}")  # fmt: skip
    for n in args.streams:
        r = scale_run(n, args.procs, args.rounds, args.idle, args.gc_freeze, args.py_spy)
        print(f"{n:>8,} {r['rss_kib_per_stream']:>7.1f} KiB {r['accept_s']:>6.1f}s {r['p50_ms']:>6.1f}ms "
              f"{r['p99_ms']:>6.1f}ms {r['max_ms']:>6.1f}ms {r['cpu_us_per_delivery']:>7.2f} us "
              f"{r['loop_pause_ms']:>6.1f} ({r['loop_pause_cpu_ms']:>5.1f})ms "
              f"{r['gc_pause_ms']:>5.1f} ({r['gc_pause_cpu_ms']:>4.1f})ms {r['full_gc_ms']:>6.1f}ms "
              f"{r['client_loop_lag_ms']:>8.1f}ms {r['tracked_per_stream']:>17.1f}",
              flush=True)  # fmt: skip
        kinds = ", ".join(f"{k} {v:g}" for k, v in r["tracked_kinds"].items())
        print(
            f"         {r['collections']} collections while watched, {r['full_collections']} of them full; "
            f"GC-tracked objects per stream, by type: {kinds}"
        )


if __name__ == "__main__":
    main()

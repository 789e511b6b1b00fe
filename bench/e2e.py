"""End-to-end benchmark: uvicorn serving sse_fast's ASGI writer and sse-starlette's EventSourceResponse.

    python bench/e2e.py            # full: 200,000 chunks to 1 client, 2,000 each to 100 clients, 1,000 idle
    python bench/e2e.py --quick    # the same, 10x smaller
    python bench/e2e.py --servers sse-starlette --quick
    python bench/e2e.py --http httptools --loop uvloop
    python bench/e2e.py --runs idle --repeat 5   # idle memory only: sse_fast, sse-starlette, hand-written floor
    python bench/e2e.py --server granian --loop uvloop   # granian (one worker) instead of uvicorn

Each server is its own uvicorn process on 127.0.0.1 (a socket bound here and handed over with ``--fd``);
clients are separate processes of raw asyncio sockets that count ``data: `` lines and read nothing else, so
they stay cheap. Reported: events/s (all events / wall time from the common start to the last byte), server
CPU seconds per 100k events (utime + stime from /proc/<pid>/stat), and server RSS per idle connection
(``VmRSS`` with N idle streams open, minus before them, over N, each time on a fresh server process). The
``hand-written`` floor serves the paced run (``encode_json`` + one ``send`` per event) and the idle run (the
start, one event, then ``receive()`` until ``http.disconnect`` in the app's own task: what uvicorn itself holds
per open stream). Linux only; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = {"sse_fast": "e2e:sse_fast_app", "sse-starlette": "e2e:sse_starlette_app", "hand-written": "e2e:hand_app"}
PATTERN = b"data: "
RUNS = ("one", "many", "paced", "idle")
IDLE_PING = 3600  # seconds: keep-alives must not fire while idle memory is measured


# ---- the two servers (imported by uvicorn in its own process) -----------------------------------------


def _query(scope: dict) -> tuple[str, int]:
    n = parse_qs(scope.get("query_string", b"").decode()).get("n", ["1"])[0]
    return scope["path"], int(n)


async def sse_starlette_app(scope: dict, receive: Any, send: Any) -> None:
    """``/stream?n=N``: N chat chunks as ``JSONServerSentEvent``; ``/idle``: one chunk, then silence."""
    from sse_starlette import EventSourceResponse, JSONServerSentEvent

    from sse_fast._bench import chat_chunk, token

    path, n = _query(scope)

    async def chunks():
        for i in range(n):
            yield JSONServerSentEvent(chat_chunk(token(i), i))
            if path == "/paced":
                await asyncio.sleep(0)
        if path == "/idle":
            await asyncio.sleep(IDLE_PING * 2)

    await EventSourceResponse(chunks(), ping=IDLE_PING)(scope, receive, send)


async def sse_fast_app(scope: dict, receive: Any, send: Any) -> None:
    """The same two routes on sse_fast's ASGI writer (``ASGIResponse``, no framework)."""
    from sse_fast import ASGIResponse
    from sse_fast._bench import chat_chunk, token

    path, n = _query(scope)

    async def chunks(writer: Any) -> None:
        for i in range(n):
            await writer.write_event(chat_chunk(token(i), i))
            if path == "/paced":
                await asyncio.sleep(0)
        if path == "/idle":
            await asyncio.sleep(IDLE_PING * 2)

    await ASGIResponse(chunks, heartbeat=IDLE_PING)(scope, receive, send)


async def hand_app(scope: dict, receive: Any, send: Any) -> None:
    """The floor for ``/paced``: ``encode_json`` and one ASGI send per event, nothing else (no disconnect
    watch, no send bound, no heartbeat). For ``/idle``, after its events it awaits ``http.disconnect`` from
    ``receive`` in the app's own task: what uvicorn itself holds per open connection."""
    from sse_fast import encode_json
    from sse_fast._bench import chat_chunk, token

    path, n = _query(scope)
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for i in range(n):
        await send({"type": "http.response.body", "body": encode_json(chat_chunk(token(i), i)), "more_body": True})
        if path == "/paced":
            await asyncio.sleep(0)
    if path == "/idle":
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---- the client process ------------------------------------------------------------------------------


async def _one(port: int, target: str, start_at: float) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    count, size, tail = 0, 0, b""
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        size += len(data)
        window = tail + data
        count += window.count(PATTERN)
        tail = window[-(len(PATTERN) - 1) :]
    end = time.time()
    writer.close()
    return {"events": count, "bytes": size, "end": end}


async def _client(port: int, target: str, conns: int, start_at: float) -> dict:
    results = await asyncio.gather(*[_one(port, target, start_at) for _ in range(conns)])
    return {"events": sum(r["events"] for r in results), "bytes": sum(r["bytes"] for r in results),
            "end": max(r["end"] for r in results)}  # fmt: skip


def client_main(args: argparse.Namespace) -> None:
    result = asyncio.run(_client(args.port, args.target, args.conns, args.start_at))
    print(json.dumps(result), flush=True)


# ---- the driver --------------------------------------------------------------------------------------


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (granian serves from a worker process)."""
    pids = [pid]
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            for child in f.read().split():
                pids += _tree(int(child))
    return pids


def _cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` and its descendants."""
    user = system = 0
    for one in _tree(pid):
        with open(f"/proc/{one}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants."""
    return sum(_cpu_split(pid))


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants."""
    total = 0
    for one in _tree(pid):
        with open(f"/proc/{one}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


class Server:
    """One server process (uvicorn, or granian with one worker) serving ``app``; stopped with SIGINT, then
    SIGKILL. uvicorn gets a socket bound here; granian binds a free port itself (``http`` is then unused:
    its HTTP is its own).

    Ready once ``GET probe`` answers with ``expect`` in its bytes.
    """

    def __init__(
        self, app: str, http: str, loop: str, probe: str = "/stream?n=1", expect: bytes = PATTERN,
        server: str = "uvicorn",
    ) -> None:  # fmt: skip
        self.probe, self.expect = probe, expect
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        if server == "granian":
            self.sock.close()  # its port is granian's to bind
            cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
                   "--port", str(self.port), "--http", "1", "--loop", loop, "--workers", "1", "--no-ws",
                   "--no-access-log", "--log-level", "warning", "--backlog", "4096", app]  # fmt: skip
            path = os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), HERE)))
            env = {**os.environ, "PYTHONPATH": path}
            self.proc = subprocess.Popen(cmd, cwd=HERE, env=env, start_new_session=True)
        else:
            cmd = [sys.executable, "-m", "uvicorn", app, "--app-dir", HERE, "--fd", str(self.sock.fileno()),
                   "--http", http, "--loop", loop, "--lifespan", "off", "--no-access-log", "--log-level",
                   "warning", "--backlog", "4096"]  # fmt: skip
            # cwd: ``python -m`` puts the working directory first on sys.path, where a checkout's sse_fast would
            # shadow the one PYTHONPATH names (bench/e2e_ab.py's before side)
            self.proc = subprocess.Popen(cmd, cwd=HERE, pass_fds=(self.sock.fileno(),), start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {self.probe} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    got = b""
                    while self.expect not in got:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    if self.expect in got:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer within 20 s")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.sock.close()


def _clients(port: int, target: str, conns: int, procs: int) -> dict:
    """Run ``conns`` streams spread over ``procs`` client processes from one common start; add them up."""
    start_at = time.time() + 1.0
    share = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    command = [sys.executable, __file__, "client", "--port", str(port), "--target", target]
    children = [
        subprocess.Popen([*command, "--conns", str(k), "--start-at", repr(start_at)], stdout=subprocess.PIPE)
        for k in share
        if k
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode:
            raise RuntimeError(f"client exited with {child.returncode}")
        results.append(json.loads(out))
    return {
        "events": sum(r["events"] for r in results),
        "bytes": sum(r["bytes"] for r in results),
        "seconds": max(r["end"] for r in results) - start_at,
    }


def stream_run(server: Server, events: int, conns: int, procs: int, path: str = "/stream") -> dict:
    """``conns`` clients each read ``events`` chunks; events/s and server CPU s per 100k events."""
    user0, system0 = _cpu_split(server.proc.pid)
    got = _clients(server.port, f"{path}?n={events}", conns, procs)
    user1, system1 = _cpu_split(server.proc.pid)
    user, system = user1 - user0, system1 - system0
    cpu = user + system
    want = events * conns
    if got["events"] != want:
        raise RuntimeError(f"clients counted {got['events']:,} events, expected {want:,}")
    return {
        "events": want,
        "events_per_s": want / got["seconds"],
        "cpu_per_100k": cpu / want * 1e5,
        "user_per_100k": user / want * 1e5,  # the server's own code
        "system_per_100k": system / want * 1e5,  # mostly the kernel's socket sends
        "seconds": got["seconds"],
        "cpu": cpu,
    }


def idle_run(server: Server, conns: int) -> dict:
    """RSS added per idle stream: ``conns`` streams each get one event and then stay open, quiet."""
    time.sleep(0.5)
    before = _rss_kib(server.proc.pid)
    child = subprocess.Popen(
        [sys.executable, __file__, "idle", "--port", str(server.port), "--conns", str(conns)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    line = child.stdout.readline().decode().strip()
    if line != "ready":
        raise RuntimeError(f"idle client said {line!r}")
    time.sleep(1.0)
    after = _rss_kib(server.proc.pid)
    child.stdin.close()
    child.wait(60)
    return {"conns": conns, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_conn": (after - before) / conns}  # fmt: skip


async def open_idle(
    port: int, conns: int, path: str = "/idle?n=1", until: bytes = PATTERN
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Open ``conns`` streams of ``path`` and read each one until ``until`` (its first event); they stay open."""
    opened = []
    for _ in range(conns):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        opened.append((reader, writer))
    for reader, _ in opened:
        got = b""
        while until not in got:
            chunk = await reader.read(4096)
            if not chunk:
                raise RuntimeError(f"an idle stream of {path} closed before it sent {until!r}")
            got += chunk
    return opened


async def _idle(port: int, conns: int, path: str = "/idle?n=1", until: bytes = PATTERN) -> None:
    """The idle client: ``open_idle``, say ``ready``, hold the streams until stdin closes."""
    opened = await open_idle(port, conns, path, until)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, writer in opened:
        writer.close()


def idle_main(args: argparse.Namespace) -> None:
    asyncio.run(_idle(args.port, args.conns))


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    for name in ("sse-fast", "sse-starlette", "starlette", "uvicorn", "orjson", "uvloop", "httptools", "h11"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    import sse_fast

    out["sse_fast encoder"] = sse_fast.IMPLEMENTATION
    return out


def driver_main(args: argparse.Namespace) -> None:
    scale = 10 if args.quick else 1
    one, many, clients, idle, paced = 200_000 // scale, 2_000 // scale, 100, 1_000 // scale, 50_000 // scale
    print(json.dumps(versions()))
    setup = f"uvicorn --http {args.http}" if args.server == "uvicorn" else "granian (one worker)"
    print(f"{setup} --loop {args.loop}; 1 client x {one:,} chunks; {clients} clients x "
          f"{many:,} chunks ({args.client_procs} client processes); {idle:,} idle streams on a fresh server, "
          f"{args.repeat} time(s); 1 client x {paced:,} paced chunks (the handler awaits a loop turn after "
          "each)")  # fmt: skip
    results: dict[str, dict[str, Any]] = {name: {} for name in args.servers}
    streaming = [run for run in args.runs if run != "idle"]
    for name in args.servers if streaming else ():
        server = Server(SERVERS[name], args.http, args.loop, server=args.server)
        try:
            runs = results[name]
            if "paced" in args.runs:
                runs["paced"] = stream_run(server, paced, 1, 1, "/paced")
            if name != "hand-written":  # the floor serves the paced and idle runs only
                if "one" in args.runs:
                    runs["one client"] = stream_run(server, one, 1, 1)
                if "many" in args.runs:
                    runs[f"{clients} clients"] = stream_run(server, many, clients, args.client_procs)
        finally:
            server.stop()
    for _ in range(max(1, args.repeat) if "idle" in args.runs else 0):
        for name in args.servers:  # a fresh server each time (no heap left over from other runs), in turn
            server = Server(SERVERS[name], args.http, args.loop, server=args.server)
            try:
                results[name].setdefault("idle", []).append(idle_run(server, idle))
            finally:
                server.stop()
    print()
    print(f"{'server':<15}{'run':<13}{'events/s':>12}{'CPU s/100k ev':>15}")
    for name, r in results.items():
        for run in ("one client", f"{clients} clients", "paced"):
            if run in r:
                print(f"{name:<15}{run:<13}{r[run]['events_per_s']:>12,.0f}{r[run]['cpu_per_100k']:>15.3f}")
        if "idle" in r:
            kib = sorted(one_run["kib_per_conn"] for one_run in r["idle"])
            spread = f" (median of {len(kib)}: {', '.join(f'{k:.1f}' for k in kib)})" if len(kib) > 1 else ""
            print(f"{name:<15}{'idle':<13}{statistics.median(kib):>11.1f} KiB RSS per idle stream "
                  f"({idle:,} open){spread}")  # fmt: skip
    a, b = results.get("sse_fast", {}), results.get("sse-starlette", {})
    both = [run for run in ("one client", f"{clients} clients", "paced") if run in a and run in b]
    if both:
        print("\nratios (sse_fast over sse-starlette):")
        for run in both:
            speed = a[run]["events_per_s"] / b[run]["events_per_s"]
            cpu = b[run]["cpu_per_100k"] / a[run]["cpu_per_100k"]
            verdict = "MET " if speed >= 2 and cpu > 1 else "MISS"
            print(f"  {verdict} {run}: {speed:.2f}x events/s (want >= 2), {cpu:.2f}x less CPU per event (want > 1)")
    if all("paced" in results.get(name, {}) for name in ("sse_fast", "hand-written")):
        cost = results["sse_fast"]["paced"]["cpu_per_100k"] / results["hand-written"]["paced"]["cpu_per_100k"]
        verdict = "MET " if cost <= 1.1 else "MISS"
        print(f"  {verdict} paced: sse_fast costs {cost:.2f}x the CPU per event of encode_json + send (want <= 1.1)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": versions(), "results": results}, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role")
    client = sub.add_parser("client")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--target", required=True)
    client.add_argument("--conns", type=int, required=True)
    client.add_argument("--start-at", type=float, required=True)
    idle = sub.add_parser("idle")
    idle.add_argument("--port", type=int, required=True)
    idle.add_argument("--conns", type=int, required=True)
    parser.add_argument("--quick", action="store_true", help="10x fewer events and idle streams")
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn", help="the ASGI server")
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="auto", help="the server's --loop (auto, asyncio, uvloop)")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes for the 100 clients")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="which runs (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="idle runs per server, each on a fresh server")
    args = parser.parse_args()
    _raise_nofile()  # 1,000 idle streams need more descriptors than the usual soft limit; children inherit it
    if args.role == "client":
        client_main(args)
    elif args.role == "idle":
        idle_main(args)
    else:
        driver_main(args)


if __name__ == "__main__":
    main()

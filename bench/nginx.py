"""Per-event delay through docs/nginx.md's nginx, against the same app read directly.

    python bench/nginx.py                          # 5 rounds x 200 events 10 ms apart, per path
    python bench/nginx.py --rounds 2 --events 50   # a quick look
    python bench/nginx.py --http h11 --loop asyncio

uvicorn (its own process, started with ``--port`` as docs/nginx.md starts it) serves an ``ASGIResponse`` that
writes an event every ``--every`` ms, each carrying ``time.monotonic_ns()`` read just before its write;
Debian's nginx runs docs/nginx.md's block as tests/production/test_nginx.py does (tests/support/nginx_proc.py)
in front of it. The client
(httpx with ``sse_fast.client.iter_events``, in this process) reads the clock as each event is parsed: the
difference is the event's delay from the app's write to the client's hands (CLOCK_MONOTONIC is one clock for
every process of the machine). Paths, in turn each round: direct (HTTP/1.1 to uvicorn), through nginx over
HTTP/1.1 + TLS, through nginx over HTTP/2 + TLS. Reported: p50, p90, p99 and max per path, and what nginx adds
to direct's p50 and p99. Needs the test extra and nginx (scripts/test.sh installs Debian's). Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List
from urllib.parse import parse_qs

import e2e

HERE = os.path.dirname(os.path.abspath(__file__))


async def app(scope: dict, receive: Any, send: Any) -> None:
    """``?n=N&every=MS``: N events, MS milliseconds apart, each the monotonic clock in ns at its write."""
    from sse_fast import ASGIResponse, AsyncWriter

    query = parse_qs(scope.get("query_string", b"").decode())
    n, every = int(query.get("n", ["1"])[0]), float(query.get("every", ["0"])[0]) / 1000

    async def ticks(writer: AsyncWriter) -> None:
        for _ in range(n):
            await writer.write_event(time.monotonic_ns())
            await asyncio.sleep(every)

    await ASGIResponse(ticks)(scope, receive, send)


@contextlib.contextmanager
def uvicorn(http: str, loop: str, port: int) -> Iterator[None]:
    """``uvicorn nginx:app --port PORT``. Not bench/e2e.py's ``--fd``: uvicorn takes a socket given by ``--fd`` for
    a Unix one, so its connections keep Nagle's algorithm on, and behind nginx's reused upstream connections the
    first event of a stream then waited ~40 ms for a delayed ACK."""
    cmd = [sys.executable, "-m", "uvicorn", "nginx:app", "--app-dir", HERE, "--host", "127.0.0.1", "--port",
           str(port), "--http", http, "--loop", loop, "--lifespan", "off", "--no-access-log",
           "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=HERE)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"uvicorn exited with {process.returncode}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert time.monotonic() < deadline, "uvicorn did not listen within 20 s"
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(10)


def delays(url: str, http2: bool, n: int, every: float) -> List[float]:
    """Milliseconds from each event's write to the moment this client parsed it."""
    import httpx

    from sse_fast.client import iter_events

    got: List[float] = []
    with httpx.Client(http1=not http2, http2=http2, verify=False, timeout=10) as http:
        with http.stream("GET", f"{url}/ticks?n={n}&every={every}") as response:
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1"), response.http_version
            for event in iter_events(response):
                got.append((time.monotonic_ns() - int(event.data)) / 1e6)
    assert len(got) == n, f"{len(got)} of {n} events came"
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each path in turn (order flipped each round)")
    parser.add_argument("--events", type=int, default=200, help="events per stream")
    parser.add_argument("--every", type=float, default=10, help="milliseconds between the app's writes")
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    from ports import free_port
    from support.nginx_proc import nginx  # tests/support/: docs/nginx.md's block, run as the test runs it

    print(e2e.versions())
    print(f"uvicorn --http {args.http} --loop {args.loop}; {args.rounds} rounds x {args.events} events "
          f"{args.every:g} ms apart per path")  # fmt: skip
    port = free_port()
    with uvicorn(args.http, args.loop, port), nginx(port) as proxy:
        paths = {"direct, HTTP/1.1": (f"http://127.0.0.1:{port}", False),
                 "nginx, HTTP/1.1 + TLS": (proxy, False), "nginx, HTTP/2 + TLS": (proxy, True)}  # fmt: skip
        results: Dict[str, List[float]] = {name: [] for name in paths}
        for round_ in range(args.rounds):
            for name in list(paths)[:: 1 if round_ % 2 == 0 else -1]:
                results[name] += delays(*paths[name], args.events, args.every)
    print(f"\n{'path':<24}{'events':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    summary = {}
    for name, got in results.items():
        cuts = statistics.quantiles(got, n=100, method="inclusive")
        p50, p90, p99 = cuts[49], cuts[89], cuts[98]
        summary[name] = (p50, p99)
        print(f"{name:<24}{len(got):>8}{p50:>9.2f}{p90:>9.2f}{p99:>9.2f}{max(got):>9.2f}")
    base50, base99 = summary["direct, HTTP/1.1"]
    for name, (p50, p99) in list(summary.items())[1:]:
        print(f"{name}: nginx adds {p50 - base50:+.2f} ms at p50, {p99 - base99:+.2f} ms at p99")


if __name__ == "__main__":
    main()

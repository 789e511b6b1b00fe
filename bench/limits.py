"""The stream limit under load: with the cap reached, many more connection attempts, each refused.

    python bench/limits.py                       # 100 open streams (the cap), 10,000 refused attempts
    python bench/limits.py --streams 50 --attempts 2000

One uvicorn process serves ``/events`` (a stream that writes an event every 50 ms on the clock) behind
``ASGILimit`` with ``per_process`` = the number of streams the bench opens. Once they are open, a separate
client process makes ``attempts`` connections (50 at a time), each a new TCP connection with one GET; every
answer must be a 503 with Retry-After. Reported: the server's CPU (utime + stime from /proc/<pid>/stat) during
the attempts, per attempt, gross and net of what the open streams used meanwhile (their rate measured just
before); the open streams' event rate before and during the attempts; and that the limit still counts exactly
the open streams.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2e import Server, _cpu_seconds, _raise_nofile, versions  # noqa: E402

TICK = 0.05
BASELINE = 3.0

# ---- the server (imported by uvicorn in its own process) ---------------------------------------------

if os.environ.get("BENCH_LIMIT"):
    import sse_fast
    from sse_fast.limits import ASGILimit, StreamLimit

    limit = StreamLimit(per_process=int(os.environ["BENCH_LIMIT"]))

    async def _ticking(writer: Any) -> None:
        """An event every TICK seconds on the clock (a late wake-up does not lower the rate)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not writer.context.done:
            await writer.write_raw_event("tick")
            due += TICK
            await asyncio.sleep(max(0.0, due - loop.time()))

    _events = ASGILimit(sse_fast.ASGIResponse(_ticking, heartbeat=None), limit)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/count":  # the limit's counts, not behind it
            body = json.dumps({"open": limit.open, "refused": limit.refused, "pong": 1}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await _events(scope, receive, send)


# ---- the attempts (their own process) ----------------------------------------------------------------


async def _attempts(port: int, attempts: int, concurrency: int) -> Dict[str, Any]:
    left = [attempts]
    answers: Dict[str, int] = {}

    async def one() -> None:
        while left[0] > 0:
            left[0] -= 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n")
            got = await reader.read()
            writer.close()
            ok = got.startswith(b"HTTP/1.1 503") and b"\r\nretry-after: " in got.lower()
            key = "503 + Retry-After" if ok else got[:40].decode(errors="replace")
            answers[key] = answers.get(key, 0) + 1

    start = time.time()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return {"answers": answers, "seconds": time.time() - start}


# ---- the driver --------------------------------------------------------------------------------------


async def _open_streams(port: int, n: int) -> List[Any]:
    streams = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"a stream under the cap was refused: {head[:60]!r}")
        streams.append((reader, writer))
    return streams


async def _count(streams: List[Any], counts: List[int], stop: asyncio.Event) -> None:
    async def read(i: int, reader: asyncio.StreamReader) -> None:
        while not stop.is_set():
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError("an open stream was ended")
            counts[i] += chunk.count(b"data: tick")

    await asyncio.gather(*(read(i, r) for i, (r, _) in enumerate(streams)))


def _get_count(port: int) -> Dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


async def _drive(server: Server, streams_n: int, attempts: int) -> Dict[str, Any]:
    streams = await _open_streams(server.port, streams_n)
    counts = [0] * streams_n
    stop = asyncio.Event()
    reading = asyncio.ensure_future(_count(streams, counts, stop))
    await asyncio.sleep(1.0)  # settle
    c0, cpu0, t0 = sum(counts), _cpu_seconds(server.proc.pid), time.time()
    await asyncio.sleep(BASELINE)
    c1, cpu1, t1 = sum(counts), _cpu_seconds(server.proc.pid), time.time()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "attempts", str(server.port), str(attempts), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    c2, cpu2, t2 = sum(counts), _cpu_seconds(server.proc.pid), time.time()
    attack = json.loads(out)
    counted = await asyncio.get_running_loop().run_in_executor(None, _get_count, server.port)
    stop.set()
    reading.cancel()
    for _, writer in streams:
        writer.close()
    idle_cpu_rate = (cpu1 - cpu0) / (t1 - t0)
    return {
        "streams": streams_n,
        "attempts": attempts,
        "answers": attack["answers"],
        "attempts_seconds": t2 - t1,
        "cpu_ms_per_attempt_gross": (cpu2 - cpu1) / attempts * 1e3,
        "cpu_ms_per_attempt_net": ((cpu2 - cpu1) - idle_cpu_rate * (t2 - t1)) / attempts * 1e3,
        "events_per_stream_s_before": (c1 - c0) / (t1 - t0) / streams_n,
        "events_per_stream_s_during": (c2 - c1) / (t2 - t1) / streams_n,
        "limit_open_after": counted["open"],
        "limit_refused": counted["refused"],
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "attempts":
        print(json.dumps(asyncio.run(_attempts(int(sys.argv[2]), int(sys.argv[3]), 50))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=100, help="open streams, which is also the cap")
    parser.add_argument("--attempts", type=int, default=10_000)
    args = parser.parse_args()
    _raise_nofile()
    os.environ["BENCH_LIMIT"] = str(args.streams)
    server = Server("limits:app", "auto", "auto", probe="/count", expect=b"pong")
    try:
        r = asyncio.run(_drive(server, args.streams, args.attempts))
    finally:
        server.stop()
    print(json.dumps(versions()))
    print(json.dumps(r, indent=1))
    refused = r["answers"].get("503 + Retry-After", 0)
    print(f"\n{r['streams']} streams open (the cap); {r['attempts']:,} more attempts in {r['attempts_seconds']:.1f} s: "
          f"{refused:,} answered 503 + Retry-After; server CPU per refused attempt "
          f"{r['cpu_ms_per_attempt_gross']:.3f} ms gross, {r['cpu_ms_per_attempt_net']:.3f} ms net of the open "
          f"streams; their rate {r['events_per_stream_s_before']:.1f} events/s each before, "
          f"{r['events_per_stream_s_during']:.1f} during; the limit counts {r['limit_open_after']} open "
          "after")  # fmt: skip
    if refused != r["attempts"] or r["limit_open_after"] != r["streams"]:
        sys.exit("FAIL: an attempt was not refused with 503 + Retry-After, or the count drifted")


if __name__ == "__main__":
    main()

"""Relay end to end over uvicorn: sse_fast's ``relay`` vs a hand-written httpx-sse + sse-starlette relay.

Three processes on 127.0.0.1: an upstream sse_fast server sending N chat chunks as fast as it can, a
gateway (one of the two relays) under uvicorn, and this client reading the gateway with httpx. Reports
events/s and the gateway's CPU time per event (from /proc), after checking that every event arrived intact.
Report only. Run: ``python bench/relay.py`` (``--events N``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from typing import Any, List

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(os.environ.get("RELAY_EVENTS", "20000"))
UPSTREAM = os.environ.get("RELAY_UPSTREAM", "")


# -- the apps (imported by uvicorn in the child processes) ---------------------------------------------------


async def upstream(scope: Any, receive: Any, send: Any) -> None:
    import sse_fast
    from sse_fast._bench import chat_chunk, token

    async def handler(w: sse_fast.AsyncWriter) -> None:
        for i in range(N):
            await w.write_event_with_id(str(i), chat_chunk(token(i), i))
        await w.write_done()

    await sse_fast.ASGIResponse(handler)(scope, receive, send)


async def gateway_sse_fast(scope: Any, receive: Any, send: Any) -> None:
    import sse_fast
    from sse_fast.relay import relay

    async def handler(w: sse_fast.AsyncWriter) -> None:
        async with httpx.AsyncClient(timeout=60) as client, client.stream("GET", UPSTREAM) as response:
            await relay(response, w)

    await sse_fast.ASGIResponse(handler)(scope, receive, send)


async def gateway_peer(scope: Any, receive: Any, send: Any) -> None:
    from httpx_sse import aconnect_sse
    from sse_starlette import EventSourceResponse

    async def events() -> Any:
        async with httpx.AsyncClient(timeout=60) as client, aconnect_sse(client, "GET", UPSTREAM) as source:
            async for sse in source.aiter_sse():
                yield {"data": sse.data, "event": None if sse.event == "message" else sse.event, "id": sse.id or None}

    await EventSourceResponse(events(), ping=600)(scope, receive, send)


# -- the run --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: str, port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", f"relay:{app}", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=HERE, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(url: str) -> List[str]:
    from sse_fast.client import iter_events

    with httpx.Client(timeout=60) as client, client.stream("GET", url) as response:
        return [e.id for e in iter_events(response)]


def main() -> None:
    parser = argparse.ArgumentParser(description="relay end to end, report only")
    parser.add_argument("--events", type=int, default=N)
    events = parser.parse_args().events
    up_port = free_port()
    env = {**os.environ, "RELAY_EVENTS": str(events), "RELAY_UPSTREAM": f"http://127.0.0.1:{up_port}/"}
    up = serve("upstream", up_port, env)
    results = {}
    try:
        for name in ("gateway_sse_fast", "gateway_peer"):
            port = free_port()
            gw = serve(name, port, env)
            try:
                read_all(f"http://127.0.0.1:{port}/")  # warm up
                cpu0, t0 = cpu_seconds(gw.pid), time.perf_counter()
                ids = read_all(f"http://127.0.0.1:{port}/")
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds(gw.pid) - cpu0
            finally:
                gw.terminate()
                gw.wait(10)
            assert ids[:-1] == [str(i) for i in range(events)], f"{name} lost or reordered events"
            results[name] = (events / elapsed, cpu / events * 1e6)
    finally:
        up.terminate()
        up.wait(10)
    for name, (rate, cpu_us) in results.items():
        print(f"{name:18} {rate:>10,.0f} events/s  gateway CPU {cpu_us:6.1f} us/event")
    ours, peer = results["gateway_sse_fast"], results["gateway_peer"]
    print(f"sse_fast relay: {ours[0] / peer[0]:.1f}x the events/s, {peer[1] / ours[1]:.1f}x less gateway CPU per event")


if __name__ == "__main__":
    main()

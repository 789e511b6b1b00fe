"""FastAPI's native SSE with and without sse_fast's switch (``sse_fast.integrations.fastapi_sse.install()``).

    python bench/fastapi_native.py            # 50,000 chunks to 1 client (burst), 20,000 paced, 1,000 idle streams
    python bench/fastapi_native.py --quick    # 10x smaller (well under a minute)
    python bench/fastapi_native.py --http httptools --loop uvloop
    python bench/fastapi_native.py --steps [--loop uvloop]   # what a paced event costs, step by step, no server

One FastAPI app, the same code on both sides: ``-> AsyncIterable[Chunk]`` path operations with
``response_class=EventSourceResponse`` yielding pydantic models (an OpenAI-style chat chunk, ~240 B of JSON),
as FastAPI's tutorial writes them. ``native`` serves it as FastAPI does; ``switched`` calls ``install()`` first.
``floor`` is no framework at all: the same pydantic items, one ASGI send each.
Each runs in its own uvicorn process (bench/e2e.py's ``Server``, clients and /proc measures): server CPU per
event of a burst (``/stream``) and of a paced stream (``/paced``: the generator awaits a loop turn after each
item, as when relaying a model), and RSS per idle stream (``/idle``: one item, then silence; a fresh server).

``--steps``: no server and no socket. Each app serves ``/paced`` to an ASGI caller in its own process whose
``send`` does nothing (CPU time per event, best of 5 rounds of 20,000), and the steps every side pays per paced
item are timed alone: building the item, its JSON (pydantic's ``model_dump_json`` as the floor calls it, and the
switch's ``Items.frame``), a loop turn (the generator's ``await asyncio.sleep(0)``), an ASGI send that does
nothing. What the server adds per send (h11 or httptools, the socket write) comes on top, alike on every side.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any, AsyncIterable, Dict, List, Optional

from pydantic import BaseModel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2e  # noqa: E402

SERVERS = {
    "native": "fastapi_native:native_app",
    "switched": "fastapi_native:switched_app",
    "floor": "fastapi_native:floor_app",
}


# No ``from __future__ import annotations``: FastAPI reads the item type from the return annotation.
class Delta(BaseModel):
    content: str


class Choice(BaseModel):
    index: int
    delta: Delta
    logprobs: Any = None
    finish_reason: Optional[str] = None


class Chunk(BaseModel):
    """An OpenAI-style ``chat.completion.chunk``."""

    id: str
    object: str
    created: int
    model: str
    system_fingerprint: str
    choices: List[Choice]


def make_app() -> Any:
    """The benchmarked application: plain FastAPI, nothing of sse_fast in it."""
    from fastapi import FastAPI
    from fastapi.sse import EventSourceResponse

    from sse_fast._bench import chat_chunk, token

    app = FastAPI()

    @app.get("/stream", response_class=EventSourceResponse)
    async def stream(n: int = 1) -> AsyncIterable[Chunk]:
        for i in range(n):
            yield Chunk(**chat_chunk(token(i), i))

    @app.get("/paced", response_class=EventSourceResponse)
    async def paced(n: int = 1) -> AsyncIterable[Chunk]:
        for i in range(n):
            yield Chunk(**chat_chunk(token(i), i))
            await asyncio.sleep(0)

    @app.get("/idle", response_class=EventSourceResponse)
    async def idle(n: int = 1) -> AsyncIterable[Chunk]:
        for i in range(n):
            yield Chunk(**chat_chunk(token(i), i))
        await asyncio.sleep(e2e.IDLE_PING * 2)

    return app


async def floor_app(scope: dict, receive: Any, send: Any) -> None:
    """No framework: the same items built and serialized by pydantic, one ASGI send each (no disconnect watch,
    no keepalive, no send bound): what neither side can go below."""
    from sse_fast import encode
    from sse_fast._bench import chat_chunk, token

    path, n = e2e._query(scope)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for i in range(n):
        body = encode(Chunk(**chat_chunk(token(i), i)).model_dump_json())
        await send({"type": "http.response.body", "body": body, "more_body": True})
        if path == "/paced":
            await asyncio.sleep(0)
    if path == "/idle":
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def __getattr__(name: str) -> Any:
    """``native_app`` and ``switched_app``, made when uvicorn imports one (each server process makes one)."""
    if name == "switched_app":
        from sse_fast.integrations.fastapi_sse import install

        install()
        return make_app()
    if name == "native_app":
        return make_app()
    raise AttributeError(name)


STEP_EVENTS = 20_000


def _best(measure: Any, loop: str) -> float:
    """The least CPU time per event of 5 runs of ``measure()`` (a coroutine function returning seconds), in us."""
    run = asyncio.run
    if loop == "uvloop":
        import uvloop

        run = uvloop.run
    return min(run(measure()) for _ in range(5)) / STEP_EVENTS * 1e6


def _paced_in_process(name: str, loop: str) -> float:
    """us of CPU per event of ``/paced`` served by ``name`` (as SERVERS) to an ASGI caller whose send does nothing."""
    app = floor_app if name == "floor" else __getattr__(f"{name}_app")
    query = f"n={STEP_EVENTS}".encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/paced", "raw_path": b"/paced", "root_path": "", "query_string": query, "headers": [],
             "server": ("test", 80), "client": ("test", 1)}  # fmt: skip

    async def measure() -> float:
        async def send(message: Dict[str, Any]) -> None:
            pass

        async def receive() -> Dict[str, Any]:
            await asyncio.Event().wait()  # a client that stays
            return {}

        start = time.process_time()
        await app(dict(scope), receive, send)
        return time.process_time() - start

    return _best(measure, loop)


def steps(loop: str) -> None:
    """Print what a paced event costs with no server, whole and step by step (see the module's docstring)."""
    from sse_fast import encode
    from sse_fast._bench import chat_chunk, token

    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}; loop {loop}; no server: CPU us per paced event, best of 5 x "
          f"{STEP_EVENTS:,}")  # fmt: skip
    whole = {}
    for name in ("native", "switched", "floor"):
        out = subprocess.run([sys.executable, __file__, "--paced-in-process", name, "--loop", loop],
                             capture_output=True, text=True, check=True)  # fmt: skip
        whole[name] = float(out.stdout)
        print(f"  {name:<10}{whole[name]:>8.2f}")
    print(f"  native / switched {whole['native'] / whole['switched']:.2f}x, native / floor "
          f"{whole['native'] / whole['floor']:.2f}x")  # fmt: skip
    app = make_app()
    from sse_fast.integrations.fastapi_sse import Items

    items = Items(next(route for route in app.routes if getattr(route, "path", "") == "/paced"))
    item = Chunk(**chat_chunk(token(3), 3))
    scope = {"method": "GET", "root_path": ""}

    def timed(step: Any) -> Any:
        async def measure() -> float:
            start = time.process_time()
            for i in range(STEP_EVENTS):
                await step(i)
            return time.process_time() - start

        return _best(measure, loop)

    async def build(i: int) -> None:
        Chunk(**chat_chunk(token(i), i))

    async def dump(i: int) -> None:
        encode(item.model_dump_json())

    async def frame(i: int) -> None:
        items.frame(item, scope)

    async def turn(i: int) -> None:
        await asyncio.sleep(0)

    async def noop(message: Dict[str, Any]) -> None:
        pass

    async def send(i: int) -> None:
        await noop({"type": "http.response.body", "body": b"", "more_body": True})

    print("steps, CPU us each (every side pays them per paced item):")
    for name, step in (("build the item (the app's)", build), ("its JSON, floor: model_dump_json", dump),
                       ("its JSON, switch: Items.frame", frame), ("a loop turn: await sleep(0)", turn),
                       ("an ASGI send that does nothing", send)):  # fmt: skip
        print(f"  {name:<36}{timed(step):>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x fewer events and idle streams")
    parser.add_argument("--steps", action="store_true", help="a paced event's cost, step by step, with no server")
    parser.add_argument("--paced-in-process", help=argparse.SUPPRESS)  # one app's /paced, for --steps
    parser.add_argument("--http", default="h11", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument("--loop", default="asyncio", help="uvicorn --loop (auto, asyncio, uvloop)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.paced_in_process:
        print(_paced_in_process(args.paced_in_process, args.loop))
        return
    if args.steps:
        steps(args.loop)
        return
    e2e._raise_nofile()
    scale = 10 if args.quick else 1
    burst, paced, idle = 50_000 // scale, 20_000 // scale, 1_000 // scale
    print(json.dumps({**e2e.versions(), "fastapi": _version("fastapi"), "pydantic": _version("pydantic")}))
    print(
        f"{time.strftime('%Y-%m-%d', time.gmtime())}; uvicorn --http {args.http} --loop {args.loop}; 1 client x "
        f"{burst:,} chunks (burst), 1 client x {paced:,} paced chunks, {idle:,} idle streams (fresh server)"
    )
    results: Dict[str, Dict[str, Any]] = {}
    for name, app in SERVERS.items():
        server = e2e.Server(app, args.http, args.loop)
        try:
            results[name] = {
                "burst": e2e.stream_run(server, burst, 1, 1, "/stream"),
                "paced": e2e.stream_run(server, paced, 1, 1, "/paced"),
            }
        finally:
            server.stop()
    for name, app in SERVERS.items():
        server = e2e.Server(app, args.http, args.loop)
        try:
            results[name]["idle"] = e2e.idle_run(server, idle)
        finally:
            server.stop()
    print(f"\n{'':<10}{'burst ev/s':>12}{'burst CPU us/ev':>17}{'paced CPU us/ev':>17}{'idle KiB/stream':>17}")
    for name, r in results.items():
        print(
            f"{name:<10}{r['burst']['events_per_s']:>12,.0f}{r['burst']['cpu_per_100k'] * 10:>17.2f}"
            f"{r['paced']['cpu_per_100k'] * 10:>17.2f}{r['idle']['kib_per_conn']:>17.1f}"
        )
    native, switched = results["native"], results["switched"]
    ratios = {
        "burst": native["burst"]["cpu_per_100k"] / switched["burst"]["cpu_per_100k"],
        "paced": native["paced"]["cpu_per_100k"] / switched["paced"]["cpu_per_100k"],
        "idle": switched["idle"]["kib_per_conn"] / native["idle"]["kib_per_conn"],
    }
    floor = results["floor"]
    print("\nratios (one run):")
    print(
        f"  switched over the floor: {switched['burst']['cpu_per_100k'] / floor['burst']['cpu_per_100k']:.2f}x "
        f"CPU per burst event, {switched['paced']['cpu_per_100k'] / floor['paced']['cpu_per_100k']:.2f}x per "
        f"paced event; best paced ratio any switch could reach: "
        f"{native['paced']['cpu_per_100k'] / floor['paced']['cpu_per_100k']:.2f}x"
    )
    print(f"  {_verdict(ratios['burst'] >= 5)} server CPU per burst event: {ratios['burst']:.2f}x less (want >= 5)")
    print(f"  {_verdict(ratios['paced'] >= 5)} server CPU per paced event: {ratios['paced']:.2f}x less (want >= 5)")
    print(f"  {_verdict(ratios['idle'] <= 0.5)} RSS per idle stream: {ratios['idle']:.2f}x (want <= 0.5)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "ratios": ratios}, f, indent=2)


def _verdict(met: bool) -> str:
    return "MET " if met else "MISS"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()

"""Memory per idle broker subscriber: docs/broker.md's FastAPI room app against the same broker on plain ASGI.

    python bench/idle_broker.py                      # floor, asgi, fastapi; 2,000 subscribers; h11 + asyncio
    python bench/idle_broker.py --apps fastapi --top 25

Each app runs under a uvicorn ``Server`` in a fresh process of this script, twice: once for RSS (``VmRSS``
with the subscribers open, minus before, over their number) and once under tracemalloc for the Python heap,
grouped by traceback. A client process opens ``--conns`` streams of the app's route and reads each one's
response head; the server side waits until the broker counts them all as subscribers (the floor: until its
app has started them all). The apps:

- ``floor``: uvicorn's own, bench/e2e.py's hand-written ``/idle`` (the response start and one event, then
  ``receive()`` until the client leaves);
- ``asgi``: ``ASGIResponse(broker.subscriber(topic, last_event_id))``, no framework;
- ``fastapi``: docs/broker.md's room app as the docs write it (``EventStream``, ``stream.response(...)``).
"""

# No `from __future__ import annotations`: FastAPI must see the endpoint's EventStream annotation itself.
import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tracemalloc
from typing import Any, Callable, Dict, Tuple

import uvicorn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2e  # noqa: E402

HEAD_END = b"\r\n\r\n"


def floor_app() -> Tuple[Any, str, Callable[[], int]]:
    started = {"n": 0}

    async def app(scope: dict, receive: Any, send: Any) -> None:
        started["n"] += 1
        await e2e.hand_app(scope, receive, send)

    return app, "/idle?n=1", lambda: started["n"]


def asgi_app() -> Tuple[Any, str, Callable[[], int]]:
    import sse_fast
    from sse_fast.resume import from_scope

    broker = sse_fast.Broker()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        room = scope["path"].split("/")[2]
        response = sse_fast.ASGIResponse(broker.subscriber(f"room:{room}", from_scope(scope)))
        await response(scope, receive, send)

    return app, "/rooms/lobby/events", lambda: broker.stats()["subscribers"]


def fastapi_app() -> Tuple[Any, str, Callable[[], int]]:
    from fastapi import FastAPI

    import sse_fast
    from sse_fast.integrations.fastapi import EventStream

    app = FastAPI()
    broker = sse_fast.Broker()

    @app.get("/rooms/{room}/events")
    async def events(room: str, stream: EventStream):  # type: ignore[no-untyped-def]  # as the docs write it
        return stream.response(broker.subscriber(f"room:{room}", stream.last_event_id))

    return app, "/rooms/lobby/events", lambda: broker.stats()["subscribers"]


APPS = {"floor": floor_app, "asgi": asgi_app, "fastapi": fastapi_app}


async def measure(name: str, conns: int, http: str, heap: bool, top: int) -> Dict[str, Any]:
    app, path, count = APPS[name]()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=http, lifespan="off", access_log=False, log_level="warning", backlog=4096)
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    await _opened(port, path, 20, count, keep=False)  # warm: first-use imports and caches are not per stream
    gc.collect()
    before_rss, before = _rss_kib(), tracemalloc.take_snapshot() if heap else None
    child = await _opened(port, path, conns, count, keep=True)
    gc.collect()
    after_rss, after = _rss_kib(), tracemalloc.take_snapshot() if heap else None
    assert child.stdin is not None
    child.stdin.close()
    await child.wait()
    server.should_exit = True
    await serving
    result: Dict[str, Any] = {"app": name, "conns": conns, "rss_kib": (after_rss - before_rss) / conns}
    if before is not None and after is not None:
        stats = after.compare_to(before, "traceback")
        result["heap_b"] = sum(s.size_diff for s in stats) / conns
        by_package: Dict[str, float] = {}
        for stat in stats:
            package = _package(stat.traceback[-1].filename)  # whose code allocated it: the most recent frame
            by_package[package] = by_package.get(package, 0) + stat.size_diff / conns
        result["by_package"] = by_package
        result["top"] = [
            (
                s.size_diff / conns,
                " <- ".join(
                    f"{_package(f.filename)}/{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(s.traceback)
                ),
            )  # fmt: skip
            for s in sorted(stats, key=lambda s: -s.size_diff)[:top]
        ]
    return result


async def _opened(port: int, path: str, conns: int, count: Callable[[], int], keep: bool) -> Any:
    """A client process with ``conns`` streams of ``path`` open, once the app counts them all (``keep=False``:
    closed again, and gone from the count)."""
    base = count()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "client", "--port", str(port), "--path", path, "--conns", str(conns),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    line = (await child.stdout.readline()).decode().strip()
    if line != "ready":
        raise RuntimeError(f"the client said {line!r}")
    while count() < base + conns:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    if not keep:
        child.stdin.close()
        await child.wait()
        await asyncio.sleep(0.5)
    return child


def _package(filename: str) -> str:
    """The package a source file belongs to (``sse_fast``, ``fastapi``, ``uvicorn``...; ``python``: the
    standard library, asyncio included; ``app``: this file)."""
    if filename == __file__ or filename.endswith("e2e.py"):
        return "app"
    parts = filename.split(os.sep)
    if "sse_fast" in parts:
        return "sse_fast"
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return "python"


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--path", required=True)
    client.add_argument("--conns", type=int, required=True)
    one = sub.add_parser("one")
    one.add_argument("app", choices=list(APPS))
    one.add_argument("--heap", action="store_true")
    for p in (parser, one):
        p.add_argument("--conns", type=int, default=2000)
        p.add_argument("--http", default="h11", help="uvicorn --http (h11, httptools)")
        p.add_argument("--top", type=int, default=12, help="tracebacks to list per app (heap)")
    parser.add_argument("--apps", nargs="+", choices=list(APPS), default=list(APPS))
    args = parser.parse_args()
    e2e._raise_nofile()
    if args.mode == "client":
        asyncio.run(e2e._idle(args.port, args.conns, args.path, HEAD_END))  # a subscriber may send nothing yet
    elif args.mode == "one":
        if args.heap:
            tracemalloc.start(6)
        print(json.dumps(asyncio.run(measure(args.app, args.conns, args.http, args.heap, args.top))), flush=True)
    else:
        for name in args.apps:
            runs = {}
            for heap in (False, True):  # fresh processes: tracemalloc's own tables would swell the RSS figure
                command = [sys.executable, __file__, "one", name, "--conns", str(args.conns), "--http", args.http,
                           "--top", str(args.top)] + (["--heap"] if heap else [])  # fmt: skip
                runs[heap] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            print(f"{name}: {runs[False]['rss_kib']:.1f} KiB RSS, {runs[True]['heap_b']:,.0f} B of Python heap "
                  f"per idle subscriber ({args.conns:,} open)")  # fmt: skip
            packages = sorted(runs[True]["by_package"].items(), key=lambda kv: -kv[1])
            print("  by package: " + ", ".join(f"{package} {size:,.0f} B" for package, size in packages if size >= 8))
            for size, where in runs[True]["top"]:
                if size >= 8:
                    print(f"  {size:7.0f} B  {where}")


if __name__ == "__main__":
    main()

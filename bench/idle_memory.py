"""Python heap per idle stream, by where it was allocated: uvicorn in this process, tracemalloc on.

    python bench/idle_memory.py                      # sse_fast, hand-written floor, sse-starlette; h11 + asyncio
    python bench/idle_memory.py --apps sse_fast --top 25 --http httptools --loop uvloop

Each app of bench/e2e.py's ``/idle`` route runs under a uvicorn ``Server`` started in this process; a client
process (bench/e2e.py's ``idle``) opens ``--conns`` streams and reads each one's first event. Reported:
tracemalloc's heap growth per stream (what Python allocated and still holds, not RSS: no allocator slack, no
kernel socket buffers), and the ``--top`` tracebacks (``--depth`` frames) that grew most, per stream.
Compare an app's lines with the floor's to see what it adds to uvicorn's own per-connection objects.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import subprocess
import sys
import tracemalloc

import uvicorn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2e  # noqa: E402


async def measure(app_name: str, conns: int, http: str, loop_name: str, top: int, depth: int) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    app = getattr(e2e, e2e.SERVERS[app_name].split(":")[1])
    config = uvicorn.Config(app, http=http, lifespan="off", access_log=False, log_level="warning", backlog=4096)
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    await _open_and_read(port, 20)  # warm: first-use imports and caches are not per stream
    gc.collect()
    types_before = _types()
    before = tracemalloc.take_snapshot()
    child = await asyncio.create_subprocess_exec(
        sys.executable, e2e.__file__, "idle", "--port", str(port), "--conns", str(conns),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    line = (await child.stdout.readline()).decode().strip()
    if line != "ready":
        raise RuntimeError(f"idle client said {line!r}")
    await asyncio.sleep(1.0)
    gc.collect()
    after = tracemalloc.take_snapshot()
    types_after = _types()
    child.stdin.close()
    await child.wait()
    server.should_exit = True
    await serving
    stats = after.compare_to(before, "traceback")
    total = sum(s.size_diff for s in stats)
    count = sum(s.count_diff for s in stats)
    print(f"{app_name}: {total / conns:,.0f} B per idle stream, {count / conns:.1f} blocks ({conns:,} open)")
    for stat in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        if stat.size_diff / conns < 8:
            break
        where = " <- ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(stat.traceback))
        print(f"  {stat.size_diff / conns:7.0f} B {stat.count_diff / conns:5.1f} blk  {where}")
    grown = {name: (n - types_before.get(name, 0)) / conns for name, n in types_after.items()}
    shown = ", ".join(f"{name} {n:g}" for name, n in sorted(grown.items(), key=lambda kv: -kv[1]) if n >= 0.5)
    print(f"  objects the gc tracks, per stream: {shown}")


def _types() -> dict:
    """How many objects of each type the garbage collector tracks (containers, frames, tasks, ...)."""
    counts: dict = {}
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] = counts.get(name, 0) + 1
    return counts


async def _open_and_read(port: int, n: int) -> None:
    """Open ``n`` idle streams, read each one's first event, then close them."""
    for _, writer in await e2e.open_idle(port, n):
        writer.close()
    await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", nargs="+", choices=list(e2e.SERVERS), default=list(e2e.SERVERS))
    parser.add_argument("--conns", type=int, default=2000)
    parser.add_argument("--http", default="h11", help="uvicorn --http (h11, httptools)")
    parser.add_argument("--loop", default="asyncio", help="asyncio or uvloop")
    parser.add_argument("--top", type=int, default=15, help="tracebacks to list per app")
    parser.add_argument("--depth", type=int, default=4, help="frames per traceback")
    args = parser.parse_args()
    e2e._raise_nofile()
    for name in args.apps:
        tracemalloc.start(args.depth)
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(measure(name, args.conns, args.http, args.loop, args.top, args.depth))
        else:
            asyncio.run(measure(name, args.conns, args.http, args.loop, args.top, args.depth))
        tracemalloc.stop()


if __name__ == "__main__":
    main()

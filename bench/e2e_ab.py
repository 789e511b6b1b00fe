"""Before/after under uvicorn: bench/e2e.py's paced and burst runs against two sse_fast checkouts at once.

    git worktree add /tmp/before <rev> && cp sse_fast/*.so /tmp/before/sse_fast/   # or build it there
    python bench/e2e_ab.py /tmp/before --http h11 --loop asyncio --rounds 5

One uvicorn process serves the checkout at PATH (put first on its PYTHONPATH), one this checkout, one the
hand-written floor; the runs go in turn, ROUNDS times, so a noisy machine weighs on both alike. Prints server
CPU s per 100k events, median (min).
"""

from __future__ import annotations

import argparse
import os
import statistics

import e2e


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="a checkout of sse_fast to compare with (its package dir is imported)")
    parser.add_argument("--http", default="h11")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=1_000_000, help="burst size (CPU is counted in 10 ms ticks)")
    args = parser.parse_args()
    servers = {}
    os.environ["PYTHONPATH"] = os.path.abspath(args.before)
    servers["before"] = e2e.Server(e2e.SERVERS["sse_fast"], args.http, args.loop)
    os.environ["PYTHONPATH"] = os.path.dirname(e2e.HERE)  # this checkout, whatever the venv has installed
    servers["after"] = e2e.Server(e2e.SERVERS["sse_fast"], args.http, args.loop)
    servers["floor"] = e2e.Server(e2e.SERVERS["hand-written"], args.http, args.loop)
    del os.environ["PYTHONPATH"]
    runs = [(name, "paced", "/paced", args.events // 5) for name in servers]
    runs += [(name, "burst", "/stream", args.events) for name in ("before", "after")]
    cpu: dict = {}
    try:
        for _ in range(args.rounds):
            for name, run, path, events in runs:
                result = e2e.stream_run(servers[name], events, 1, 1, path)
                cpu.setdefault((name, run), []).append(result["cpu_per_100k"])
    finally:
        for server in servers.values():
            server.stop()
    print(f"uvicorn --http {args.http} --loop {args.loop}, {args.rounds} rounds; server CPU s per 100k events")
    for (name, run), values in cpu.items():
        print(f"  {run:<6} {name:<7} median {statistics.median(values):.3f}  (min {min(values):.3f})")


if __name__ == "__main__":
    main()

"""Server CPU per event, sse_fast against the hand-written floor (and, given one, another checkout).

    python bench/e2e_ab.py --rounds 8                                   # this checkout against the floor
    python bench/e2e_ab.py --rounds 8 --http httptools --loop uvloop
    git worktree add /tmp/before <rev> && cp sse_fast/*.so /tmp/before/sse_fast/   # or build it there
    python bench/e2e_ab.py /tmp/before --rounds 5                       # before / after / floor

One server process serves this checkout, one the hand-written floor, and one the checkout at BEFORE (put first
on its PYTHONPATH) if given; uvicorn, or granian with ``--server granian``. The paced run (``/paced``: a loop
turn after every event) and, for the checkouts, the burst run go in turn, ROUNDS times, each round in the
opposite order of the one before, so neither a noisy machine nor going first weighs on one side. Prints
server CPU s per 100k events, median (min), split into user (the server's own code) and system time (mostly
the kernel's socket sends), and the paced cost of each side over the floor's.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Dict, List

import e2e


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "before", nargs="?", help="a checkout of sse_fast to compare with (its package dir is imported)"
    )
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--http", default="h11", help="uvicorn --http (h11, httptools)")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=1_000_000, help="burst size (CPU is counted in 10 ms ticks)")
    args = parser.parse_args()
    apps = {"after": e2e.SERVERS["sse_fast"], "floor": e2e.SERVERS["hand-written"]}
    here = os.path.dirname(e2e.HERE)  # this checkout, whatever the venv has installed
    paths: Dict[str, str] = {"after": here, "floor": here}
    if args.before:
        apps["before"], paths["before"] = e2e.SERVERS["sse_fast"], os.path.abspath(args.before)
    servers: Dict[str, e2e.Server] = {}
    try:
        for name, app in apps.items():
            servers[name] = _serve(app, paths[name], args)
        runs = [(name, "paced", "/paced", args.events // 5) for name in servers]
        runs += [(name, "burst", "/stream", args.events) for name in servers if name != "floor"]
        cpu: Dict[tuple, List[dict]] = {}
        for round_no in range(args.rounds):
            for name, run, path, events in runs if round_no % 2 == 0 else runs[::-1]:
                result = e2e.stream_run(servers[name], events, 1, 1, path)
                cpu.setdefault((run, name), []).append(result)
    finally:
        for server in servers.values():
            server.stop()
    where = "granian" if args.server == "granian" else f"uvicorn --http {args.http}"
    print(f"{where} --loop {args.loop}, {args.rounds} rounds; server CPU s per 100k events, median (min)")
    for (run, name), results in sorted(cpu.items()):
        total, user, system = (_median_min(results, f"{kind}_per_100k") for kind in ("cpu", "user", "system"))
        print(f"  {run:<6} {name:<7} {total}  user {user}  system {system}")
    floor = statistics.median(r["cpu_per_100k"] for r in cpu[("paced", "floor")])
    for name in servers:
        if name != "floor":
            paced = statistics.median(r["cpu_per_100k"] for r in cpu[("paced", name)])
            print(f"  paced {name} / floor: {paced / floor:.3f}x")


def _serve(app: str, path: str, args: argparse.Namespace) -> e2e.Server:
    """A server of ``app`` with the sse_fast at ``path`` first on its PYTHONPATH."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = path
    try:
        return e2e.Server(app, args.http, args.loop, server=args.server)
    finally:
        os.environ.pop("PYTHONPATH", None)
        if saved is not None:
            os.environ["PYTHONPATH"] = saved


def _median_min(results: List[dict], key: str) -> str:
    values = [r[key] for r in results]
    return f"{statistics.median(values):.3f} ({min(values):.3f})"


if __name__ == "__main__":
    main()

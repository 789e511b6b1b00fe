"""What metrics and a stream limit cost: paced, burst and fan-out, each with and without, in one run.

    python bench/metrics_overhead.py            # 3 rounds, with and without alternating
    python bench/metrics_overhead.py --rounds 5 --paced 50000 --subs 500
    python bench/metrics_overhead.py --callgrind 5000   # instructions per paced event instead (callgrind)

"with" serves the same app behind ``ASGILimit`` (a ``StreamLimit`` with caps never reached), with
``sse_fast.metrics`` started and watching the broker and the limit, and a thread that scrapes the metrics
every second (``prometheus_client.generate_latest``: Prometheus itself scrapes every 15 s or so). The
runs are bench/e2e.py's paced run and bench/broker.py's fan-out and burst runs; reported is the median
over rounds of server CPU per event and events/s, and the ratio with / without (1.00: no cost).
``--callgrind N`` counts the instructions per paced event instead (bench/callgrind_paced.py, N events), with
the limit and metrics on but no scraping thread: deterministic, where CPU seconds on a busy machine are not.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import broker  # noqa: E402
import callgrind_paced  # noqa: E402
import e2e  # noqa: E402

broker.APPS["broker+metrics"] = "metrics_overhead:broker_app"
e2e.SERVERS["sse_fast+metrics"] = "metrics_overhead:paced_app"
SCRAPE_EVERY = float(os.environ.get("BENCH_SCRAPE_EVERY", "1"))  # 0: no scraping thread


def _measured(app: Any, find_brokers: bool) -> Any:
    """``app`` behind a never-reached ``StreamLimit``, with metrics on and scraped every second."""
    import prometheus_client

    import sse_fast.metrics
    from sse_fast.limits import ASGILimit, StreamLimit

    limit = StreamLimit(per_process=1_000_000, per_client=1_000_000)
    # the bench apps keep their broker to themselves: find it (a bench shortcut, not how an app does it)
    brokers = [obj for obj in gc.get_objects() if isinstance(obj, sse_fast.Broker)] if find_brokers else []
    sse_fast.metrics.watch(limit, *brokers)
    sse_fast.metrics.start()

    def scrape() -> None:
        while True:
            time.sleep(SCRAPE_EVERY)
            prometheus_client.generate_latest()

    if SCRAPE_EVERY:
        threading.Thread(target=scrape, name="scraper", daemon=True).start()
    return ASGILimit(app, limit)


if os.environ.get("BENCH_BROKER_APP") == "broker+metrics":
    broker_app = _measured(broker._broker(), find_brokers=True)
if os.environ.get("BENCH_METRICS_APP") == "paced":
    paced_app = _measured(e2e.sse_fast_app, find_brokers=False)


def _paced(name: str, events: int) -> Dict[str, float]:
    os.environ["BENCH_METRICS_APP"] = "paced"
    server = e2e.Server(e2e.SERVERS[name], "auto", "auto")
    try:
        r = e2e.stream_run(server, events, 1, 1, "/paced")
    finally:
        server.stop()
    return {"us_per_event": r["cpu"] / r["events"] * 1e6, "events_per_s": r["events_per_s"]}


def _fanout(name: str, subs: int, events: int) -> Dict[str, float]:
    r = broker.fanout_run(name, subs, events)
    return {"us_per_event": r["us_per_delivered"], "events_per_s": r["delivered"] / r["seconds"]}


def _burst(name: str, subs: int) -> Dict[str, float]:
    r = broker.burst_run(subs, name=name)
    return {"us_per_event": r["us_per_delivered"], "events_per_s": subs * r["events"] / r["seconds"]}


def _callgrind(events: int) -> None:
    import tempfile

    import prometheus_client

    import sse_fast.metrics

    sse_fast.metrics.start()
    os.environ["BENCH_METRICS_APP"] = "paced"
    # no scraping thread: under valgrind the events take ~50x longer, so a scrape per wall second would be
    # charged to the events ~50x over; a scrape's own cost is per scrape, not per event (see RESULTS.md)
    os.environ["BENCH_SCRAPE_EVERY"] = "0"
    checkout = os.path.dirname(HERE)
    with tempfile.TemporaryDirectory() as keep:
        off = callgrind_paced.per_event("sse_fast_app", events, "h11", "asyncio", checkout, keep)
        on = callgrind_paced.per_event("metrics_overhead:paced_app", events, "h11", "asyncio", checkout, keep)
    print(
        f"instructions per paced event ({events:,} events, uvicorn h11 asyncio, callgrind): without "
        f"{off:,.0f}, with metrics + limit (not scraped) {on:,.0f}: {on / off:.4f}x"
    )
    started = time.perf_counter()
    for _ in range(100):
        prometheus_client.generate_latest()
    print(f"one scrape of sse_fast's figures (no stream open): {(time.perf_counter() - started) * 1e4:.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced", type=int, default=20_000, help="paced events to one client")
    parser.add_argument("--subs", type=int, default=200, help="fan-out and burst subscribers")
    parser.add_argument("--events", type=int, default=50, help="fan-out events")
    parser.add_argument("--callgrind", type=int, metavar="N", help="only instructions per paced event, N events")
    args = parser.parse_args()
    if args.callgrind:
        _callgrind(args.callgrind)
        return
    e2e._raise_nofile()
    runs: Dict[str, Callable[[bool], Dict[str, float]]] = {
        "paced": lambda on: _paced("sse_fast+metrics" if on else "sse_fast", args.paced),
        "fan-out": lambda on: _fanout("broker+metrics" if on else "broker", args.subs, args.events),
        "burst": lambda on: _burst("broker+metrics" if on else "broker", args.subs),
    }
    print(e2e.json.dumps(e2e.versions()))
    print(f"{args.rounds} rounds; paced: 1 client x {args.paced:,}; fan-out: {args.subs} x {args.events}; "
          f"burst: {args.subs} x 1,000")  # fmt: skip
    print(f"\n{'run':<9}{'us CPU/event without':>22}{'with':>9}{'ratio':>8}"
          f"{'events/s without':>18}{'with':>10}{'ratio':>8}")  # fmt: skip
    for run, once in runs.items():
        got: Dict[bool, List[Dict[str, float]]] = {False: [], True: []}
        for i in range(args.rounds):
            for on in (False, True) if i % 2 == 0 else (True, False):  # alternated: drift hits both sides
                got[on].append(once(on))
        med = {on: {k: statistics.median(r[k] for r in got[on]) for k in got[on][0]} for on in got}
        off, on_ = med[False], med[True]
        print(f"{run:<9}{off['us_per_event']:>22.2f}{on_['us_per_event']:>9.2f}"
              f"{on_['us_per_event'] / off['us_per_event']:>8.3f}{off['events_per_s']:>18,.0f}"
              f"{on_['events_per_s']:>10,.0f}{on_['events_per_s'] / off['events_per_s']:>8.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The speed gate: instructions per event of each workload of bench/callgrind_workloads.py, counted by
callgrind (deterministic, unlike time on a shared machine), against the baseline kept in
bench/callgrind_baseline.json.

    python bench/gate.py                  # the table; exits 1 if any workload costs over 3% more
    python bench/gate.py --update         # writes the counts measured now as the new baseline (review its diff)
    python bench/gate.py --only encode    # some workloads only

Each workload runs twice under ``valgrind --tool=callgrind``: with ``--events`` events and with
``--events / 10`` events; the difference over the events between is the cost of one event, free of
interpreter start-up and imports. Needs valgrind and the compiled core (it counts the compiled twin).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Dict

import callgrind_count
from callgrind_workloads import PER_EVENT, WORKLOADS

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "callgrind_baseline.json")
LIMIT = 3.0  # percent: more instructions per event than this over the baseline fails
EVENTS = 2000


def per_event(name: str, events: int, folder: str) -> float:
    """callgrind's instructions per event of workload ``name`` (``events`` minus ``events // 10``)."""
    few = events // 10
    counts = [
        callgrind_count.instructions(
            [sys.executable, os.path.join(HERE, "callgrind_workloads.py"), name, str(n)],
            os.path.join(folder, f"{name}.{n}.out"),
        )
        for n in (few, events)
    ]
    return (counts[1] - counts[0]) / ((events - few) * PER_EVENT.get(name, 1))


def table(baseline: Dict[str, float], now: Dict[str, float]) -> bool:
    """Prints workload, baseline, now and change; returns whether every workload is within LIMIT."""
    ok = True
    print(f"{'workload':<10}{'baseline':>12}{'now':>12}{'change':>10}")
    for name, value in now.items():
        base = baseline.get(name)
        if base is None:
            print(f"{name:<10}{'(none)':>12}{value:>12,.0f}{'new':>10}")
            ok = False
            continue
        change = (value - base) / base * 100
        over = change > LIMIT
        ok = ok and not over
        print(f"{name:<10}{base:>12,.0f}{value:>12,.0f}{change:>+9.1f}%{'  over +3%' if over else ''}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="write the counts measured now as the baseline")
    parser.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), help="workloads to count (default: all)")
    parser.add_argument("--events", type=int, default=EVENTS, help=f"events per run (default {EVENTS})")
    parser.add_argument("--baseline", default=BASELINE, help="the baseline file (default: %(default)s)")
    args = parser.parse_args()
    from sse_fast import IMPLEMENTATION

    if IMPLEMENTATION != "c":
        parser.error(f"the gate counts the compiled core; this build is {IMPLEMENTATION!r} (build it in place)")
    with tempfile.TemporaryDirectory(prefix="gate.") as folder:
        now = {name: per_event(name, args.events, folder) for name in args.only or WORKLOADS}
    baseline: Dict[str, float] = {}
    if os.path.exists(args.baseline):
        with open(args.baseline) as f:
            baseline = json.load(f)
    ok = table(baseline, now)
    if args.update:
        with open(args.baseline, "w") as f:
            json.dump({**baseline, **{name: round(value) for name, value in now.items()}}, f, indent=2)
            f.write("\n")
        print(f"baseline written: {args.baseline}")
        return 0
    if not ok:
        print(f"gate: over +{LIMIT:g}% instructions per event against {args.baseline} (or no baseline)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

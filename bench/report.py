"""The bridge from ``sse_fast._bench`` to pytest-benchmark: one case per (workload, contender), and at the end
of the session the ratio table (ns/event, MB/s, x floor, speed-up over each peer) and the targets, all from
the same run. The workloads and the table are ``sse_fast._bench``'s, shared with ``python -m sse_fast bench``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from sse_fast._bench import Contender, Workload, table, target_lines, workloads

_ALL = {w.name: w for w in workloads()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cases(*names: str) -> list[Any]:
    """``pytest.param(workload, contender)`` for every contender of the named workloads."""
    return [pytest.param(_ALL[n], c, id=f"{_slug(n)}:{_slug(c.name)}") for n in names for c in _ALL[n].contenders]


def run_case(benchmark: Any, workload: Workload, contender: Contender) -> None:
    """Check the contender's output, then time one ``run()`` in the workload's group."""
    size = workload.check(contender)
    benchmark.group = workload.name
    benchmark.extra_info.update(
        workload=workload.name,
        contender=contender.name,
        role=contender.role,
        events=workload.events,
        bytes=size,
    )
    benchmark(contender.run)


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    """Print each workload's table and the targets, from the min time of every case run in this session."""
    session = getattr(config, "_benchmarksession", None)
    seconds: dict[str, dict[str, float]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for bench in getattr(session, "benchmarks", []):
        info = bench.extra_info
        if "workload" not in info or not bench:
            continue
        seconds.setdefault(info["workload"], {})[info["contender"]] = bench["min"]
        sizes.setdefault(info["workload"], {})[info["contender"]] = info["bytes"]
    if not seconds:
        return
    write = terminalreporter.write_line
    terminalreporter.section("sse_fast ratios (min time of each case, this run)")
    for name, times in seconds.items():
        for line in table(_ALL[name], times, sizes[name]):
            write(line)
        write("")
    write("targets:")
    for line in target_lines(seconds):
        write(line)

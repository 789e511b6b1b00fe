"""The benchmark's own correctness: every contender's output is checked right, and the quick run reports.

No timing is asserted; these run the same workload definitions as bench/ and ``python -m sse_fast bench``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sse_fast import _bench

WORKLOADS = _bench.workloads()


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.name for w in WORKLOADS])
def test_every_contender_produces_the_right_frames(workload: _bench.Workload) -> None:
    roles = {c.role for c in workload.contenders}
    assert {_bench.OURS, _bench.FLOOR} <= roles
    for contender in workload.contenders:
        assert workload.check(contender) > 0


def test_a_wrong_output_is_caught() -> None:
    workload = WORKLOADS[1]  # the chat chunk
    wrong = _bench.Contender("wrong", _bench.PEER, lambda: b'data: {"content":"other"}\n\n')
    with pytest.raises(AssertionError, match="wrong frames"):
        workload.check(wrong)
    lf_only = _bench.Contender(
        "sse_fast x", _bench.OURS, lambda: _bench.expected_bytes(workload).replace(b"\n", b"\r\n")
    )
    with pytest.raises(AssertionError, match="DESIGN wire bytes"):
        workload.check(lf_only)


def test_the_table_and_targets_use_the_given_times() -> None:
    def run() -> bytes:  # never called: only the names and roles matter here
        return b""

    names = [("sse_fast c", _bench.OURS), ("sse-starlette", _bench.PEER), ("orjson.dumps", _bench.FLOOR)]
    workload = _bench.Workload("chat chunk", "test", 1, ["{}"], True, [_bench.Contender(n, r, run) for n, r in names])
    seconds = {"sse_fast c": 0.5e-6, "sse-starlette": 1e-6, "orjson.dumps": 1e-6}
    lines = _bench.table(workload, seconds, {n: 100 for n, _ in names})
    assert lines[2].split() == ["sse_fast", "c", "500", "200", "0.50", "2.00x"]
    report = _bench.target_lines({"chat chunk": seconds})
    assert any(line.startswith("  MET ") and "1.25" in line for line in report)  # 0.5x of orjson.dumps
    assert any(line.startswith("  MISS") and "15" in line for line in report)  # only 2x sse-starlette


def test_python_m_sse_fast_bench_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sse_fast", "bench", "--repeats", "1", "--budget", "0.001"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for name in ("small json", "chat chunk", "4 KiB / 64 lines", "64 KiB line", "burst 1000", "targets:"):
        assert name in out.stdout

"""The speed gate's own test: it passes against a baseline measured on this build, and fails, naming the
workload, when ``SSE_FAST_BENCH_SLOWDOWN`` adds work per event (counted under callgrind, never timed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GATE = Path(__file__).with_name("gate.py")

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="the gate counts with valgrind")


def gate(baseline: Path, *args: str, slowdown: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "SSE_FAST_BENCH_SLOWDOWN": str(slowdown)}
    env.pop("SSE_FAST_NO_EXTENSIONS", None)  # the gate counts the compiled core
    command = [sys.executable, str(GATE), "--only", "encode", "--events", "500", "--baseline", str(baseline)]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env)


def test_the_gate_passes_on_its_baseline_and_fails_on_a_slowdown(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    update = gate(baseline, "--update")
    assert update.returncode == 0, update.stderr
    assert json.loads(baseline.read_text())["encode"] > 1000

    same = gate(baseline)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "encode" in same.stdout and "over" not in same.stdout

    slower = gate(baseline, slowdown=40)  # some 40 empty loop turns per event: well over 3% of an encode
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "over +3%" in slower.stdout


def test_a_workload_missing_from_the_baseline_fails(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"burst": 1}))
    missing = gate(baseline)
    assert missing.returncode == 1
    assert "(none)" in missing.stdout

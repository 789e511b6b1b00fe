"""Text workloads: 4 KiB in 64 lines, and 64 KiB on one line."""

from __future__ import annotations

import pytest
from report import cases, run_case


@pytest.mark.parametrize(("workload", "contender"), cases("4 KiB / 64 lines", "64 KiB line"))
def test_text(benchmark, workload, contender):
    run_case(benchmark, workload, contender)

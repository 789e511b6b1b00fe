"""JSON workloads: a small dict, a ~240-byte chat-completion chunk, and 1,000 chunks in one write."""

from __future__ import annotations

import pytest
from report import cases, run_case


@pytest.mark.parametrize(("workload", "contender"), cases("small json", "chat chunk", "burst 1000"))
def test_json(benchmark, workload, contender):
    run_case(benchmark, workload, contender)

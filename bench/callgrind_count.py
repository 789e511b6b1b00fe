"""One helper for the callgrind benchmarks: run a command under ``valgrind --tool=callgrind`` and return the
number of instructions it executed (the total callgrind writes to its output file)."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Optional, Sequence


def total(out: str) -> int:
    """The instruction total in callgrind's output file ``out``."""
    with open(out) as f:
        match = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if match is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def instructions(argv: Sequence[str], out: str, toggle: Sequence[str] = (), env: Optional[dict] = None) -> int:
    """Instructions of ``argv`` run to its end under callgrind (only inside the ``toggle`` functions, if any),
    with PYTHONHASHSEED fixed so two runs of one program start up alike."""
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    cmd += [f"--toggle-collect={name}" for name in toggle]
    done = subprocess.run(
        [*cmd, *argv], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv!r} under callgrind exited {done.returncode}: {done.stderr[-2000:]}")
    return total(out)

"""`python -m sse_fast`: prints the encoder in use and the golden frames."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import NO_EXTENSIONS

GOLDEN = [
    b'data: {"content":"hello"}\n\n',
    b'event: message\ndata: {"text":"hi"}\n\n',
    b'id: evt-001\ndata: {"text":"hi"}\n\n',
    b"data: a\ndata: b\n\n",
    b"data: [DONE]\n\n",
    b": heartbeat\n\n",
    b"retry: 3000\n\n",
    b'id: evt-001\nevent: update\ndata: {"value":100}\n\n',
]


def run_main(**env: str) -> str:
    environ = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "-m", "sse_fast"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("forced", [False, True], ids=["default", "no-extensions"])
def test_main_prints_the_implementation_and_golden_frames(forced):
    out = run_main(SSE_FAST_NO_EXTENSIONS="1") if forced else run_main()
    expected = "python" if forced or NO_EXTENSIONS else "c"
    assert out.splitlines()[0] == f"sse_fast encoder in use: {expected!r}"
    for frame in GOLDEN:
        assert f"-> {frame!r}" in out


@pytest.mark.parametrize(
    "options, said",
    [
        (["--workers", "2"], "--workers needs --redis URL"),
        (["--redis", "redis://127.0.0.1:notaport/0"], "port"),
    ],
)
def test_demo_refuses_workers_without_redis_and_a_bad_redis_url(options, said, capsys):
    from sse_fast.__main__ import main

    assert main(["demo", "--port", "0", *options]) == 2
    assert said in capsys.readouterr().out


def test_version_is_the_installed_metadata():
    # one source: pyproject reads sse_fast.__version__, so the distribution pip installed carries the same
    from importlib.metadata import version

    import sse_fast

    assert sse_fast.__version__ == version("sse-fast")
    done = subprocess.run(
        [sys.executable, "-m", "sse_fast", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"sse_fast {sse_fast.__version__} (encoder: {sse_fast.IMPLEMENTATION})\n"

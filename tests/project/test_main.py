"""`python -m sse_fast`: prints the encoder in use and the golden frames."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
from support.twins import NO_EXTENSIONS

import sse_fast

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


def python_m(*args: str, **options: Any) -> "subprocess.CompletedProcess[str]":
    """``python -m sse_fast ARGS`` in a real process; its output as text."""
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "sse_fast", *args], stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        **options,
    )  # fmt: skip


def test_demo_on_a_busy_port_names_it_and_the_option_without_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = python_m("demo", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"port {port} on 127.0.0.1 is busy" in done.stderr
    assert "--port" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """The demo served by ``python -m sse_fast demo --port 0``: its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sse_fast", "demo", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        url = re.search(r"http://\S+:(\d+)/", proc.stdout.readline())
        assert url, "the demo printed no address"
        _wait_accepting(int(url.group(1)))  # it prints the port before it listens
        yield url.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def _wait_accepting(port: int, timeout: float = 30.0) -> None:
    """Until a connection to ``port`` is accepted (a guard against hangs only: fails after ``timeout``).
    Not ``servers.wait_until``: release_check.sh runs this module without the servers' packages."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s"
            time.sleep(0.02)


def chat_ids(base: str, last_event_id: str) -> List[Tuple[str, str]]:
    """The (event, id) of /chat's first 3 events for a client that sends ``last_event_id``."""
    import httpx  # here: the wheel checks of scripts/release_check.sh run this module without httpx

    from sse_fast.parse import EventParser

    parser, events = EventParser(), []
    with httpx.stream("GET", f"{base}chat", headers={"Last-Event-ID": last_event_id}, timeout=10) as response:
        for chunk in response.iter_raw():
            events += parser.feed(chunk)
            if len(events) >= 3:
                break
    return [(event.event, event.id) for event in events[:3]]


@pytest.mark.parametrize("sent", ["-5", "abc", "1.5", "9" * 40])
def test_demo_answers_an_id_it_never_gave_with_the_reset_then_the_start(demo: str, sent: str) -> None:
    assert chat_ids(demo, sent) == [("reset", "0"), ("message", "1"), ("message", "2")]


def test_demo_resumes_after_an_id_it_gave(demo: str) -> None:
    assert chat_ids(demo, "5") == [("message", "6"), ("message", "7"), ("message", "8")]


@pytest.mark.parametrize("args", [[], ["bench", "--repeats", "1", "--budget", "0.001"]], ids=["samples", "bench"])
def test_a_reader_that_leaves_ends_the_output_quietly(args: List[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader has left before the first line (as `| head` does, sooner or later)
    try:
        done = python_m(*args, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 1
    assert done.stderr == ""


def test_help_is_plain_text() -> None:
    done = python_m("--help")
    assert done.returncode == 0, done.stderr
    assert "python -m sse_fast: sample frames" in done.stdout
    assert "``" not in done.stdout


def test_the_install_hints_work_before_the_first_release() -> None:
    # sse-fast is not on PyPI yet: each extra the CLI names comes with the checkout's install too
    done = python_m("--help")
    for extra in ("demo", "bench"):
        assert f'pip install ".[{extra}]"' in " ".join(done.stdout.split())  # argparse wraps the lines
    without_uvicorn = (
        "import sys; sys.modules['uvicorn'] = None; from sse_fast.__main__ import main; sys.exit(main(['demo']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_uvicorn], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert (
        done.stderr == 'the demo needs uvicorn: pip install "sse-fast[demo]" (from a checkout: pip install ".[demo]")\n'
    )


def test_every_install_hint_in_the_package_is_the_one_helper() -> None:
    # a hint written by hand (pip install sse-fast[x]) would offer only the PyPI install, which finds nothing yet
    package = Path(sse_fast.__file__).parent
    by_hand = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*"))
        if path.suffix in {".py", ".pyx", ".pyi", ".pxd"}  # sources, not an installed copy's __pycache__
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
        if "sse-fast[" in line and path.name != "_missing.py"
    ]
    assert by_hand == []

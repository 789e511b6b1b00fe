"""Run a docs page's server command line and its curl as written, in a network namespace of their own.

``unshare -rn python doc_command.py DIR HEADERS_ONLY CURL COMMAND``: brings the namespace's loopback up,
starts COMMAND with a shell in DIR, reads CURL's URL (with its ``-H`` headers) with httpx once the port
listens, and exits 0 when the stream answered as ``read_stream`` wants. A namespace of its own lets the
command keep its port as written (8000, or its server's default) while other tests and servers run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit


def parse_curl(curl: str) -> Tuple[str, Dict[str, str]]:
    """The URL and the ``-H`` headers of a curl command line (its other options only shape the output)."""
    words, url, headers = shlex.split(curl)[1:], None, {}
    while words:
        word = words.pop(0)
        if word in ("-H", "--header"):
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif not word.startswith("-"):
            url = word if "://" in word else f"http://{word}"
    assert url is not None, f"no URL in {curl!r}"
    return url, headers


def read_stream(url: str, proc: subprocess.Popen, headers_only: bool, headers: Optional[Dict[str, str]] = None) -> None:
    """Wait until ``url``'s port listens (``proc`` still running), then read it: 200, ``text/event-stream``
    and at least one event (the first 3 are enough), or only the status and headers."""
    import httpx

    from sse_fast.parse import EventParser

    parts = urlsplit(url)
    deadline = time.monotonic() + 30
    while True:  # until the server listens
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            socket.create_connection((parts.hostname, parts.port or 80), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, f"nothing listened on port {parts.port or 80} within 30 s"
            time.sleep(0.1)
    parser, events = EventParser(), []
    # a WSGI server sends the headers with the first body bytes: for an idle room, its first heartbeat (15 s)
    with httpx.stream("GET", url, headers=headers, timeout=20 if headers_only else 10) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream"), response.headers
        if headers_only:
            return
        for chunk in response.iter_raw():
            events += parser.feed(chunk)
            if len(events) >= 3:
                break
    assert events, f"{url} sent no event"


def stop(proc: subprocess.Popen) -> str:
    """Ctrl-C for ``proc``'s process group (a shell and its server), then kill; its output."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate()[0]


def run_as_written(folder: str, command: str, curl: str, headers_only: bool = False) -> None:
    """Run ``command`` in ``folder`` and read ``curl`` (as ``main`` does) in a network namespace of their own;
    skips the calling test where there is no ``unshare``."""
    import pytest

    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode:
        pytest.skip("no network namespace (unshare -rn) to run the command at its own port")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    args = ["unshare", "-rn", sys.executable, __file__, folder, "headers" if headers_only else "events", curl, command]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{command!r} then {curl!r}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def main(folder: str, headers_only: str, curl: str, command: str) -> int:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    url, headers = parse_curl(curl)
    proc = subprocess.Popen(
        command, shell=True, cwd=folder, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        read_stream(url, proc, headers_only == "headers", headers)
    except Exception as failed:  # the report names it; the exit code fails the test
        print(f"{command!r} then {curl!r}: {failed}\n--- the server's output:\n{stop(proc)}")
        return 1
    stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

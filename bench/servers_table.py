"""What each server does with an sse_fast stream: the README table "Every server, measured".

    python bench/servers_table.py            # 20 disconnects per server
    python bench/servers_table.py --quick    # 3 per server (CI)
    python bench/servers_table.py --servers granian-h2c daphne

Each server of tests/support/server_procs.py runs as its own process on a free port, serving
tests/support/server_app.py.
Per server: disconnect latency (the client hangs up -> the handler's context ends, both read
``time.monotonic()``), a frozen client (reads nothing; ``send_timeout`` 0.5 s): when it was dropped and how
much the server took first, SIGTERM with ``shutdown_on_signals`` (farewell arrival, exit time and code), and
whether the server speaks HTTP/2 without TLS (h2c with prior knowledge). Needs the test extra.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402
from support.server_procs import SERVERS, Running, h2_data, h2_request, running  # noqa: E402
from support.servers import frozen_request  # noqa: E402
from support.sse_apps import FAREWELL  # noqa: E402

COLUMNS = ["server", "version", "disconnect seen after", "frozen client", "SIGTERM", "HTTP/2 (h2c)"]


def disconnect(server: Running, repeats: int) -> str:
    delays = []
    for _ in range(repeats):
        server.probe.clear()
        left = server.leave()
        stopped = server.probe.get("hold", timeout=5)[0]
        delays.append((stopped - left) * 1000)
    return f"{statistics.median(delays):.1f} ms median, {max(delays):.1f} max (n={repeats})"


def frozen(server: Running) -> str:
    server.probe.clear()
    sent = time.monotonic()
    sock = h2_request(server.port, "/frozen") if server.spec.http2 else frozen_request(server.port)
    try:
        entry = server.probe.entry("frozen", timeout=60)
    finally:
        sock.close()
    reason, written, _ = entry["value"]
    took = entry["t"] - sent
    if reason == "send_timeout":
        return f"dropped after {took:.2f} s, {written / 2**20:.1f} MiB taken first"
    return f"**not dropped**: took all {written / 2**20:.0f} MiB in {took:.1f} s ({reason})"


def shutdown(server: Running) -> str:
    if server.spec.http2:
        with contextlib.closing(h2_request(server.port, "/farewell")) as sock:
            chunks = h2_data(sock)
            next(chunks)
            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            rest = b"".join(chunks)
            ended = time.monotonic()
    else:
        with server.client() as http, http.stream("GET", "/farewell") as response:
            chunks = response.iter_raw()
            next(chunks)
            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            rest = b"".join(chunks)
            ended = time.monotonic()
    farewell = "farewell" if rest == FAREWELL else f"**no farewell** ({rest!r})"
    code = server.proc.wait(30)
    exited = time.monotonic()
    how = "exit 0" if code == 0 else f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    return f"{farewell} +{(ended - signalled) * 1000:.0f} ms, {how} +{(exited - signalled) * 1000:.0f} ms"


def h2c(server: Running) -> str:
    try:
        with httpx.Client(http1=False, http2=True, timeout=3) as http:
            version = http.get(server.url + "/ping").http_version
    except httpx.HTTPError:
        return "no"
    return "yes" if version == "HTTP/2" else "no"


def version(name: str) -> str:
    from importlib.metadata import version as installed

    package = name.split("-")[0]
    extra = {"gunicorn-uvicorn-worker": " + uvicorn-worker " + installed("uvicorn-worker")}
    return installed(package) + extra.get(name, "")


def measure(name: str, repeats: int) -> List[str]:
    with tempfile.TemporaryDirectory() as folder:
        with running(name, Path(folder)) as server:
            row = [name, version(name), disconnect(server, repeats), frozen(server), "", h2c(server)]
        with running(name, Path(folder)) as server:  # a fresh server: SIGTERM ends it
            row[4] = shutdown(server)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 disconnects per server instead of 20")
    parser.add_argument("--servers", nargs="*", default=list(SERVERS), choices=list(SERVERS))
    args = parser.parse_args()
    rows: Dict[str, List[str]] = {}
    for name in args.servers:
        missing = SERVERS[name].missing()
        if missing is not None:
            print(f"{name}: skipped, {missing} is not installed", file=sys.stderr)
            continue
        rows[name] = measure(name, 3 if args.quick else 20)
        print(" | ".join(rows[name]), file=sys.stderr)
    print(f"Python {sys.version.split()[0]}, send_timeout 0.5 s, grace 5 s\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for row in rows.values():
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

"""Instructions per paced event of a uvicorn server, counted by callgrind (not timed): sse_fast against the
hand-written floor, the same apps as bench/e2e.py's ``/paced`` route.

Each app runs in a uvicorn process under ``valgrind --tool=callgrind``, serves one ``/paced?n=1`` request (it
is up) and one ``/paced?n=N``, and is stopped; the same with ``n=1`` twice. The difference over ``N - 1`` is
the server's cost of one event (the ASGI send, the loop turn, the encoding, sse_fast's write path), free of
start-up. Unlike CPU seconds, the count hardly moves between runs, so before/after and sse_fast/floor ratios
show from one run.

    python bench/callgrind_paced.py [--http httptools --loop uvloop] [--events 20000] [--checkout PATH] [--path /stream]

``--checkout PATH`` serves sse_fast from another checkout (its package first on PYTHONPATH), to compare.
``--path /stream`` counts a burst instead: the same route with no loop turn between events.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import callgrind_count

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=600) as response:
        while response.read(1 << 16):
            pass


def instructions(app: str, events: int, http: str, loop: str, checkout: str, out: str, path: str = "/paced") -> int:
    """callgrind's instruction count of a uvicorn process that served ``path?n=1`` and ``path?n=events``
    (``app``: an app of bench/e2e.py, or ``module:app`` of another bench module)."""
    port = _free_port()
    env = {**os.environ, "PYTHONHASHSEED": "1", "PYTHONPATH": checkout}
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "uvicorn",
           app if ":" in app else f"e2e:{app}", "--app-dir", HERE, "--port", str(port), "--http", http, "--loop", loop,
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    # cwd: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH's checkout
    proc = subprocess.Popen(cmd, env=env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                _get(f"http://127.0.0.1:{port}{path}?n=1")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"uvicorn under valgrind did not come up: {proc.stderr.read()}") from None
                time.sleep(0.5)
        _get(f"http://127.0.0.1:{port}{path}?n={events}")
    finally:
        proc.send_signal(2)
        _, err = proc.communicate(timeout=300)
    try:
        return callgrind_count.total(out)
    except (OSError, RuntimeError) as exc:
        raise RuntimeError(f"no callgrind total ({exc}): {err[-2000:]}") from None


def per_event(app: str, events: int, http: str, loop: str, checkout: str, keep: str, path: str = "/paced") -> float:
    name = app.replace(":", ".")
    one = instructions(app, 1, http, loop, checkout, os.path.join(keep, f"{name}.1"), path)
    many = instructions(app, events + 1, http, loop, checkout, os.path.join(keep, f"{name}.{events + 1}"), path)
    return (many - one) / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", default="h11")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--path", default="/paced", help="/paced, or /stream for a burst (no loop turn between events)")
    parser.add_argument("--checkout", default=os.path.dirname(HERE), help="the sse_fast checkout to serve")
    parser.add_argument("--keep", help="a folder for the callgrind files (callgrind_annotate them)")
    args = parser.parse_args()
    keep = args.keep or tempfile.mkdtemp(prefix="callgrind_paced.")
    os.makedirs(keep, exist_ok=True)
    checkout = os.path.abspath(args.checkout)
    print(f"uvicorn --http {args.http} --loop {args.loop}: instructions per {args.path} event ({args.events:,} events)")
    floor = per_event("hand_app", args.events, args.http, args.loop, checkout, keep, args.path)
    print(f"  hand-written floor  {floor:>9,.0f}")
    ours = per_event("sse_fast_app", args.events, args.http, args.loop, checkout, keep, args.path)
    print(f"  sse_fast            {ours:>9,.0f}  {ours / floor:.3f}x the floor  ({checkout})")
    if args.keep is None:
        for name in os.listdir(keep):
            os.remove(os.path.join(keep, name))
        os.rmdir(keep)


if __name__ == "__main__":
    main()

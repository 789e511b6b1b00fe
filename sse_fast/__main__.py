"""``python -m sse_fast``: sample frames; ``... demo``: the browser demo; ``... bench``: the benchmark."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, Tuple

from . import IMPLEMENTATION, Event, __version__, encode, encode_comment, encode_json, encode_retry
from .integrations._missing import install_hint

SAMPLES: List[Tuple[str, Callable[[], bytes]]] = [
    ('encode_json({"content": "hello"})', lambda: encode_json({"content": "hello"})),
    ('encode_json({"text": "hi"}, event="message")', lambda: encode_json({"text": "hi"}, event="message")),
    ('encode_json({"text": "hi"}, id="evt-001")', lambda: encode_json({"text": "hi"}, id="evt-001")),
    ('encode("a\\nb")', lambda: encode("a\nb")),
    ('encode("[DONE]")', lambda: encode("[DONE]")),
    ('encode_comment("heartbeat")', lambda: encode_comment("heartbeat")),
    ("encode_retry(3000)", lambda: encode_retry(3000)),
    (
        'Event(id="evt-001", event="update", data={"value": 100}).encode()',
        lambda: Event(id="evt-001", event="update", data={"value": 100}).encode(),
    ),
]


def show_samples() -> None:
    print(f"sse_fast encoder in use: {IMPLEMENTATION!r}")
    for call, make in SAMPLES:
        print(f"\n{call}\n  -> {make()!r}")


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m sse_fast [demo | bench]``; the exit code (a reader that left ends it quietly, with 1)."""
    parser = argparse.ArgumentParser(prog="python -m sse_fast", description=(__doc__ or "").replace("``", ""))
    parser.add_argument("--version", action="version", version=f"sse_fast {__version__} (encoder: {IMPLEMENTATION})")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help=f"serve the browser demo; needs uvicorn: {install_hint('demo')}")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    redis_help = f"run the room on this Redis; needs redis: {install_hint('redis')}"
    demo.add_argument("--redis", metavar="URL", help=redis_help)
    demo.add_argument("--workers", type=int, default=1, help="worker processes (default 1; more need --redis)")
    bench_help = f"a quick benchmark against the peers installed; all of them: {install_hint('bench')}"
    bench = sub.add_parser("bench", help=bench_help)
    bench.add_argument("--repeats", type=int, default=7, help="rounds per contender; the best counts (default 7)")
    bench.add_argument("--budget", type=float, default=0.02, help="seconds per round per contender (default 0.02)")
    args = parser.parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # inside the try: a pipe's buffered output is written here, not at exit
        return code
    except BrokenPipeError:  # the reader left early (python -m sse_fast | head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit is quiet too
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import serve

        return serve(args.host, args.port, redis=args.redis, workers=args.workers)
    if args.command == "bench":
        from ._bench import quick

        quick(args.repeats, args.budget)
        return 0
    show_samples()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

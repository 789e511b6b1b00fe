"""Instructions per call of the compiled encoder's hot workloads, counted by callgrind (not timed).

Each workload is a ``functools.partial`` (as in ``python -m sse_fast bench``), and only what runs inside
it is counted (``--toggle-collect`` on functools' ``partial_vectorcall`` and ``partial_call``): the call,
its argument parsing and its work, not the loop around it nor the freeing of its result. It runs twice
under ``valgrind --tool=callgrind``, with 0 calls and with ``--calls`` calls; the difference over
``--calls`` is the cost of one call, free of interpreter start-up. The copy rows are the floor
``python -m sse_fast bench`` uses for text, ``bytes(bytearray(output))``; orjson.dumps is the JSON floor.

    python bench/callgrind_encode.py [--calls 5000] [--keep DIR]

``--keep DIR`` leaves the callgrind files there for ``callgrind_annotate --inclusive=yes FILE``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

import callgrind_count

# The workloads of sse_fast/_bench.py, built here without importing its peers (start-up under valgrind).
SETUP = """
import sys
from functools import partial
import orjson
from sse_fast import _encoder as enc
from sse_fast._bench import chat_chunk
text4k = "\\n".join(["x" * 63] * 64) + "x"
line64k = "y" * 65536
RUNS = {
    "4 KiB / 64 lines, str": partial(enc.encode, text4k),
    "4 KiB / 64 lines, bytes": partial(enc.encode, text4k.encode()),
    "4 KiB / 64 lines, copy": partial(bytes, bytearray(enc.encode(text4k))),
    "64 KiB line, str": partial(enc.encode, line64k),
    "64 KiB line, copy": partial(bytes, bytearray(enc.encode(line64k))),
    "chat chunk, encode_json": partial(enc.encode_json, chat_chunk(" world")),
    "chat chunk, orjson.dumps": partial(orjson.dumps, chat_chunk(" world")),
}
run = RUNS[sys.argv[1]]
run()
for _ in range(int(sys.argv[2])):
    run()
"""
NAMES = [
    "4 KiB / 64 lines, str",
    "4 KiB / 64 lines, bytes",
    "4 KiB / 64 lines, copy",
    "64 KiB line, str",
    "64 KiB line, copy",
    "chat chunk, encode_json",
    "chat chunk, orjson.dumps",
]


def instructions(name: str, calls: int, out: str) -> int:
    toggle = ("partial_vectorcall", "partial_call")
    return callgrind_count.instructions([sys.executable, "-c", SETUP, name, str(calls)], out, toggle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--keep", help="directory to keep the callgrind output files in")
    args = parser.parse_args()
    from sse_fast import _encoder  # noqa: F401  (fails here, not under valgrind, without the core)

    folder = args.keep or tempfile.mkdtemp()
    os.makedirs(folder, exist_ok=True)
    print(f"{'workload':<28}{'instructions/call':>18}")
    for name in NAMES:
        slug = re.sub(r"\W+", "_", name)
        base = instructions(name, 0, os.path.join(folder, f"{slug}.0.out"))
        full = instructions(name, args.calls, os.path.join(folder, f"{slug}.{args.calls}.out"))
        print(f"{name:<28}{(full - base) / args.calls:>18,.0f}", flush=True)


if __name__ == "__main__":
    main()

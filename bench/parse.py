"""Parse throughput: sse_fast's parser twins vs httpx-sse's decoder vs sseclient-py, a bytes scan as the floor.

Report only (never fails on time); every contender's events are checked against the expected ones first.
Run: ``python bench/parse.py`` (``--quick`` for fewer rounds). Prints ns/event per workload and feed size,
and the compiled parser's speed-up over each peer, all measured in one run.
"""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any, Callable, Dict, List

from sse_fast import encode, encode_json
from sse_fast._bench import chat_chunk, token


def workloads() -> Dict[str, List[str]]:
    chat = [encode_json(chat_chunk(token(i), i)).decode()[6:-2] for i in range(2000)]
    multi = ["\n".join(f"line {j:02d} " + "x" * 55 for j in range(64)) for _ in range(64)]  # 4 KiB, 64 lines
    big = ["y" * 65536 for _ in range(8)]
    return {"chat chunks": chat, "4 KiB / 64 lines": multi, "64 KiB events": big}


def feeds(raw: bytes, size: int) -> List[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def contenders() -> Dict[str, Callable[[List[bytes]], List[str]]]:
    out: Dict[str, Callable[[List[bytes]], List[str]]] = {}
    for name, module in (("sse_fast c", "sse_fast._parser"), ("sse_fast python", "sse_fast._parser_py")):
        try:
            cls = importlib.import_module(module).EventParser
        except ImportError:
            continue

        def run(chunks: List[bytes], cls: Any = cls) -> List[str]:
            p = cls()
            return [e.data for c in chunks for e in p.feed(c)]

        out[name] = run
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    def httpx_sse(chunks: List[bytes]) -> List[str]:  # what EventSource.iter_sse does with response bytes
        lines, decoder, got = SSELineDecoder(), SSEDecoder(), []
        for chunk in chunks:
            for line in lines.decode(chunk.decode("utf-8", "replace")):
                sse = decoder.decode(line)
                if sse is not None:
                    got.append(sse.data)
        return got

    out["httpx-sse"] = httpx_sse
    import sseclient

    def sseclient_py(chunks: List[bytes]) -> List[str]:
        return [e.data for e in sseclient.SSEClient(iter(chunks)).events()]

    out["sseclient-py"] = sseclient_py

    def floor(chunks: List[bytes]) -> List[str]:  # find every line end, once, and do nothing else
        for c in chunks:
            c.count(b"\n")
        return []

    out["bytes scan"] = floor
    return out


def best(run: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="parse throughput, report only")
    parser.add_argument("--quick", action="store_true")
    rounds = 3 if parser.parse_args().quick else 7
    runners = contenders()
    for name, data in workloads().items():
        raw = b"".join(encode(d) for d in data)
        for size in (4096, 262144):
            chunks = feeds(raw, size)
            row = {}
            for who, run in runners.items():
                if who != "bytes scan":
                    got = run(chunks)
                    assert got == data, f"{who} read {name} wrongly"
                row[who] = best(lambda run=run, chunks=chunks: run(chunks), rounds) / len(data) * 1e9
            c = row.get("sse_fast c")
            ratios = "  ".join(f"{c and row[p] / c:.1f}x vs {p}" for p in ("httpx-sse", "sseclient-py") if c)
            cells = "  ".join(f"{who} {ns:,.0f}" for who, ns in row.items())
            print(f"{name:17} feed {size // 1024:>3} KiB  ns/event: {cells}\n{'':17} compiled: {ratios}")


if __name__ == "__main__":
    main()

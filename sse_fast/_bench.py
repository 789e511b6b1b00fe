"""Benchmark workloads, their contenders and the ratio table.

One source for ``bench/`` and ``python -m sse_fast bench``.

A workload is one job (a JSON chunk, 4 KiB of text, a burst through ``FrameBuffer``, ...). Its contenders
do that job: both sse_fast encoder twins, the peers a user would pick instead (sse-starlette, FastAPI's
SSE formatting, a plain f-string formatter) and the floor (``orjson.dumps`` alone, or a bytes copy of the
output's size). Every contender's output is checked before it is timed. Peers that are not installed
(the ``bench`` extra) are left out and named in ``missing``.

Like the tests, this module compares the two twins, so it imports both directly.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any, Callable

import orjson

from .integrations._missing import install_hint
from .parse import parse

OURS, PEER, FLOOR = "ours", "peer", "floor"
SSE_STARLETTE = "sse-starlette"

_TOKENS = (
    "Server", "-Sent", " Events", " stream", " text", " from", " server", " to", " browser", " over",
    " one", " long", " HTTP", " response", ",", " one", " frame", " per", " event", ".",
)  # fmt: skip


def chat_chunk(content: str, index: int = 0) -> dict[str, Any]:
    """An OpenAI-style ``chat.completion.chunk`` (about 240 bytes of JSON) carrying one token."""
    return {
        "id": "chatcmpl-AxT3kq9ZlR2cVbN8mY",
        "object": "chat.completion.chunk",
        "created": 1718049600 + index // 1000,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "delta": {"content": content}, "logprobs": None, "finish_reason": None}],
    }


def token(i: int) -> str:
    """The ``i``-th token of a fixed sentence, repeated: the built-in token source."""
    return _TOKENS[i % len(_TOKENS)]


@dataclass
class Contender:
    """One way to do a workload's job; ``run()`` does it once (``Workload.events`` events)."""

    name: str
    role: str
    run: Callable[[], Any]
    output: Callable[[], Any] | None = None  # what to check, when ``run()`` returns nothing


@dataclass
class Workload:
    """A job, the events one call produces, and how to check a contender's output."""

    name: str
    about: str
    events: int
    frames: list[str]  # the data of each expected frame, as text
    is_json: bool
    contenders: list[Contender] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def check(self, contender: Contender) -> int:
        """Run ``contender`` once, raise ``AssertionError`` if its output is wrong; return its size in bytes."""
        out = (contender.output or contender.run)()
        if contender.role == FLOOR:
            return _check_floor(self, contender, out)
        if isinstance(out, str):
            out = out.encode("utf-8")
        assert isinstance(out, bytes), f"{contender.name}: produced {type(out).__name__}, expected bytes"
        got = [event.data for event in parse(out)]
        want = self.frames
        if self.is_json:
            got, want = [json.loads(d) for d in got], [json.loads(d) for d in want]
        assert got == want, f"{contender.name}: wrong frames for {self.name}"
        if contender.role == OURS:
            assert out == expected_bytes(self), f"{contender.name}: not the DESIGN wire bytes for {self.name}"
        return len(out)


def _check_floor(workload: Workload, contender: Contender, out: Any) -> int:
    if workload.is_json:
        outs = out if isinstance(out, list) else [out]
        assert [json.loads(o) for o in outs] == [json.loads(f) for f in workload.frames], contender.name
        return sum(len(o) for o in outs)
    assert out == expected_bytes(workload), f"{contender.name}: copy differs"
    return len(out)


def expected_bytes(workload: Workload) -> bytes:
    """The exact bytes the wire format prescribes for the workload's frames (data lines only, LF endings)."""
    frames = []
    for data in workload.frames:
        lines = re.split("\r\n|\r|\n", data)
        frames.append("".join(f"data: {line}\n" for line in lines) + "\n")
    return "".join(frames).encode("utf-8")


def twins() -> list[tuple[str, ModuleType]]:
    """The encoder twins importable here: ``("c", module)`` when built, and ``("python", module)``."""
    found = []
    try:
        found.append(("c", importlib.import_module("sse_fast._encoder")))
    except ImportError:
        pass
    found.append(("python", importlib.import_module("sse_fast._encoder_py")))
    return found


def _peers() -> tuple[ModuleType | None, tuple[Callable[..., bytes], Callable[[Any], Any]] | None, list[str]]:
    missing: list[str] = []
    starlette_event: ModuleType | None = None
    try:
        starlette_event = importlib.import_module("sse_starlette.event")
    except ImportError:
        missing.append(SSE_STARLETTE)
    fastapi: tuple[Callable[..., bytes], Callable[[Any], Any]] | None = None
    try:
        from fastapi.encoders import jsonable_encoder
        from fastapi.sse import format_sse_event

        fastapi = (format_sse_event, jsonable_encoder)
    except ImportError:
        missing.append("fastapi")
    return starlette_event, fastapi, missing


def _json_workload(name: str, about: str, obj: Any) -> Workload:
    payload = orjson.dumps(obj)
    w = Workload(name, about, 1, [payload.decode()], True)
    starlette_event, fastapi, w.missing = _peers()
    for impl, mod in twins():
        w.contenders.append(Contender(f"sse_fast {impl}", OURS, partial(mod.encode_json, obj)))
    if starlette_event is not None:
        json_event = starlette_event.JSONServerSentEvent
        w.contenders.append(Contender(SSE_STARLETTE, PEER, lambda: json_event(obj).encode()))
    if fastapi is not None:
        fmt, jsonable = fastapi
        w.contenders.append(Contender("fastapi", PEER, lambda: fmt(data_str=json.dumps(jsonable(obj)))))
    dumps = json.dumps
    w.contenders.append(Contender("f-string", PEER, lambda: f"data: {dumps(obj)}\n\n".encode()))
    w.contenders.append(Contender("orjson.dumps", FLOOR, partial(orjson.dumps, obj)))
    return w


def _text_workload(name: str, about: str, text: str) -> Workload:
    w = Workload(name, about, 1, [text], False)
    starlette_event, fastapi, w.missing = _peers()
    for impl, mod in twins():
        w.contenders.append(Contender(f"sse_fast {impl}", OURS, partial(mod.encode, text)))
        if impl == "c":  # the same text given as UTF-8 bytes
            w.contenders.append(Contender("sse_fast c bytes", OURS, partial(mod.encode, text.encode())))
    if starlette_event is not None:
        event = starlette_event.ServerSentEvent
        w.contenders.append(Contender(SSE_STARLETTE, PEER, lambda: event(text).encode()))
    if fastapi is not None:
        w.contenders.append(Contender("fastapi", PEER, partial(fastapi[0], data_str=text)))
    w.contenders.append(
        Contender(
            "f-string",
            PEER,
            lambda: ("".join([f"data: {line}\n" for line in text.splitlines()]) + "\n").encode(),
        )
    )
    size = bytearray(expected_bytes(w))
    w.contenders.append(Contender("bytes copy", FLOOR, partial(bytes, size)))
    return w


def _burst_workload(count: int) -> Workload:
    chunks = [chat_chunk(token(i), i) for i in range(count)]
    w = Workload(
        "burst 1000",
        f"{count:,} chat chunks gathered into one write (FrameBuffer for sse_fast)",
        count,
        [orjson.dumps(c).decode() for c in chunks],
        True,
    )
    starlette_event, fastapi, w.missing = _peers()
    for impl, mod in twins():
        w.contenders.append(Contender(f"sse_fast {impl}", OURS, partial(_fill, mod.FrameBuffer(), chunks)))
    if starlette_event is not None:
        json_event = starlette_event.JSONServerSentEvent
        w.contenders.append(Contender(SSE_STARLETTE, PEER, lambda: b"".join([json_event(c).encode() for c in chunks])))
    if fastapi is not None:
        fmt, jsonable = fastapi
        w.contenders.append(
            Contender("fastapi", PEER, lambda: b"".join([fmt(data_str=json.dumps(jsonable(c))) for c in chunks]))
        )
    dumps = json.dumps
    w.contenders.append(
        Contender("f-string", PEER, lambda: "".join([f"data: {dumps(c)}\n\n" for c in chunks]).encode())
    )
    w.contenders.append(
        Contender("orjson.dumps", FLOOR, partial(_dump_all, chunks), lambda: [orjson.dumps(c) for c in chunks])
    )
    return w


def _fill(buf: Any, chunks: list[Any]) -> bytes:
    add = buf.add_json
    for c in chunks:
        add(c)
    frames: bytes = buf.take()
    return frames


def _dump_all(chunks: list[Any]) -> None:
    # Nothing kept: holding 1,000 fresh bytes objects alive costs more than the encoding itself.
    dumps = orjson.dumps
    for c in chunks:
        dumps(c)


def workloads() -> list[Workload]:
    """Every workload, with the contenders installed here."""
    line = "x" * 63
    return [
        _json_workload("small json", 'a small dict, {"content": "hello"}', {"content": "hello"}),
        _json_workload("chat chunk", "an OpenAI-style chat.completion.chunk, ~240 B of JSON", chat_chunk(" world")),
        _text_workload("4 KiB / 64 lines", "4 KiB of text in 64 lines", "\n".join([line] * 64) + "x"),
        _text_workload("64 KiB line", "64 KiB of text on one line", "y" * 65536),
        _burst_workload(1000),
    ]


# ---- targets (ratios from one run) ------------------------------------------------------------------


@dataclass
class Target:
    """A ratio the issue asks for: ``slow / fast`` of two contenders must be ``<= limit`` or ``>= limit``."""

    workload: str
    text: str
    numerator: str
    denominator: str
    at_most: float | None = None
    at_least: float | None = None


TARGETS = [
    Target("chat chunk", "compiled encode_json within 1.25x of orjson.dumps", "sse_fast c", "orjson.dumps",
           at_most=1.25),
    Target("chat chunk", "compiled >= 15x faster than sse-starlette JSONServerSentEvent", SSE_STARLETTE,
           "sse_fast c", at_least=15),
    Target("4 KiB / 64 lines", "compiled >= 20x faster than sse-starlette", SSE_STARLETTE, "sse_fast c",
           at_least=20),
    Target("4 KiB / 64 lines", "compiled within 3x of a bytes copy", "sse_fast c", "bytes copy", at_most=3),
    Target("4 KiB / 64 lines", "compiled, bytes given, within 3x of a bytes copy", "sse_fast c bytes",
           "bytes copy", at_most=3),
    Target("64 KiB line", "compiled within 3x of a bytes copy", "sse_fast c", "bytes copy", at_most=3),
] + [
    Target(w, "pure-Python twin >= 3x faster than sse-starlette", SSE_STARLETTE, "sse_fast python", at_least=3)
    for w in ("small json", "chat chunk", "4 KiB / 64 lines", "64 KiB line", "burst 1000")
]  # fmt: skip


def target_lines(times: dict[str, dict[str, float]]) -> list[str]:
    """One line per target: the measured ratio and whether it is met. ``times[workload][contender]``."""
    out = []
    for t in TARGETS:
        row = times.get(t.workload, {})
        if t.numerator not in row or t.denominator not in row:
            out.append(f"  n/a    {t.workload}: {t.text} (not measured here)")
            continue
        ratio = row[t.numerator] / row[t.denominator]
        ok = ratio <= t.at_most if t.at_most is not None else ratio >= (t.at_least or 0)
        bound = f"<= {t.at_most}" if t.at_most is not None else f">= {t.at_least}"
        out.append(f"  {'MET ' if ok else 'MISS'}   {t.workload}: {t.text}: {ratio:.2f}x (want {bound})")
    return out


# ---- the table ----------------------------------------------------------------------------------------


def table(workload: Workload, seconds: dict[str, float], sizes: dict[str, int]) -> list[str]:
    """The workload's rows: ns/event, MB/s (of the bytes each produced), x floor, and speed-up over each peer.

    ``seconds[name]`` is the time of one ``run()``; ``sizes[name]`` the bytes it produced.
    """
    floor = next((c.name for c in workload.contenders if c.role == FLOOR and c.name in seconds), None)
    peers = [c.name for c in workload.contenders if c.role == PEER and c.name in seconds]
    head = f"{'contender':<16}{'ns/event':>11}{'MB/s':>9}{'x floor':>9}" + "".join(f"{'vs ' + p:>18}" for p in peers)
    lines = [f"{workload.name}: {workload.about} ({workload.events:,} event(s) per call)", head]
    for c in workload.contenders:
        if c.name not in seconds:
            continue
        s = seconds[c.name]
        ns = s * 1e9 / workload.events
        mbs = sizes[c.name] / s / 1e6
        xfloor = f"{s / seconds[floor]:.2f}" if floor else "-"
        row = f"{c.name:<16}{ns:>11,.0f}{mbs:>9,.0f}{xfloor:>9}"
        for p in peers:
            row += f"{seconds[p] / s:>17.2f}x" if c.role == OURS else f"{'':>18}"
        lines.append(row)
    if workload.missing:
        lines.append(f"  (not installed, left out: {', '.join(workload.missing)}; {install_hint('bench')})")
    return lines


# ---- the quick run (python -m sse_fast bench) ---------------------------------------------------------


def _per_call(run: Callable[[], Any], budget: float) -> tuple[int, float]:
    """How many calls fill ``budget`` seconds (at least 1), after a warm-up."""
    run()
    n, start = 0, time.perf_counter()
    while True:
        run()
        n += 1
        spent = time.perf_counter() - start
        if spent >= budget / 4:
            return max(1, int(n * budget / spent)), spent / n


def measure(workload: Workload, repeats: int = 7, budget: float = 0.02) -> dict[str, float]:
    """Seconds per ``run()`` of each contender: the best of ``repeats`` rounds, contenders interleaved."""
    counts = {c.name: _per_call(c.run, budget)[0] for c in workload.contenders}
    best = {c.name: float("inf") for c in workload.contenders}
    for _ in range(repeats):
        for c in workload.contenders:
            run, n = c.run, counts[c.name]
            start = time.perf_counter()
            for _ in range(n):
                run()
            best[c.name] = min(best[c.name], (time.perf_counter() - start) / n)
    return best


def quick(repeats: int = 7, budget: float = 0.02, echo: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """Check and time every workload, print the tables and the targets; return the times."""
    import platform
    import sys

    import sse_fast

    echo(f"sse_fast {sse_fast.__version__} (selected encoder: {sse_fast.IMPLEMENTATION}), "
         f"Python {sys.version.split()[0]}, orjson {orjson.__version__}, {platform.machine()}")  # fmt: skip
    echo(f"best of {repeats} rounds of ~{budget * 1000:.0f} ms per contender; ratios are from this run\n")
    times: dict[str, dict[str, float]] = {}
    for w in workloads():
        sizes = {c.name: w.check(c) for c in w.contenders}
        times[w.name] = measure(w, repeats, budget)
        for line in table(w, times[w.name], sizes):
            echo(line)
        echo("")
    echo("targets:")
    for line in target_lines(times):
        echo(line)
    return times

"""Every ```python block in README.md and docs/*.md runs, so an example cannot silently break.

The line just above a block may say how to run it, as an HTML comment (invisible on GitHub and in the docs):

    <!-- example: asgi app /events -->     serve the module's ``app`` with uvicorn, read /events with httpx
    <!-- example: wsgi app /events -->     the same with waitress
    <!-- example: aiohttp app /events -->  the same with aiohttp's web.run_app
    <!-- example: main /events -->         run the file (its port 8000 becomes a free one), read /events
    <!-- example: pytest -->               run the file with pytest
    <!-- example: module NAME -->          save it as NAME.py for the page's later blocks, and import it
    <!-- example: skip WHY -->             not runnable on its own (a fragment); keep this list short

Several runs of one block are separated by `` | ``: ``<!-- example: wsgi wsgi /events | asgi asgi /events -->``.

A block with no such line runs as a script and must exit 0. A served stream must answer 200 with
``text/event-stream`` and at least one event, read with sse_fast's parser until it ends or 3 events came
(only the status and headers when the comment ends with ``headers``: a broker room with nothing published).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, NamedTuple

import pytest
from ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARK = re.compile(r"^<!-- example: (\w.*?) -->$")

if not (ROOT / "docs").is_dir():  # a copy of tests/ run against a wheel: the pages are not beside it
    pytest.skip("README.md and docs/ are not beside tests/ (a suite copied to test a wheel)", allow_module_level=True)


class Block(NamedTuple):
    page: Path
    line: int
    kind: str
    args: List[str]
    code: str
    run: int = 0  # which of the block's runs (its comment may give several)


def blocks(page: Path) -> List[Block]:
    found: List[Block] = []
    lines = page.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i
            end = lines.index("```", i + 1)
            mark = MARK.match(lines[i - 1].strip()) if i else None
            runs = [part.split() for part in mark.group(1).split(" | ")] if mark else [["run"]]
            code = "\n".join(lines[start + 1 : end]) + "\n"
            found += [Block(page, start + 1, kind, args, code, n) for n, (kind, *args) in enumerate(runs)]
            i = end
        i += 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
KINDS = {"asgi", "wsgi", "aiohttp", "main", "pytest", "module", "skip", "run"}




def run(args: List[str], cwd: Path, timeout: float = 120) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def read_stream(port: int, path: str, proc: subprocess.Popen, headers_only: bool) -> None:
    import httpx

    from sse_fast.parse import EventParser

    deadline = time.monotonic() + 30
    while True:  # until the server listens
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the server did not listen within 30 s"
            time.sleep(0.1)
    parser, events = EventParser(), []
    # a WSGI server sends the headers with the first body bytes: for an idle room, its first heartbeat (15 s)
    with httpx.stream("GET", f"http://127.0.0.1:{port}{path}", timeout=20 if headers_only else 10) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream"), response.headers
        if headers_only:
            return
        for chunk in response.iter_raw():
            events += parser.feed(chunk)
            if len(events) >= 3:
                break
    assert events, f"{path} sent no event"


def serve(block: Block, cwd: Path, module: str) -> None:
    port = free_port()
    attr, path = (block.args + ["/"])[:2] if block.kind != "main" else ("", (block.args + ["/"])[0])
    command = {
        "asgi": [sys.executable, "-m", "uvicorn", f"{module}:{attr}", "--port", str(port), "--log-level", "warning"],
        "wsgi": [sys.executable, "-c", f"import waitress, {module}; waitress.serve({module}.{attr}, port={port})"],
        "aiohttp": [
            sys.executable,
            "-c",
            f"from aiohttp import web; import {module}; web.run_app({module}.{attr}, host='127.0.0.1', port={port})",
        ],
        "main": [sys.executable, f"{module}.py"],
    }[block.kind]
    if block.kind == "main":
        (cwd / f"{module}.py").write_text(block.code.replace("8000", str(port)), encoding="utf-8")
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        read_stream(port, path, proc, headers_only=block.args[-1:] == ["headers"])
    except BaseException:
        proc.kill()
        print(proc.communicate(timeout=10)[0])
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.skipif(os.name != "posix", reason="the servers are stopped with SIGINT")
@pytest.mark.parametrize("block", ALL, ids=[f"{b.page.name}:{b.line}" + (f"-{b.run}" if b.run else "") for b in ALL])
def test_example_runs(block: Block, tmp_path: Path) -> None:
    assert block.kind in KINDS, f"unknown example kind {block.kind!r} above line {block.line}"
    if block.kind == "skip":
        assert block.args, f"a skipped example says why (line {block.line})"
        pytest.skip(" ".join(block.args))
    for earlier in blocks(block.page):  # the modules the page defined before this block
        if earlier.line < block.line and earlier.kind == "module":
            (tmp_path / f"{earlier.args[0]}.py").write_text(earlier.code, encoding="utf-8")
    module = f"example_{block.line}"
    (tmp_path / f"{module}.py").write_text(block.code, encoding="utf-8")
    if block.kind in ("asgi", "wsgi", "aiohttp", "main"):
        serve(block, tmp_path, module)
    elif block.kind == "pytest":
        run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{module}.py"], tmp_path)
    elif block.kind == "module":
        (tmp_path / f"{block.args[0]}.py").write_text(block.code, encoding="utf-8")
        run([sys.executable, "-c", f"import {block.args[0]}"], tmp_path)
    else:
        run([sys.executable, f"{module}.py"], tmp_path)


def test_the_pages_have_examples() -> None:
    # the extractor can fail: it finds the README's examples and runs most of them
    assert len([b for b in ALL if b.page.name == "README.md"]) >= 5
    assert len([b for b in ALL if b.kind == "skip"]) <= len(ALL) // 4, "too many examples are marked skip"

"""Every ```python block in README.md and docs/*.md runs, so an example cannot silently break.

The line just above a block may say how to run it, as an HTML comment (invisible on GitHub and in the docs):

    <!-- example: asgi app /events -->     serve the module's ``app`` with uvicorn, read /events with httpx
    <!-- example: wsgi app /events -->     the same with waitress
    <!-- example: aiohttp app /events -->  the same with aiohttp's web.run_app
    <!-- example: main /events -->         run the file (its port 8000 becomes a free one), read /events
    <!-- example: pytest -->               run the file with pytest
    <!-- example: module NAME -->          save it as NAME.py for the page's later blocks, and import it
    <!-- example: command FILE -->         save it as FILE and run, as written, each server command line the
                                           page gives for it, then read the page's nearest curl above it
    <!-- example: skip WHY -->             not runnable on its own (a fragment); keep this list short

A ``command`` block's server command lines are the backticked spans that start with a server (``uvicorn``,
``waitress-serve``, ``python``, ``flask`` ...) in the heading above it and in its leading comment lines; each
is read with the backticked ``curl ...`` that follows it there, else with the nearest curl above the block
(backticked, or a ``$ curl`` line). Each command runs in a temporary folder holding FILE, in a network
namespace of its own (``unshare -rn``), so its port stays as written: the curl must reach the port the
command really listens on. Where there is no ``unshare``, these blocks are skipped, saying so.

Several runs of one block are separated by `` | ``: ``<!-- example: wsgi wsgi /events | asgi asgi /events -->``.

A block with no such line runs as a script and must exit 0. A served stream must answer 200 with
``text/event-stream`` and at least one event, read with sse_fast's parser until it ends or 3 events came
(only the status and headers when the comment ends with ``headers``: a broker room with nothing published).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest
from support.doc_command import read_stream, run_as_written
from support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
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
KINDS = {"asgi", "wsgi", "aiohttp", "main", "pytest", "module", "command", "skip", "run"}
SERVERS = ("uvicorn ", "waitress-serve ", "python ", "flask ", "gunicorn ", "granian ", "hypercorn ")
SPAN = re.compile(r"`([^`]+)`")
CURL = re.compile(r"`(curl [^`]+)`|^\$ (curl .+)$")


def commands(block: Block) -> List[Tuple[str, Optional[str]]]:
    """The server command lines the page gives for ``block``, each with the curl that follows it there or
    else the nearest curl above the block."""
    heading, curl, fenced = "", None, False
    for line in block.page.read_text(encoding="utf-8").split("\n")[: block.line - 1]:
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            heading = line
        for found in CURL.finditer(line):
            curl = found.group(1) or found.group(2)
    comments = "\n".join(itertools.takewhile(lambda line: line.startswith("#"), block.code.split("\n")))
    pairs: Dict[str, Optional[str]] = {}
    server = None
    for span in SPAN.findall(heading) + SPAN.findall(comments):
        if span.startswith(SERVERS):
            server = span
            pairs.setdefault(server, None)
        elif span.startswith("curl ") and server is not None and pairs[server] is None:
            pairs[server] = span
    return [(server, paired or curl) for server, paired in pairs.items()]


def run_commands(block: Block, cwd: Path) -> None:
    pairs = commands(block)
    assert pairs, f"no server command line for the block at line {block.line}"
    (cwd / block.args[0]).write_text(block.code, encoding="utf-8")
    for line, curl in pairs:
        assert curl, f"no curl for {line!r} above the block at line {block.line}"
        run_as_written(str(cwd), line, curl, headers_only=block.args[-1:] == ["headers"])


def run(args: List[str], cwd: Path, timeout: float = 120) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


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
    # the with closes the output pipe once the server has stopped
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            read_stream(f"http://127.0.0.1:{port}{path}", proc, headers_only=block.args[-1:] == ["headers"])
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
    if block.kind == "command":
        run_commands(block, tmp_path)
    elif block.kind in ("asgi", "wsgi", "aiohttp", "main"):
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


PYPI_INSTALL = re.compile(r"pip install \"?sse-fast\b")


def test_pypi_installs_are_marked_for_after_the_release() -> None:
    # sse_fast is not on PyPI yet: every `pip install sse-fast` says, on its line or the few before, that
    # it is for after the first release; the install that works comes first
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(lines):
            if PYPI_INSTALL.search(line):
                near = " ".join(lines[max(0, i - 6) : i + 1])
                assert "first release" in near, f"{page.name}:{i + 1} offers PyPI without saying it is not there yet"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"^pip install .*", readme, re.MULTILINE)
    assert installs and not PYPI_INSTALL.match(installs[0]), f"the README's first install is {installs[:1]}"


def test_the_readme_wheel_install_runs_as_written(tmp_path: Path) -> None:
    # the install the README offers until the first release: the workflow's wheels, from their folder
    import sse_fast

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^(pip install --find-links \. sse-fast)\s", readme, re.MULTILINE)
    assert found, "the README shows no install from the workflow's wheels"
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    env = {**os.environ, "SSE_FAST_NO_EXTENSIONS": "1"}  # the pure wheel: quick to build, installed the same way
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = pip + ["wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)]
    built = subprocess.run(build, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    command = found.group(1).split()
    run([str(venv / "bin" / command[0]), "--disable-pip-version-check", *command[1:]], wheels, timeout=300)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "sse_fast", "--version"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.startswith(f"sse_fast {sse_fast.__version__} "), done.stdout + done.stderr


@pytest.mark.parametrize("name", ["README.md", "docs/getting-started.md", "docs/index.md"])
def test_the_checkout_install_is_editable(name: str) -> None:
    # the pages go on inside the checkout, where `import sse_fast` finds the source folder first: after a plain
    # `pip install .` (the core built into site-packages) everything there silently ran on the pure-Python twin
    text = (ROOT / name).read_text(encoding="utf-8")
    block = text[text.index("git clone https://github.com/sse-fast/sse_fast && cd sse_fast") :].split("```")[0]
    installs = re.findall(r"pip install (\S+)", block)
    assert installs and all(arg == "-e" for arg in installs), f"{name}: {installs}"

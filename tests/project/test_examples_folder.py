"""examples/: each app runs as its docstring says (the server command line and every curl, as written, in a
network namespace of its own), and does what it says, read in-process with ``sse_fast.testing``."""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from support.doc_command import run_as_written

from sse_fast.testing import aread_events, read_events

FOLDER = Path(__file__).resolve().parents[2] / "examples"
if not FOLDER.is_dir():  # a copy of tests/ run against a wheel: examples/ is not beside it
    pytest.skip("examples/ is not beside tests/ (a suite copied to test a wheel)", allow_module_level=True)

EXAMPLES = sorted(FOLDER.glob("*.py"))
SPAN = re.compile(r"`([^`]+)`")


def spans(example: Path) -> List[str]:
    docstring = ast.get_docstring(ast.parse(example.read_text(encoding="utf-8"))) or ""
    return SPAN.findall(docstring.replace("``", "\x00"))  # (double backticks are prose, not commands)


@pytest.fixture
def examples() -> Iterator[Any]:
    """Imports an example as its own module (from examples/, as its command line does)."""
    sys.path.insert(0, str(FOLDER))
    try:
        yield __import__
    finally:
        sys.path.remove(str(FOLDER))


def test_there_are_examples_and_the_readme_lists_each() -> None:
    listed = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert len(EXAMPLES) >= 3
    assert all(f"`{example.name}`" in listed for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_runs_as_written(example: Path) -> None:
    found = spans(example)
    servers = [s for s in found if s.startswith(("uvicorn ", "waitress-serve ", "python ", "granian "))]
    curls = [s for s in found if s.startswith("curl ")]
    assert len(servers) == 1 and curls, f"{example.name}'s docstring says how to run it and what to curl"
    for curl in curls:
        run_as_written(str(FOLDER), servers[0], curl)


def test_llm_chat_resumes_after_the_last_token(examples: Any) -> None:
    app = examples("llm_chat").app
    whole = read_events(app, "/chat?q=hi", until=lambda e: e.data == "[DONE]")
    assert [e.id for e in whole[:-1]] == [str(i) for i in range(len(whole) - 1)]
    rest = read_events(app, "/chat?q=hi", until=lambda e: e.data == "[DONE]", headers={"Last-Event-ID": "3"})
    assert [e.json() for e in rest[:-1]] == [e.json() for e in whole[4:-1]]


def test_flask_progress_counts_to_done(examples: Any) -> None:
    events = read_events(examples("flask_progress").app, "/jobs/7/progress", until=lambda e: e.event == "done")
    assert [e.json()["percent"] for e in events[:-1]] == list(range(10, 101, 10))
    assert events[-1].json() == {"job": 7, "result": "/jobs/7/result"}


def test_broker_prices_replays_what_a_client_missed(examples: Any) -> None:
    module = examples("broker_prices")

    async def read() -> List[List[Any]]:
        publisher = asyncio.create_task(module.publish_prices())  # what the app's lifespan starts
        try:
            first = await aread_events(module.app, "/prices/ACME", n=2)
            missed = await aread_events(module.app, "/prices/ACME", n=3, headers={"Last-Event-ID": first[0].id})
        finally:
            publisher.cancel()
        return [first, missed]

    first, missed = asyncio.run(read())
    assert (missed[0].id, missed[0].data) == (first[1].id, first[1].data)
    assert all(e.json()["symbol"] == "ACME" for e in first + missed)

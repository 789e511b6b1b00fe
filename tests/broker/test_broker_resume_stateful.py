"""Hypothesis drives random publish / read / disconnect / reconnect interleavings against a real uvicorn
server: across all its connections, the client gets every event exactly once, in publish order."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, Iterator, List, Optional, Tuple

import httpx
import pytest
from httpx_sse import connect_sse
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.broker_apps import asgi_app
from support.servers import uvicorn_server, wait_until

import sse_fast

BROKER = sse_fast.Broker()
TOPICS = (f"t{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with uvicorn_server(asgi_app(BROKER)) as server:
        yield server.url


class Resume(RuleBasedStateMachine):
    url = ""

    def __init__(self) -> None:
        super().__init__()
        self.topic = next(TOPICS)
        self.published: List[Tuple[str, str]] = []
        self.received: List[Tuple[str, str]] = []
        self.start = BROKER.log.head()  # resuming from here serves everything published later
        self.stack: Optional[contextlib.ExitStack] = None
        self.events: Any = None
        self.connect()

    def connect(self) -> None:
        last = self.received[-1][0] if self.received else self.start
        self.stack = contextlib.ExitStack()
        client = self.stack.enter_context(httpx.Client(timeout=10))
        source = self.stack.enter_context(
            connect_sse(client, "GET", f"{self.url}/?topic={self.topic}", headers={"Last-Event-ID": last})
        )
        self.events = source.iter_sse()
        wait_until(lambda: BROKER.stats()["subscribers"] == 1)  # one connection at a time in this test

    @rule(texts=st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=8), min_size=1, max_size=4))
    def publish(self, texts: List[str]) -> None:
        for text in texts:
            self.published.append((BROKER.publish_sync(self.topic, text), text))

    @precondition(lambda self: self.stack is not None)
    @rule(count=st.integers(0, 6))
    def read(self, count: int) -> None:
        """Read up to ``count`` of the events published so far."""
        for _ in range(min(count, len(self.published) - len(self.received))):
            sse = next(self.events)
            self.received.append((sse.id, sse.data))

    @precondition(lambda self: self.stack is not None)
    @rule()
    def disconnect(self) -> None:
        assert self.stack is not None
        self.stack.close()
        self.stack = self.events = None
        wait_until(lambda: BROKER.stats()["subscribers"] == 0)

    @precondition(lambda self: self.stack is None)
    @rule()
    def reconnect(self) -> None:
        self.connect()

    @invariant()
    def no_gap_no_duplicate(self) -> None:
        expected = [(id, _wire(text)) for id, text in self.published]
        assert self.received == expected[: len(self.received)]

    def teardown(self) -> None:
        if self.stack is None:
            self.connect()
        self.read(len(self.published))
        self.no_gap_no_duplicate()
        assert len(self.received) == len(self.published)
        self.disconnect()


def _wire(text: str) -> str:
    """What an SSE client reads back for raw text: lines split on CR, LF and CRLF, joined with LF."""
    return "\n".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def test_resume_has_no_gap_and_no_duplicate(server_url: str) -> None:
    Resume.url = server_url
    runner = Resume.TestCase()
    runner.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
    runner.runTest()
    wait_until(lambda: BROKER.stats()["subscribers"] == 0)

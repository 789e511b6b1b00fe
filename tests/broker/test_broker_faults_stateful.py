"""Hypothesis interleaves publishes, reads, disconnects, reconnects (with the client's own id or a bad one),
history overflows and, on Redis, XTRIM and FLUSHALL, against a real uvicorn server on each engine; the
fault checker then finds, across all of a client's connections, no silent gap, duplicate or reorder: every
gap is filled or marked by a reset frame."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from typing import Any, Iterator, List, Optional, Tuple

import httpx
import pytest
from httpx_sse import connect_sse
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule
from support.broker_apps import asgi_app
from support.fault_checker import Frame, Published, Recorder, check, memory_key, redis_key, violations_text
from support.redis_server import RedisServer, missing_reason, redis_server
from support.servers import uvicorn_server, wait_until

import sse_fast

pytestmark = pytest.mark.faults
HISTORY = 8
TOPICS = (f"s{n}" for n in itertools.count())
BAD_IDS = [b"\xff\xfe", "\u0661\u0667-\u0660".encode(), "1-\u00b2".encode(), b"0-0", b"x" * 1100, b"nope"]


class Faults(RuleBasedStateMachine):
    """One client of one topic; ``segments`` are its lives (a new one starts when it sends a bad id)."""

    url = ""
    broker: Any = None
    redis: Optional[RedisServer] = None

    def __init__(self) -> None:
        super().__init__()
        self.topic = next(TOPICS)
        self.truth: List[Published] = []
        self.segments: List[Recorder] = []
        self.stack: Optional[contextlib.ExitStack] = None
        self.events: Any = None
        self.connections = 0
        self.open(self.publish_one("start"))

    # -- the client -------------------------------------------------------------------------------

    def open(self, last_id: Any, new_segment: bool = True) -> None:
        if new_segment:
            self.segments.append(Recorder(self.url, initial=last_id, name=f"life {len(self.segments)}"))
        self.stack = contextlib.ExitStack()
        client = self.stack.enter_context(httpx.Client(timeout=10))
        source = self.stack.enter_context(
            connect_sse(client, "GET", f"{self.url}/?topic={self.topic}", headers={"Last-Event-ID": last_id})
        )
        assert source.response.status_code == 200
        self.events = source.iter_sse()
        self.connections += 1
        wait_until(lambda: self.broker.stats()["subscribers"] == 1)

    def last_id(self) -> Any:
        life = self.segments[-1]
        return life.frames[-1].id if life.frames else life.initial

    def publish_one(self, data: str) -> str:
        id = self.broker.publish_sync(self.topic, data)
        self.truth.append(Published(id, self.topic, data))
        return id

    # -- rules ------------------------------------------------------------------------------------

    @rule(count=st.integers(1, 5))
    def publish(self, count: int) -> None:
        for _ in range(count):
            self.publish_one(f"e{len(self.truth)}")

    @precondition(lambda self: self.stack is not None)
    @rule()
    def read_up_to_now(self) -> None:
        """Publish a marker and read every frame up to it."""
        marker = self.publish_one("marker")
        life = self.segments[-1]
        for sse in self.events:
            life.frames.append(Frame(self.connections, sse.id or None, sse.event, sse.data))
            if sse.id == marker:
                return

    @precondition(lambda self: self.stack is not None)
    @rule()
    def disconnect(self) -> None:
        assert self.stack is not None
        self.stack.close()
        self.stack = self.events = None
        wait_until(lambda: self.broker.stats()["subscribers"] == 0)

    @precondition(lambda self: self.stack is None)
    @rule()
    def reconnect(self) -> None:
        self.open(self.last_id(), new_segment=False)

    @precondition(lambda self: self.stack is None)
    @rule(bad=st.sampled_from(BAD_IDS))
    def reconnect_with_a_bad_id(self, bad: bytes) -> None:
        self.open(bad)

    @rule()
    def overflow_the_history(self) -> None:
        """More events than the history holds (on Redis, trimmed exactly after them)."""
        for n in range(HISTORY + 2):
            self.publish_one(f"o{n}")
        self.xtrim(HISTORY)

    @precondition(lambda self: self.redis is not None)
    @rule(keep=st.integers(0, 3))
    def xtrim(self, keep: int) -> None:
        if self.redis is not None:
            with admin(self.redis) as r:
                r.xtrim(f"sse_fast:t:{self.topic}", maxlen=keep, approximate=False)

    @precondition(lambda self: self.redis is not None)
    @rule()
    def flushall(self) -> None:
        assert self.redis is not None
        with admin(self.redis) as r:
            r.flushall()

    @precondition(lambda self: self.redis is not None)
    @rule(flush=st.booleans())
    def cut_the_reader_then_lose_what_it_had_not_read(self, flush: bool) -> None:
        """Kill this process's reader connection; while it backs off, publish, then trim the topic to
        nothing (or FLUSHALL), then publish again: its live subscribers must get a reset at the gap."""
        assert self.redis is not None
        reader = f"sse_fast:{os.getpid()}:reader"
        with admin(self.redis) as r:
            for client in r.client_list():
                if client.get("name") == reader:
                    r.client_kill_filter(_id=client["id"])
            self.publish(3)
            if flush:
                r.flushall()
            else:
                r.xtrim(f"sse_fast:t:{self.topic}", maxlen=0, approximate=False)
            self.publish(2)

    def teardown(self) -> None:
        if self.stack is None:
            self.open(self.last_id(), new_segment=False)
        self.read_up_to_now()
        self.disconnect()
        key = redis_key if self.redis is not None else memory_key(self.broker.log.boot)
        *earlier, last = self.segments
        violations = check(self.truth, last, key, self.topic)
        for life in earlier:  # a life that ended owes events only up to the last frame it read
            if life.frames:
                violations += check(self.truth, life, key, self.topic, sentinel=life.frames[-1].id)
        assert not violations, violations_text(violations)


@contextlib.contextmanager
def admin(server: RedisServer) -> Iterator[Any]:
    import redis as redis_py

    with redis_py.Redis.from_url(server.url) as client:
        yield client


@pytest.fixture(params=["memory", "redis"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Tuple[Any, Optional[RedisServer]]]:
    if request.param == "memory":
        broker = sse_fast.Broker(history=HISTORY)
        yield broker, None
        asyncio.run(broker.close())
        return
    if missing_reason() is not None:
        pytest.skip(str(missing_reason()))
    with redis_server(str(tmp_path / "redis")) as server:
        broker = sse_fast.Broker(server.url, history=HISTORY, timeout=2.0, max_backoff=0.2)
        try:
            yield broker, server
        finally:
            asyncio.run(broker.close())  # ends the log's thread and its connections


def test_every_gap_is_filled_or_marked_whatever_the_interleaving(engine: Tuple[Any, Optional[RedisServer]]) -> None:
    broker, server = engine
    with uvicorn_server(asgi_app(broker)) as running:
        Faults.url, Faults.broker, Faults.redis = running.url, broker, server
        runner = Faults.TestCase()
        examples = 400 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 20  # the long run: thorough
        runner.settings = settings(max_examples=examples, stateful_step_count=12, deadline=None)
        runner.runTest()

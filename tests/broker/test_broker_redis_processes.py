"""Two uvicorn processes on one real redis-server: a publish in either reaches the clients of both, and
a client cut from one process resumes on the other with its ``Last-Event-ID``, missing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List

import httpx
import pytest
from support.broker_apps import read_events
from support.broker_clients import in_thread, run_clients
from support.ports import free_port
from support.redis_server import missing_reason, redis_server
from support.servers import wait_until

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
TESTS = Path(__file__).resolve().parents[1]


class Worker:
    """``uvicorn support.redis_app:app`` as its own process."""

    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SSE_FAST_REDIS=redis_url, PYTHONPATH=str(TESTS))
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "support.redis_app:app",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(command, env=env, cwd=TESTS)
        wait_until(self.up, timeout=30)

    def up(self) -> bool:
        try:
            return httpx.get(self.url + "/stats", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> Any:
        return httpx.get(self.url + "/stats", timeout=5).json()

    def publish(self, data: str, topic: str = "room") -> str:
        return httpx.post(self.url + "/publish", params={"topic": topic, "data": data}, timeout=5).text

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def workers(tmp_path: Any) -> Iterator[List[Worker]]:
    with redis_server(str(tmp_path / "redis")) as redis:
        started = [Worker(redis.url), Worker(redis.url)]
        try:
            yield started
        finally:
            for worker in started:
                worker.stop()


def wait_subscribers(worker: Worker, n: int) -> None:
    wait_until(lambda: worker.stats()["subscribers"] == n, timeout=10)


def test_a_publish_in_either_process_reaches_the_clients_of_both(workers: List[Worker]) -> None:
    a, b = workers
    assert a.stats()["pid"] != b.stats()["pid"]
    clients = in_thread(lambda: run_clients(read_events(a.url, 4), read_events(b.url, 4)))
    wait_subscribers(a, 1)
    wait_subscribers(b, 1)
    ids = [a.publish("from a 0"), b.publish("from b 0"), a.publish("from a 1"), b.publish("from b 1")]
    got_a, got_b = clients.join()
    expected = [(i, "message", d) for i, d in zip(ids, ["from a 0", "from b 0", "from a 1", "from b 1"])]
    assert got_a == got_b == expected


def test_a_client_cut_from_one_process_resumes_on_the_other_with_exactly_what_it_missed(workers: List[Worker]) -> None:
    a, b = workers
    first = in_thread(lambda: run_clients(read_events(a.url, 2)))
    wait_subscribers(a, 1)
    seen = [a.publish(f"e{i}") for i in range(2)]
    (got,) = first.join()  # the client leaves A after two events
    assert [i for i, _, _ in got] == seen
    wait_subscribers(a, 0)
    missed = [a.publish(f"e{i}") for i in range(2, 5)] + [b.publish("e5")]
    resumed = in_thread(lambda: run_clients(read_events(b.url, 5, last_id=got[-1][0])))
    wait_subscribers(b, 1)
    live = a.publish("e6")
    (again,) = resumed.join()
    assert again == [(i, "message", f"e{n}") for n, i in enumerate(missed + [live], start=2)]

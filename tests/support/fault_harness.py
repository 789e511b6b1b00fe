"""Processes for the fault-injection tests: ``uvicorn support.fault_app:app`` workers (stoppable, killable) on one
real redis-server or in-process, the acknowledged publishes (the checker's truth), and the final check."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import httpx

from support.fault_checker import KeyFn, Published, Recorder, check, violations_text
from support.ports import HOST, free_port
from support.redis_server import RedisServer, redis_server
from support.servers import wait_until

TESTS = Path(__file__).resolve().parents[1]


class Worker:
    """One ``uvicorn support.fault_app:app`` process; ``pause``/``resume`` are SIGSTOP/SIGCONT, ``kill`` is kill -9."""

    def __init__(self, env: Dict[str, str], log: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log
        path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
        full = dict(os.environ, PYTHONPATH=path, **env)
        command = [sys.executable, "-m", "uvicorn", "support.fault_app:app", "--port", str(self.port)]
        command += ["--log-level", "warning", "--no-access-log", "--lifespan", "off"]
        with open(log, "ab") as out:  # the worker's stderr: uvicorn's error log and any traceback
            self.proc = subprocess.Popen(command, env=full, cwd=TESTS, stdout=out, stderr=subprocess.STDOUT)
        self.http = httpx.Client(timeout=10)

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker on port {self.port} exited with {self.proc.returncode}")
        try:
            return self.http.get(self.url + "/stats", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        """What the worker wrote to stderr so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def tracebacks(self) -> str:
        """The end of the first traceback in the worker's log (where it raised, and what), or ''."""
        text = self.log()
        at = text.find("Traceback")
        if at < 0:
            return ""
        end = text.find("\nERROR:", at)
        return "..." + text[at : end if end > 0 else len(text)][-600:]

    def events_url(self, *topics: str) -> str:
        return self.url + "/events?" + "&".join(f"topic={t}" for t in topics)

    def stats(self) -> Dict[str, Any]:
        return dict(self.http.get(self.url + "/stats").json())

    def publish(self, topic: str, data: str, id: Optional[str] = None) -> httpx.Response:
        params = {"topic": topic, "data": data, **({"id": id} if id is not None else {})}
        return self.http.post(self.url + "/publish", params=params)

    def burst(self, topic: str, n: int, pad: int = 0, threads: int = 0) -> List[str]:
        params = {"topic": topic, "n": str(n), "pad": str(pad), "threads": str(threads)}
        response = self.http.post(self.url + "/burst", params=params, timeout=60)
        assert response.status_code == 200, f"burst failed: {response.status_code} {response.text}"
        return list(response.json())

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.resume()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.http.close()


def pause_process(proc: "subprocess.Popen[Any]") -> None:
    proc.send_signal(signal.SIGSTOP)


def resume_process(proc: Optional["subprocess.Popen[Any]"]) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def workers(count: int, env: Dict[str, str], directory: str) -> Iterator[List[Worker]]:
    """``count`` workers started together (logs in ``directory``), each stopped (after a SIGCONT) at the end."""
    started: List[Worker] = []
    os.makedirs(directory, exist_ok=True)
    try:
        for n in range(count):
            started.append(Worker(env, os.path.join(directory, f"worker{n}.log")))
        for worker in started:
            wait_until(worker.up, timeout=60, interval=0.05)
        yield started
    finally:
        for worker in started:
            worker.stop()


@contextlib.contextmanager
def cluster(
    directory: str, history: int = 1000, persistence: bool = True, timeout: float = 1.0, count: int = 2
) -> Iterator[Tuple[RedisServer, List[Worker]]]:
    """A redis-server and ``count`` workers on it (Redis command timeout ``timeout``, backoff <= 0.2 s)."""
    with redis_server(directory, persistence=persistence) as redis:
        env = {
            "SSE_FAST_REDIS": redis.url,
            "SSE_FAST_HISTORY": str(history),
            "SSE_FAST_TIMEOUT": str(timeout),
            "SSE_FAST_MAX_BACKOFF": "0.2",
        }
        try:
            with workers(count, env, directory + "-workers") as started:
                yield redis, started
        finally:
            resume_process(redis.process)


class Truth:
    """The publishes acknowledged so far (thread-safe), in acknowledgment order."""

    def __init__(self) -> None:
        self.events: List[Published] = []
        self.failed: List[str] = []  # what the failed publishes answered
        self._lock = threading.Lock()

    def publish(self, worker: Worker, topic: str, data: str) -> Optional[str]:
        """Publish through ``worker``; the id when acknowledged, else None (the failure is kept)."""
        try:
            response = worker.publish(topic, data)
        except httpx.HTTPError as error:
            with self._lock:
                self.failed.append(f"{type(error).__name__}: {error}")
            return None
        with self._lock:
            if response.status_code != 200:
                self.failed.append(f"{response.status_code} {response.text}")
                return None
            self.events.append(Published(response.text, topic, data))
        return response.text

    def must_publish(self, worker: Worker, topic: str, data: str, timeout: float = 20) -> str:
        """Publish, retrying while the engine comes back (a guard against hangs only)."""
        id: List[str] = []

        def attempt() -> bool:
            got = self.publish(worker, topic, data)
            if got is not None:
                id.append(got)
                return True
            time.sleep(0.05)
            return False

        wait_until(attempt, timeout=timeout, interval=0.0)
        return id[0]

    def add(self, ids: Sequence[str], topic: str, data: Optional[str] = None) -> None:
        with self._lock:
            self.events += [Published(id, topic, data) for id in ids]


@contextlib.contextmanager
def publishing(truth: Truth, through: Sequence[Worker], topic: str, every: float = 0.003) -> Iterator[None]:
    """Publish ``topic`` events through ``through`` in turn, one every ``every`` seconds, in a thread, until
    the block ends (each publish acknowledged or failed goes into ``truth``)."""
    done = threading.Event()

    def run() -> None:
        n = 0
        while not done.is_set():
            truth.publish(through[n % len(through)], topic, f"live {n}")
            n += 1
            time.sleep(every)

    publisher = threading.Thread(target=run)
    publisher.start()
    try:
        yield
    finally:
        done.set()
        publisher.join(30)


def wait_subscribers(counts: Sequence[Tuple[Worker, int]], timeout: float = 30) -> None:
    """Each worker has its count of subscribers (the recorders are connected)."""
    wait_until(lambda: all(w.stats()["subscribers"] == n for w, n in counts), timeout=timeout, interval=0.05)


def settle(recorders: Sequence[Recorder], id: str, key: KeyFn, timeout: float = 20) -> bool:
    """Wait until every recorder got ``id`` or a frame after it; False after ``timeout`` (the check then
    says what is missing): a guard against hangs, not a measure."""
    target = key(id)
    deadline = time.monotonic() + timeout

    def done(recorder: Recorder) -> bool:
        for frame in reversed(recorder.frames):
            k = key(frame.id) if frame.id is not None else None
            if k is not None:
                return bool(k >= target)
        return False

    while time.monotonic() < deadline:
        if all(done(r) for r in recorders):
            return True
        time.sleep(0.02)
    return False


def verify(
    truth: Truth,
    recorders: Sequence[Recorder],
    key: KeyFn,
    topics: Any,
    sentinel: Optional[str] = None,
    unacknowledged_ok: bool = False,
    context: str = "",
    workers: Sequence[Worker] = (),
) -> None:
    """The checker finds no violation, or the test fails with its messages (and what ``workers`` say).
    A client without a Last-Event-ID is owed every event of its topics: each scenario connects them first."""
    followed = (topics,) if isinstance(topics, str) else tuple(topics)
    mine = sorted((e.id for e in truth.events if e.topic in followed), key=key)
    found = check(
        truth.events,
        recorders,
        key,
        topics,
        sentinel=sentinel,
        unacknowledged_ok=unacknowledged_ok,
        since=mine[0] if mine else None,
    )
    if found:
        text = (context + "\n" if context else "") + violations_text(found) + around(found[0], recorders, truth)
        raise AssertionError(text + "".join(worker_report(w) for w in workers))


def worker_report(worker: Worker) -> str:
    """A worker's stats (when it answers) and the end of its log, for a failure message."""
    try:
        stats: Any = worker.stats() if worker.proc.poll() is None else f"exited {worker.proc.returncode}"
    except httpx.HTTPError as error:
        stats = f"no answer ({type(error).__name__})"
    tail = "\n      ".join(worker.log().strip().splitlines()[-6:])
    return f"\nworker {worker.port}: {stats}\n      {tail}"


def around(violation: str, recorders: Sequence[Recorder], truth: Truth) -> str:
    """The frames of the first violation's recorder around it, each with its topic, for the message."""
    name = violation.split(" ", 1)[0]
    match = re.search(r"frame (\d+) on", violation)
    recorder = next((r for r in recorders if r.name == name), None)
    if recorder is None:
        return ""
    at = int(match.group(1)) if match else len(recorder.frames)
    topics = {e.id: e.topic for e in truth.events}
    lines = [
        f"  {'>' if i == at else ' '} {i}: conn {f.conn} {f.event} {f.id} ({topics.get(f.id or '', '?')})"
        for i, f in enumerate(recorder.frames)
        if at - 4 <= i <= at + 2
    ]
    resets = [f"{f.id} (frame {i})" for i, f in enumerate(recorder.frames) if f.event == "reset"]
    return f"\nframes of {name} around it (its resets: {resets or 'none'}):\n" + "\n".join(lines)


def summary(recorders: Sequence[Recorder]) -> str:
    """How the recorders' connections ended, counted: for assertion messages."""
    ends: Dict[str, int] = {}
    for recorder in recorders:
        for conn in recorder.connections:
            label = conn.end.split(":")[0] if not conn.end.startswith("status") else conn.end[:60]
            ends[label or "open"] = ends.get(label or "open", 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(ends.items()))

"""Prometheus metrics scraped over HTTP: one process, and a real 2-worker uvicorn in multiprocess mode."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Tuple

import httpx
import pytest
from support.ports import free_port
from support.servers import HOST, uvicorn_server, wait_until, waitress_server

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
Samples = Dict[Tuple[str, FrozenSet[Tuple[str, str]]], float]


def scrape(http: httpx.Client) -> Samples:
    """Every sample of a ``/metrics`` scrape, by name and labels."""
    response = http.get("/metrics/")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def shows(http: httpx.Client, **expected: float) -> bool:
    """True once a scrape shows each ``name`` (``name__label_value`` for one label) at its value."""
    samples = scrape(http)
    for key, want in expected.items():
        name, _, label = key.partition("__")
        labels = dict([label.split("_is_")]) if label else {}
        if value(samples, name, **labels) != want:
            return False
    return True


class Streams:
    """Streams of ``/events/{topic}`` held open; each remembers its worker's pid (its first event)."""

    def __init__(self, url: str, stack: contextlib.ExitStack) -> None:
        self.url = url
        self.stack = stack
        self.pids: List[int] = []
        self.open: List[Tuple[contextlib.ExitStack, Iterator[str]]] = []

    def add(self, topic: str = "news") -> int:
        own = contextlib.ExitStack()
        http = own.enter_context(httpx.Client(base_url=self.url, timeout=10))
        response = own.enter_context(http.stream("GET", f"/events/{topic}"))
        assert response.status_code == 200
        lines = response.iter_lines()
        pid = int(next_data(lines))
        self.stack.callback(own.close)
        self.pids.append(pid)
        self.open.append((own, lines))
        return pid

    def close(self, index: int) -> None:
        self.open[index][0].close()

    def read(self, index: int) -> str:
        return next_data(self.open[index][1])


def next_data(lines: Iterator[str]) -> str:
    for line in lines:
        if line.startswith("data: "):
            return line[6:]
    raise AssertionError("the stream ended")


def test_one_process_scrape_shows_streams_ends_broker_and_limit() -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        pytest.skip("this test is the single-process mode")
    from support import metrics_app

    with uvicorn_server(metrics_app.app) as server, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
        ends_before = value(scrape(http), "sse_fast_stream_ends_total", reason="client_disconnected")
        streams = Streams(server.url, stack)
        streams.add()
        streams.add()
        for _ in range(3):
            assert http.post("/publish/news").status_code == 200
        assert [streams.read(i) for i in (0, 1) for _ in range(3)] == ['{"n":1}'] * 6
        samples = scrape(http)
        assert value(samples, "sse_fast_open_streams", transport="asgi") == 2
        assert value(samples, "sse_fast_broker_subscribers") == 2
        assert value(samples, "sse_fast_broker_published_total") == 3
        assert value(samples, "sse_fast_broker_delivered_total") == 6
        assert value(samples, "sse_fast_broker_topics_by_subscribers", le="1") == 0
        assert value(samples, "sse_fast_broker_topics_by_subscribers", le="10") == 1
        assert value(samples, "sse_fast_limit_open") == 2
        assert value(samples, "sse_fast_broker_resets_total", cause="unknown") == 0
        streams.close(0)
        assert wait_until(
            lambda: shows(
                http,
                sse_fast_open_streams__transport_is_asgi=1,
                sse_fast_limit_open=1,
                sse_fast_stream_ends_total__reason_is_client_disconnected=ends_before + 1,
            )
        )


def test_the_wsgi_scrape_shows_wsgi_streams() -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        pytest.skip("this test is the single-process mode")
    import sse_fast
    import sse_fast.metrics

    def hold(writer: sse_fast.Writer) -> None:
        writer.write_raw_event("first")
        writer.context.wait_sync(10)

    stream, scrape_app = sse_fast.WSGIResponse(hold, heartbeat=None), sse_fast.metrics.wsgi_app()

    def app(environ: Dict[str, object], start_response: object) -> object:
        return (scrape_app if str(environ["PATH_INFO"]).startswith("/metrics") else stream)(environ, start_response)

    with waitress_server(app) as server, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
        before = value(scrape(http), "sse_fast_open_streams", transport="wsgi")
        response = stack.enter_context(http.stream("GET", "/events"))
        assert next(response.iter_lines()) == "data: first"
        assert value(scrape(http), "sse_fast_open_streams", transport="wsgi") == before + 1


@contextlib.contextmanager
def two_workers(folder: Path) -> Iterator[str]:
    """``uvicorn --workers 2`` serving ``metrics_app`` in prometheus-client's multiprocess mode."""
    shared = folder / "prometheus"
    shared.mkdir()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]), PROMETHEUS_MULTIPROC_DIR=str(shared))
    argv = [sys.executable, "-m", "uvicorn", "support.metrics_app:app", "--host", HOST, "--port", str(port),
            "--workers", "2", "--log-level", "warning"]  # fmt: skip
    log = folder / "uvicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: _answers(url, proc, log), timeout=30, interval=0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _answers(url: str, proc: "subprocess.Popen[bytes]", log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"uvicorn exited with {proc.returncode}: {log.read_text()[-2000:]}")
    try:
        return httpx.get(url + "/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_two_worker_server_scrape_sums_both_workers(tmp_path: Path) -> None:
    with two_workers(tmp_path) as url, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=url, timeout=10))
        streams = Streams(url, stack)
        for _ in range(60):  # new connections until both workers hold streams
            streams.add()
            if len(set(streams.pids)) == 2 and len(streams.pids) >= 4:
                break
        per_worker = Counter(streams.pids)
        assert len(per_worker) == 2, f"every stream went to one worker: {per_worker}"
        total = len(streams.pids)
        published: Counter[int] = Counter()
        for _ in range(4):
            published[int(http.post("/publish/news").text)] += 1
        delivered = sum(per_worker[pid] * n for pid, n in published.items())
        assert wait_until(
            lambda: shows(
                http,
                sse_fast_open_streams__transport_is_asgi=total,
                sse_fast_broker_subscribers=total,
                sse_fast_broker_topics=2,  # one topic in each worker
                sse_fast_limit_open=total,
                sse_fast_broker_published_total=4,
                sse_fast_broker_delivered_total=delivered,
                sse_fast_events_written_total=total + delivered,  # each stream's first event names its worker
            )
        )
        leaving = [i for i, pid in enumerate(streams.pids) if pid == streams.pids[0]]
        for i in leaving:
            streams.close(i)
        assert wait_until(
            lambda: shows(
                http,
                sse_fast_open_streams__transport_is_asgi=total - len(leaving),
                sse_fast_stream_ends_total__reason_is_client_disconnected=len(leaving),
                sse_fast_limit_open=total - len(leaving),
                sse_fast_limit_admitted_total=total,
            )
        )


def test_serving_a_stream_never_imports_prometheus_client() -> None:
    script = textwrap.dedent(
        """
        import sys
        import httpx
        from support.servers import uvicorn_server
        import sse_fast
        from sse_fast.limits import ASGILimit, StreamLimit

        async def handler(writer):
            await writer.write_raw_event("hi")

        app = ASGILimit(sse_fast.ASGIResponse(handler), StreamLimit(per_process=10))
        with uvicorn_server(app) as server:
            assert httpx.get(server.url).text == "data: hi\\n\\n"
        print("prometheus_client" in sys.modules)
        """
    )
    assert run_python(script) == "False"


def test_metrics_without_the_extra_say_which_extra_to_install() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["prometheus_client"] = None  # as if it were not installed
        from sse_fast.errors import MissingExtra
        try:
            import sse_fast.metrics
        except MissingExtra as error:
            print(error)
        """
    )
    assert 'pip install "sse-fast[metrics]"' in run_python(script)


def test_watch_refuses_what_it_cannot_report() -> None:
    import sse_fast.metrics
    from sse_fast.errors import InvalidType

    with pytest.raises(InvalidType, match="got str"):
        sse_fast.metrics.watch("broker")


def run_python(script: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=HERE, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_refuses_a_wrong_interval() -> None:
    import sse_fast.metrics
    from sse_fast.errors import InvalidValue

    with pytest.raises(InvalidValue, match="got 0"):
        sse_fast.metrics.start(interval=0)

"""docs/nginx.md's config, run as written (ports and certificate swapped): Debian's nginx in front of uvicorn,
over HTTP/2 and HTTP/1.1 with TLS to the client. Events cross nginx one by one (each is written only after the
client read the one before), ``X-Accel-Buffering: yes`` shows the buffering the default header prevents, and
the heartbeat keeps a quiet stream open past ``proxy_read_timeout`` while no heartbeat gets it cut."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any, Dict, Iterator, List

import httpx
import pytest
from support.nginx_proc import PAGE, nginx
from support.servers import Server, uvicorn_server

from sse_fast import ASGIResponse, AsyncWriter
from sse_fast.client import iter_events
from sse_fast.resume import last_event_id

if not PAGE.is_file():  # a copy of tests/ run against a wheel: the pages are not beside it
    pytest.skip("docs/ is not beside tests/ (a suite copied to test a wheel)", allow_module_level=True)

STEPS: Dict[str, int] = {}  # how many events each stepped stream may have written: the test raises it
QUIET = 2.5  # seconds the quiet stream stays silent: longer than the test's proxy_read_timeout (1 s)
_keys = itertools.count()


async def app(scope: Any, receive: Any, send: Any) -> None:
    kind, _, arg = scope["path"].strip("/").partition("/")
    if kind == "stepped":  # /stepped/KEY: event i is written once the test allowed it
        buffering = dict(scope["headers"]).get(b"x-test-buffering", b"no").decode()

        async def stepped(writer: AsyncWriter) -> None:
            for i in range(1, 4):
                while STEPS[arg] < i:
                    await asyncio.sleep(0.005)
                await writer.write_event_with_id(str(i), {"n": i})

        await ASGIResponse(stepped, headers={"X-Accel-Buffering": buffering})(scope, receive, send)
    elif kind == "resume":  # /resume: one event saying which Last-Event-ID came
        sent = last_event_id(scope["headers"])

        async def resume(writer: AsyncWriter) -> None:
            await writer.write_event(sent)

        await ASGIResponse(resume)(scope, receive, send)
    else:  # /quiet/HEARTBEAT: an event, silence longer than nginx allows, an event
        heartbeat = float(arg) or None

        async def quiet(writer: AsyncWriter) -> None:
            await writer.write_event("first")
            await asyncio.sleep(QUIET)
            await writer.write_event("second")

        await ASGIResponse(quiet, heartbeat=heartbeat)(scope, receive, send)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Server]:
    with uvicorn_server(app) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: Server) -> Iterator[str]:
    with nginx(upstream.port) as url:
        yield url


def client(http2: bool, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(http1=not http2, http2=http2, verify=False, timeout=timeout)


VERSIONS = pytest.mark.parametrize("http2", [True, False], ids=["http2", "http1.1"])


@VERSIONS
def test_each_event_crosses_nginx_on_its_own(proxy: str, http2: bool) -> None:
    key = str(next(_keys))
    STEPS[key] = 1
    read: List[Any] = []
    with client(http2) as http, http.stream("GET", f"{proxy}/stepped/{key}") as response:
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert "x-accel-buffering" not in response.headers  # nginx took it as its instruction
        for event in iter_events(response):  # a buffered event would never come: the read times out
            read.append((event.id, event.json()))
            STEPS[key] += 1  # only now may the app write the next one
    assert read == [("1", {"n": 1}), ("2", {"n": 2}), ("3", {"n": 3})]


@VERSIONS
def test_last_event_id_reaches_the_app(proxy: str, http2: bool) -> None:
    with client(http2) as http, http.stream("GET", f"{proxy}/resume", headers={"Last-Event-ID": "41"}) as r:
        assert next(iter_events(r)).data == '"41"'


def test_without_the_header_nginx_buffers(proxy: str) -> None:
    """(Over HTTP/1.1 to the client; over HTTP/2, nginx 1.22 passed this event on at once all the same.)"""
    key = str(next(_keys))
    STEPS[key] = 1
    headers = {"X-Test-Buffering": "yes"}
    with client(http2=False, timeout=1.0) as http, pytest.raises(httpx.ReadTimeout):
        with http.stream("GET", f"{proxy}/stepped/{key}", headers=headers) as response:
            next(iter_events(response))  # the headers and the first event wait in nginx's buffer
    STEPS[key] = 3  # let the app finish


def read_quiet(url: str, http2: bool) -> List[str]:
    """The events of a quiet stream, until it ends or is cut."""
    events: List[str] = []
    with client(http2) as http, http.stream("GET", url) as response:
        with contextlib.suppress(httpx.RemoteProtocolError):  # a cut HTTP/1.1 body: the last chunk never came
            for event in iter_events(response):
                events.append(event.data)
    return events


@VERSIONS
def test_the_heartbeat_outlasts_proxy_read_timeout(upstream: Server, http2: bool) -> None:
    with nginx(upstream.port, read_timeout="1s") as url:
        assert read_quiet(f"{url}/quiet/0.3", http2) == ['"first"', '"second"']
        assert read_quiet(f"{url}/quiet/0", http2) == ['"first"']  # no heartbeat: cut after 1 s of silence

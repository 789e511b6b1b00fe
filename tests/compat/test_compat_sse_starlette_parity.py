"""The compat ``EventSourceResponse`` against sse-starlette 3.7 itself: ``AppStatus`` and lockstep sends.

Each behaviour is run on the real sse-starlette (the reference) and on the compat response, in-process
over ASGI (a ``send`` that can hold a chosen body message, a ``receive`` that says the client left when
told) and under a real uvicorn read over a socket. ``write_behind=True`` is tested for what it changes.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any, Callable

import anyio
import pytest
import sse_starlette
import sse_starlette.sse
from starlette.responses import Response
from support.compat_apps import FAREWELL_APP
from support.ports import free_port
from support.servers import Server, uvicorn_server, wait_until
from test_compat_sse_starlette import read_events

from sse_fast.compat.sse_starlette import AppStatus, EventSourceResponse, SendTimeoutError

GUARD = 10.0  # seconds: an upper bound against hangs, never a measurement
SETTLE = 0.3  # seconds given to something that must NOT happen, before checking that it did not

IMPLEMENTATIONS: dict[str, Callable[..., Response]] = {
    "sse-starlette": sse_starlette.EventSourceResponse,
    "compat": EventSourceResponse,
    "compat write_behind": functools.partial(EventSourceResponse, write_behind=True),
}
# the reference is 3.7's behaviour; on Python 3.9 pip installs an older 3.x (3.3), whose ping=0 still pings,
# whose errors reach the server in an ExceptionGroup and whose watcher copies uvicorn's flag into AppStatus
OLD_REFERENCE = tuple(int(part) for part in sse_starlette.__version__.split(".")[:2]) < (3, 7)


def implementations(*names: str) -> list[Any]:
    """``names`` as test parameters; the sse-starlette one skipped when the installed reference is < 3.7."""
    skip = pytest.mark.skipif(OLD_REFERENCE, reason=f"sse-starlette {sse_starlette.__version__} is not 3.7")
    return [pytest.param(name, marks=skip) if name == "sse-starlette" else name for name in names]


LOCKSTEP = implementations("sse-starlette", "compat")
EVERY = implementations(*IMPLEMENTATIONS)
STATUS = {"sse-starlette": sse_starlette.sse.AppStatus, "compat": AppStatus}


@pytest.fixture(autouse=True)
def reset_app_status() -> Iterator[None]:
    """The fixture sse-starlette's README gives (``should_exit`` stays set until reset), for both."""
    yield
    sse_starlette.sse.AppStatus.should_exit = False
    AppStatus.should_exit = False
    AppStatus.enable_automatic_graceful_drain_mode()


class Peer:
    """An in-process ASGI server side: records every send in ``log``; the body send containing ``hold``
    waits until ``release()`` (or for ever); ``leave()`` makes ``receive`` return ``http.disconnect``."""

    def __init__(self, hold: bytes | None = None) -> None:
        self.hold = hold
        self.log: list[tuple[Any, ...]] = []
        self.pending = 0  # sends in progress
        self.overlapped: list[bytes] = []  # bodies whose send began while another send was pending
        self.held = asyncio.Event()
        self._release = asyncio.Event()
        self._left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.log.append(("start", message["status"]))
            return
        body = message["body"]
        if self.pending:
            self.overlapped.append(body)
        self.log.append(("send", body))
        self.pending += 1
        try:
            if self.hold is not None and self.hold in body:
                self.hold = None
                self.held.set()
                await self._release.wait()
        finally:
            self.pending -= 1
        self.log.append(("returned", body))

    def release(self) -> None:
        self._release.set()

    def leave(self) -> None:
        self._left.set()

    def bodies(self) -> bytes:
        return b"".join(entry[1] for entry in self.log if entry[0] == "returned")


SCOPE = {"type": "http", "method": "GET", "path": "/", "http_version": "1.1", "headers": []}


def serve(response: Response, peer: Peer) -> asyncio.Task[None]:
    return asyncio.ensure_future(response(dict(SCOPE), peer.receive, peer.send))


def numbered(log: list[tuple[Any, ...]], count: int = 3) -> Any:
    """Yields ``"0"``, ``"1"``, ...; logs the code after each ``yield`` and the ``yield`` it was closed at."""

    async def content() -> Any:
        for n in range(count):
            try:
                yield str(n)
            except GeneratorExit:
                log.append(("closed at yield", n))
                raise
            log.append(("after yield", n))
        log.append(("content ended",))

    return content()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, GUARD))


# --- lockstep ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_code_after_a_yield_runs_only_once_the_events_send_returned(impl: str) -> None:
    async def main() -> list[tuple[Any, ...]]:
        peer = Peer(hold=b"data: 1")
        task = serve(IMPLEMENTATIONS[impl](numbered(peer.log), ping=0), peer)
        await peer.held.wait()
        await asyncio.sleep(SETTLE)
        assert ("after yield", 1) not in peer.log
        peer.release()
        await task
        return peer.log

    log = run(main())
    returned = log.index(("returned", b"data: 1\r\n\r\n"))
    assert log.index(("after yield", 1)) == returned + 1
    assert log.index(("after yield", 0)) == log.index(("returned", b"data: 0\r\n\r\n")) + 1
    assert log[-3:] == [("content ended",), ("send", b""), ("returned", b"")]


def test_write_behind_runs_the_code_after_a_yield_before_the_event_is_sent() -> None:
    async def main() -> list[tuple[Any, ...]]:
        peer = Peer(hold=b"data: 1")
        task = serve(IMPLEMENTATIONS["compat write_behind"](numbered(peer.log), ping=0), peer)
        await peer.held.wait()
        ran_ahead = ("after yield", 1) in peer.log
        peer.release()
        await task
        assert ran_ahead
        return peer.log

    log = run(main())
    sends = [(i, entry[1]) for i, entry in enumerate(log) if entry[0] == "send" and entry[1]]
    assert b"".join(body for _, body in sends) == b"data: 0\r\n\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"
    held = next(i for i, body in sends if b"data: 1" in body)
    assert log.index(("content ended",)) < held  # the content ran to its end before event 1 was sent


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_after_a_send_timeout_the_content_is_closed_at_that_yield(impl: str) -> None:
    async def main() -> tuple[list[tuple[Any, ...]], BaseException]:
        peer = Peer(hold=b"data: 1")  # never released
        with pytest.raises(TimeoutError) as info:  # each implementation's own SendTimeoutError
            await serve(IMPLEMENTATIONS[impl](numbered(peer.log), ping=0, send_timeout=0.2), peer)
        return peer.log, info.value

    log, error = run(main())
    content = [entry for entry in log if entry[0] not in ("start", "send", "returned")]
    assert content == [("after yield", 0), ("closed at yield", 1)]
    assert ("returned", b"") not in log  # the body is not ended: the server drops the connection
    assert type(error).__name__ == "SendTimeoutError"


def test_write_behind_after_a_send_timeout_the_content_had_run_past_that_yield() -> None:
    async def main() -> list[tuple[Any, ...]]:
        peer = Peer(hold=b"data: 1")
        with pytest.raises(SendTimeoutError):
            await serve(IMPLEMENTATIONS["compat write_behind"](numbered(peer.log, 100), ping=0, send_timeout=0.2), peer)
        return peer.log

    log = run(main())
    assert ("after yield", 1) in log  # the code after the yield ran though that event never got out


@pytest.mark.parametrize("impl", ["compat", "compat write_behind"])
def test_no_ping_goes_out_while_a_send_is_pending(impl: str) -> None:
    """The compat response sends one message at a time: a ping due while an event's send is pending
    waits for it (one ping, not one per interval). sse-starlette differs: see the next test."""

    async def content() -> Any:
        yield "0"
        yield "1"
        await asyncio.sleep(SETTLE)
        yield "2"

    async def main() -> Peer:
        peer = Peer(hold=b"data: 1")
        task = serve(IMPLEMENTATIONS[impl](content(), ping=0.05), peer)
        await peer.held.wait()
        held_at = len(peer.log)
        await asyncio.sleep(SETTLE)  # about 6 ping intervals
        assert peer.log[held_at:] == []  # no send at all while the held one is pending
        peer.release()
        await task
        return peer

    peer = run(main())
    assert peer.overlapped == []
    sends = [entry[1] for entry in peer.log if entry[0] == "send"]
    held = next(n for n, body in enumerate(sends) if b"data: 1" in body)
    assert sends[held + 1].count(b": ping") == 1  # the ping that came due while it was pending, once


def test_sse_starlette_sends_pings_beside_a_pending_send() -> None:
    """The reference's own behaviour, which the README's difference row states: its ping task does not
    wait for the stream's pending send, so ``send`` is entered again while one is in progress."""

    async def main() -> Peer:
        peer = Peer(hold=b"data: 1")
        task = serve(IMPLEMENTATIONS["sse-starlette"](numbered(peer.log), ping=0.05), peer)
        await peer.held.wait()
        await asyncio.sleep(SETTLE)
        peer.release()
        await task
        return peer

    peer = run(main())
    assert peer.overlapped and all(body.startswith(b": ping") for body in peer.overlapped)


@pytest.mark.parametrize("impl", EVERY)
def test_the_bytes_are_the_same_in_every_mode(impl: str) -> None:
    async def main() -> bytes:
        peer = Peer()
        await serve(IMPLEMENTATIONS[impl](numbered([], 50), ping=0), peer)
        return peer.bodies()

    assert run(main()) == b"".join(b"data: %d\r\n\r\n" % n for n in range(50))


# --- AppStatus: in-process --------------------------------------------------------------------------------


def farewell_content(stop: anyio.Event, log: list[Any]) -> Any:
    async def content() -> Any:
        yield "started"
        await stop.wait()
        log.append("saw the shutdown event")
        yield "farewell"

    return content()


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_should_exit_sets_the_event_and_the_content_says_goodbye_in_process(impl: str) -> None:
    async def main() -> tuple[Peer, list[Any]]:
        peer, log, stop = Peer(), [], anyio.Event()
        task = serve(
            IMPLEMENTATIONS[impl](farewell_content(stop, log), ping=0, shutdown_event=stop, shutdown_grace_period=5),
            peer,
        )
        while b"started" not in peer.bodies():
            await asyncio.sleep(0.01)
        STATUS[impl].should_exit = True
        await task
        return peer, log

    peer, log = run(main())
    assert log == ["saw the shutdown event"]
    assert peer.bodies() == b"data: started\r\n\r\ndata: farewell\r\n\r\n"
    assert peer.log[-1] == ("returned", b"")


@pytest.mark.parametrize("impl", LOCKSTEP)
@pytest.mark.parametrize("grace", [0, 0.3])
def test_should_exit_cancels_content_that_ignores_it_after_the_grace_period(impl: str, grace: float) -> None:
    async def main() -> tuple[Peer, list[Any], anyio.Event]:
        peer, log, stop = Peer(), [], anyio.Event()

        async def content() -> Any:
            yield "started"
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                log.append(("cancelled after the event", stop.is_set()))
                raise
            yield "never"

        task = serve(IMPLEMENTATIONS[impl](content(), ping=0, shutdown_event=stop, shutdown_grace_period=grace), peer)
        while b"started" not in peer.bodies():
            await asyncio.sleep(0.01)
        STATUS[impl].should_exit = True
        await task
        return peer, log, stop

    peer, log, stop = run(main())
    assert log == [("cancelled after the event", True)]
    assert peer.bodies() == b"data: started\r\n\r\n"


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_a_stream_that_starts_while_should_exit_is_set_ends_at_once(impl: str) -> None:
    async def main() -> anyio.Event:
        stop = anyio.Event()

        async def endless() -> Any:
            yield "started"
            await asyncio.sleep(3600)
            yield "never"

        STATUS[impl].should_exit = True
        await serve(IMPLEMENTATIONS[impl](endless(), ping=0, shutdown_event=stop), Peer())
        return stop

    assert run(main()).is_set()  # it returned (GUARD): the content was cancelled after its event was set


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_should_exit_reset_to_false_lets_new_streams_run(impl: str) -> None:
    STATUS[impl].should_exit = True
    STATUS[impl].should_exit = False

    async def main() -> bytes:
        peer = Peer()
        await serve(IMPLEMENTATIONS[impl](numbered([], 3), ping=0), peer)
        return peer.bodies()

    assert run(main()) == b"data: 0\r\n\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"


def test_app_status_has_sse_starlettes_public_attributes() -> None:
    theirs = sse_starlette.sse.AppStatus
    for name in (
        "should_exit",
        "enable_automatic_graceful_drain",
        "disable_automatic_graceful_drain",
        "enable_automatic_graceful_drain_mode",
        "handle_exit",
        "original_handler",
    ):
        assert hasattr(theirs, name) and hasattr(AppStatus, name), name
    assert AppStatus.should_exit is False and AppStatus.enable_automatic_graceful_drain is True
    AppStatus.disable_automatic_graceful_drain()
    assert AppStatus.enable_automatic_graceful_drain is False
    AppStatus.handle_exit()  # what a signal does: with the drain off, should_exit stays False
    assert AppStatus.should_exit is False
    AppStatus.enable_automatic_graceful_drain_mode()
    AppStatus.handle_exit()
    assert AppStatus.should_exit is True


# --- AppStatus: under a real uvicorn ------------------------------------------------------------------------

ROUTES: dict[str, Callable[[], Any]] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await ROUTES[scope["path"]]()(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with uvicorn_server(app) as running:
        yield running


@pytest.mark.parametrize("impl", LOCKSTEP)
def test_should_exit_set_in_a_test_drains_a_stream_under_uvicorn(server: Server, impl: str) -> None:
    """As sse-starlette users write it: the flag is set from the test while the stream runs."""
    log: list[Any] = []

    def make() -> Response:
        stop = anyio.Event()
        return IMPLEMENTATIONS[impl](farewell_content(stop, log), shutdown_event=stop, shutdown_grace_period=5)

    ROUTES[f"/{impl}"] = make
    events: list[str] = []
    finished = threading.Event()
    read_events(server.url + f"/{impl}", events, finished)
    wait_until(lambda: events == ["started"], GUARD)
    STATUS[impl].should_exit = True
    assert finished.wait(GUARD)
    assert events == ["started", "farewell"]
    assert log == ["saw the shutdown event"]


def test_should_exit_drains_only_the_compat_streams(server: Server) -> None:
    """``sse_fast``'s own responses are ended by ``sse_fast.shutdown``, not by sse-starlette's flag."""
    from sse_fast import ASGIResponse

    async def ticks(writer: Any) -> None:
        for n in range(100):
            await writer.write_event(n)
            await asyncio.sleep(0.01)

    ROUTES["/own"] = lambda: ASGIResponse(ticks)
    events: list[str] = []
    finished = threading.Event()
    read_events(server.url + "/own", events, finished)
    wait_until(lambda: len(events) >= 2, GUARD)
    AppStatus.should_exit = True
    assert finished.wait(GUARD)
    assert events == [str(n) for n in range(100)]


def stalled_client(url: str) -> socket.socket:
    """A client that sends a GET and then reads nothing (with a small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.sendall(f"GET /{url.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


@pytest.mark.parametrize("impl", EVERY)
def test_under_uvicorn_a_send_timeout_closes_the_content_at_the_yield_whose_send_stalled(
    server: Server, impl: str
) -> None:
    """A client that stops reading: uvicorn's ``send`` blocks once its buffers are full. In lockstep the
    code after a ``yield`` ran exactly for the events whose ``send`` returned; write-behind never less."""
    returned: list[int] = []  # body sends that returned, counted by an ASGI middleware around the response
    after: list[int] = []
    closed_at: list[int] = []
    done = threading.Event()

    async def big_frames() -> Any:
        for n in range(1000):
            try:
                yield "x" * 256 * 1024
            except GeneratorExit:
                closed_at.append(n)
                raise
            after.append(n)

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def counting_send(message: dict[str, Any]) -> None:
            await send(message)
            if message.get("body"):
                returned.append(1)

        try:
            await IMPLEMENTATIONS[impl](big_frames(), ping=0, send_timeout=0.5)(scope, receive, counting_send)
        except TimeoutError:
            done.set()

    path = "/stall-" + impl.replace(" ", "-")
    ROUTES[path] = lambda: counted
    sock = stalled_client(server.url + path)
    try:
        assert done.wait(GUARD)
    finally:
        sock.close()
    assert len(closed_at) == 1
    if impl == "compat write_behind":
        # these frames are over the 64 KiB a writer queues, and an idle writer sends from the content's own
        # task: write-behind gets ahead only while a send is in flight, never behind lockstep
        assert len(after) >= len(returned) and closed_at[0] >= len(returned)
    else:
        assert len(after) == len(returned) == closed_at[0]


# --- an old conftest, run as its own pytest session ---------------------------------------------------------

OLD_CONFTEST = textwrap.dedent(
    """
    import pytest

    @pytest.fixture(autouse=True)
    def reset_appstatus_event():
        # sse-starlette 2.x's fixture (its event was bound to the last test's loop), the import changed
        from sse_fast.compat.sse_starlette import AppStatus

        AppStatus.should_exit_event = None
        yield
        AppStatus.should_exit = False
    """
)
OLD_TESTS = textwrap.dedent(
    """
    import asyncio

    import anyio

    from sse_fast.compat.sse_starlette import AppStatus, EventSourceResponse

    SCOPE = {"type": "http", "method": "GET", "path": "/", "http_version": "1.1", "headers": []}


    async def serve(stop=None, after_start=None):
        body = bytearray()
        left = asyncio.Event()

        async def receive():
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            body.extend(message.get("body", b""))
            if after_start is not None and b"started" in body:
                after_start()

        async def content():
            yield "started"
            if stop is not None:
                await stop.wait()
                yield "farewell"
            else:
                yield "done"

        response = EventSourceResponse(content(), shutdown_event=stop, shutdown_grace_period=5)
        await asyncio.wait_for(response(SCOPE, receive, send), 10)
        return bytes(body)


    def test_should_exit_drains():
        async def main():
            stop = anyio.Event()
            return await serve(stop, lambda: setattr(AppStatus, "should_exit", True))

        assert asyncio.run(main()) == b"data: started\\r\\n\\r\\ndata: farewell\\r\\n\\r\\n"
        assert AppStatus.should_exit is True


    def test_the_next_test_streams_normally():
        assert AppStatus.should_exit is False and AppStatus.should_exit_event is None
        assert asyncio.run(serve()) == b"data: started\\r\\n\\r\\ndata: done\\r\\n\\r\\n"
    """
)


def test_an_old_conftest_that_resets_should_exit_event_runs(tmp_path: Any) -> None:
    (tmp_path / "conftest.py").write_text(OLD_CONFTEST)
    (tmp_path / "test_old.py").write_text(OLD_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


# --- a uvicorn in the main thread, stopped from code -------------------------------------------------------

STOPPED_FROM_CODE = (
    textwrap.dedent(
        """
    import sys, threading, time

    import anyio, httpx, uvicorn

    impl, drain, port = sys.argv[1], sys.argv[2] == "on", int(sys.argv[3])
    if impl == "sse-starlette":
        from sse_starlette.sse import AppStatus, EventSourceResponse
    else:
        from sse_fast.compat.sse_starlette import AppStatus, EventSourceResponse
    if not drain:
        AppStatus.disable_automatic_graceful_drain()
    """
    )
    + FAREWELL_APP
    + textwrap.dedent(
        """

    config = uvicorn.Config(app, port=port, log_level="critical", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    received = []


    def client():
        while not server.started:
            time.sleep(0.02)
        try:
            with httpx.stream("GET", f"http://127.0.0.1:{port}/", timeout=10) as response:
                for chunk in response.iter_raw():
                    received.append(chunk)
                    server.should_exit = True  # stopped from code, no signal, once the stream runs
        except httpx.TransportError:
            received.append(b"<broken>")


    threading.Thread(target=client, daemon=True).start()
    server.run()  # the main thread: uvicorn installs its signal handlers
    time.sleep(0.2)
    print(repr(b"".join(received)), AppStatus.should_exit)
    """
    )
)


@pytest.mark.parametrize("impl", LOCKSTEP)
@pytest.mark.parametrize("drain", ["on", "off"])
def test_a_uvicorn_stopped_from_code_drains_its_streams_unless_the_automatic_drain_is_off(
    tmp_path: Any, impl: str, drain: str
) -> None:
    (tmp_path / "stopped_from_code.py").write_text(STOPPED_FROM_CODE)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "stopped_from_code.py", impl, drain, str(port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if drain == "on":
        assert done.stdout.strip().rsplit(" ", 1) == [repr(b"data: started\r\n\r\ndata: farewell\r\n\r\n"), "False"]
    else:  # uvicorn's own timeout (1 s) cuts the stream
        assert done.stdout.strip().rsplit(" ", 1) == [repr(b"data: started\r\n\r\n<broken>"), "False"]

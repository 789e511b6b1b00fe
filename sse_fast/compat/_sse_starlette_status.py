"""sse-starlette's ``AppStatus`` for the compat response: a process-wide drain flag, and no server patched.

``AppStatus.should_exit = True`` ends every stream the compat ``EventSourceResponse`` serves as a shutdown
does (each ``shutdown_event`` set, ``shutdown_grace_period`` given, then cancelled), at once rather than at
sse-starlette's next 0.5 s poll; a stream that starts while it is True ends at once, as in sse-starlette.
SIGTERM / SIGINT set it (unless ``AppStatus.disable_automatic_graceful_drain()`` was called) in front of
``sse_fast.shutdown_on_signals``, chained once per process by the first response served from the main thread.
A uvicorn that is stopped from code (``server.should_exit = True``, no signal) is found as sse-starlette
finds it, through the SIGTERM handler it installed in the main thread, and polled every 0.5 s while a
compat stream runs on a loop: its streams on that loop are drained (``AppStatus.should_exit`` is left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
import weakref
from typing import Any, Callable, Iterator, Optional

from .. import registry
from ..context import SHUTDOWN
from ..writer import AsyncWriter

POLL = 0.5  # seconds between two looks at a uvicorn server's should_exit, as in sse-starlette
_lock = threading.Lock()
# the compat response's open streams, each with its loop; and the loops that run a uvicorn watcher
_served: weakref.WeakKeyDictionary[AsyncWriter, asyncio.AbstractEventLoop] = weakref.WeakKeyDictionary()
_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def _drain(loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
    """End every compat stream (on ``loop`` only, if given) with reason ``"shutdown"``."""
    with _lock:
        streams = [writer for writer, its_loop in _served.items() if loop is None or its_loop is loop]
    for writer in streams:
        writer.context.finish(SHUTDOWN)


class _Status(type):
    """Makes ``AppStatus.should_exit = True`` start the drain the moment it is set, from any thread."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "should_exit" and value:
            # from a thread of its own: a signal handler sets it, and must not wait for a lock the code
            # it interrupted may hold
            threading.Thread(target=_drain, name="sse-appstatus-drain", daemon=True).start()


class AppStatus(metaclass=_Status):
    """sse-starlette 3.7's ``AppStatus``: set ``should_exit = True`` to drain every compat stream.

    It stays True until the code sets it back (as in sse-starlette); ``should_exit_event`` is kept only
    so that old conftests that reset it (``AppStatus.should_exit_event = None``) still run: nothing reads it.
    """

    should_exit: bool = False
    enable_automatic_graceful_drain: bool = True
    should_exit_event: Any = None
    original_handler: Optional[Callable[..., Any]] = None  # sse-starlette's saved uvicorn handler: none here

    @staticmethod
    def disable_automatic_graceful_drain() -> None:
        """SIGTERM / SIGINT no longer drain the compat streams: the code must set ``should_exit`` itself."""
        AppStatus.enable_automatic_graceful_drain = False

    @staticmethod
    def enable_automatic_graceful_drain_mode() -> None:
        """Undo ``disable_automatic_graceful_drain()``."""
        AppStatus.enable_automatic_graceful_drain = True

    @staticmethod
    def handle_exit(*args: Any, **kwargs: Any) -> None:
        """What a shutdown signal does: set ``should_exit`` unless the automatic drain is off."""
        if AppStatus.enable_automatic_graceful_drain:
            AppStatus.should_exit = True
        if AppStatus.original_handler is not None:
            AppStatus.original_handler(*args, **kwargs)


@contextlib.contextmanager
def served(writer: AsyncWriter) -> Iterator[None]:
    """Track ``writer`` while the compat response serves it; it is drained at once if ``should_exit`` is set."""
    loop = asyncio.get_running_loop()
    watch = _uvicorn_server() is not None
    with _lock:
        _served[writer] = loop
        if watch and loop not in _watchers:
            _watchers[loop] = loop.create_task(_watch_uvicorn(loop))
    try:
        if AppStatus.should_exit:  # read after the add: a flag set meanwhile has seen this writer
            writer.context.finish(SHUTDOWN)
        yield
    finally:
        with _lock:
            _served.pop(writer, None)


async def _watch_uvicorn(loop: asyncio.AbstractEventLoop) -> None:
    """While compat streams run on ``loop``: drain them once the uvicorn of the main thread should exit."""
    try:
        while True:
            await asyncio.sleep(POLL)
            with _lock:
                if loop not in _served.values():  # no stream left: the next one starts a new watcher
                    del _watchers[loop]
                    return
            server = _uvicorn_server()  # looked up again each time: a later server replaces a stopped one
            if AppStatus.enable_automatic_graceful_drain and server is not None and server.should_exit:
                _drain(loop)
    except asyncio.CancelledError:
        with _lock:
            _watchers.pop(loop, None)
        raise


def _uvicorn_server() -> Any:
    """The uvicorn ``Server`` whose ``handle_exit`` is the SIGTERM handler (under ours), or None."""
    handler = signal.getsignal(signal.SIGTERM)
    if isinstance(handler, functools.partial) and handler.func is _on_signal:
        handler = handler.args[1]
    server = getattr(handler, "__self__", None)
    return server if hasattr(server, "should_exit") else None


_chained = False
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def chain_shutdown_on_signals() -> None:
    """Once per process, from the main thread: SIGTERM / SIGINT first drain the streams.

    ``AppStatus.handle_exit`` runs first, then ``sse_fast.shutdown``'s handler (which ends every sse_fast
    stream, then hands the signal on). With the automatic drain off, the signal goes straight to the
    handler that was there. Skipped when the application chained ``sse_fast.shutdown_on_signals`` itself.
    """
    global _chained
    if _chained or threading.current_thread() is not threading.main_thread():
        return
    _chained = True
    if getattr(signal.getsignal(signal.SIGTERM), "__module__", None) == registry.__name__:
        return
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    registry.shutdown_on_signals(signals=SIGNALS)
    for signum, previous in before.items():
        drain = signal.getsignal(signum)
        if drain is not previous:
            signal.signal(signum, functools.partial(_on_signal, drain, previous))


def _on_signal(drain: Any, previous: Any, signum: int, frame: Any) -> None:
    AppStatus.handle_exit(signum, frame)
    if AppStatus.enable_automatic_graceful_drain:
        drain(signum, frame)
        return
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    os.kill(os.getpid(), signum)

"""sse-starlette's ``AppStatus`` for the compat response: a process-wide drain flag, and no server patched.

``AppStatus.should_exit = True`` ends every stream the compat ``EventSourceResponse`` serves as a shutdown
does (each ``shutdown_event`` set, ``shutdown_grace_period`` given, then cancelled), at once rather than at
sse-starlette's next 0.5 s poll; a stream that starts while it is True ends at once, as in sse-starlette.
SIGTERM / SIGINT set it (unless ``AppStatus.disable_automatic_graceful_drain()`` was called) in front of
``sse_fast.shutdown_on_signals``, chained once per process by the first response served from the main thread.
"""

from __future__ import annotations

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

_lock = threading.Lock()
_served: weakref.WeakSet[AsyncWriter] = weakref.WeakSet()  # the compat response's open streams


class _Status(type):
    """Makes ``AppStatus.should_exit = True`` start the drain the moment it is set, from any thread."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "should_exit" and value:
            with _lock:
                streams = list(_served)
            for writer in streams:
                writer.context.finish(SHUTDOWN)


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
    with _lock:
        _served.add(writer)
    try:
        if AppStatus.should_exit:  # read after the add: a flag set meanwhile has seen this writer
            writer.context.finish(SHUTDOWN)
        yield
    finally:
        with _lock:
            _served.discard(writer)


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

"""The registry of open streams and the call that tells every one of them to finish.

``shutdown(grace)`` ends every open stream's context with reason ``"shutdown"``, gives the handlers
``grace`` seconds to send a farewell and return, then closes whatever is still open (cancelling an
async handler). No server is patched: call it from an ASGI lifespan, a signal handler or a WSGI
server's shutdown path, or let ``shutdown_on_signals()`` chain it in front of the server's own handler.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import weakref
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .context import CLOSED, SHUTDOWN

_lock = threading.Lock()
_streams: "weakref.WeakSet[Any]" = weakref.WeakSet()  # a dropped writer leaves the set by itself
_draining = 0  # > 0 while a shutdown runs: a stream opened meanwhile is told to finish at once
_ends: Dict[str, int] = {}  # streams ended in this process, by reason (read by sse_fast.metrics)
_ended_written = [0, 0, 0]  # frames, bytes, heartbeats written by the streams that ended in this process


def register(writer: Any) -> None:
    """Track an open writer (writers call this themselves)."""
    with _lock:
        _streams.add(writer)
        draining = _draining > 0
    if draining:
        writer.context.finish(SHUTDOWN)


def unregister(writer: Any) -> None:
    """Forget a closed writer (writers call this themselves)."""
    reason = writer.context.reason or CLOSED
    counts = writer.written()
    with _lock:
        _streams.discard(writer)
        _ends[reason] = _ends.get(reason, 0) + 1
        for i, n in enumerate(counts):
            _ended_written[i] += n


def open_streams() -> List[Any]:
    """The writers open right now."""
    with _lock:
        return list(_streams)


def ends() -> Dict[str, int]:
    """How many streams ended in this process, by reason (``"client_disconnected"``, ``"slow"``...)."""
    with _lock:
        return dict(_ends)


def written() -> Tuple[int, int, int]:
    """``(frames, bytes, heartbeats)`` written in this process: the open streams' and the ended ones'
    (frames and bytes include the heartbeats)."""
    with _lock:
        streams = list(_streams)
        frames, size, beats = _ended_written
    for writer in streams:
        f, b, h = writer.written()
        frames, size, beats = frames + f, size + b, beats + h
    return frames, size, beats


def shutdown_sync(grace: float = 5.0, close_timeout: float = 5.0) -> int:
    """Finish every open stream from a thread; returns how many streams were open.

    Each context ends with reason ``"shutdown"``; streams still open after ``grace`` seconds are closed.
    It returns once every body has been ended and handed to the server, waiting up to ``close_timeout``
    more for that. Not for an event loop's own thread: there,
    ``await shutdown()``.
    """
    if _in_running_loop():
        raise RuntimeError("shutdown_sync() would block this event loop; use `await sse_fast.shutdown()`")
    global _draining
    with _lock:
        _draining += 1
        streams = list(_streams)
    try:
        for writer in streams:
            writer.context.finish(SHUTDOWN)
        deadline = time.monotonic() + grace
        for writer in streams:
            writer.closed_event.wait(max(0.0, deadline - time.monotonic()))
        closing = [writer.close_threadsafe() for writer in streams if not writer.closed_event.is_set()]
        deadline = time.monotonic() + close_timeout
        for future in closing:
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: S110 - a stream that fails to close is dropped all the same
                pass
        for writer in streams:  # the last frames reach the server before the caller stops it
            writer.finished.wait(max(0.0, deadline - time.monotonic()))
        return len(streams)
    finally:
        with _lock:
            _draining -= 1


async def shutdown(grace: float = 5.0, close_timeout: float = 5.0) -> int:
    """``shutdown_sync`` for asyncio code (an ASGI lifespan, say): the same steps, loop left free."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, shutdown_sync, grace, close_timeout)


def shutdown_on_signals(
    grace: float = 5.0, signals: Optional[Iterable[int]] = None, close_timeout: float = 5.0
) -> None:
    """On SIGTERM / SIGINT, finish every stream first, then hand the signal to the handler that was there.

    Call it from the main thread once the server has installed its own handlers (in an ASGI lifespan
    startup, or in a WSGI app module). The server's handler runs after the streams have ended, so the
    server sees no open responses and stops at once; a second signal goes straight to the server.
    """
    for signum in signals if signals is not None else (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:  # the process ignores it: so do we
            continue
        if previous is None:  # installed outside Python: the closest we can restore is the default
            previous = signal.SIG_DFL

        def handle(sig: int, frame: Any, previous: Any = previous) -> None:
            signal.signal(sig, previous)

            def finish_then_resignal() -> None:
                shutdown_sync(grace, close_timeout)
                os.kill(os.getpid(), sig)

            threading.Thread(target=finish_then_resignal, name="sse-shutdown", daemon=True).start()

        signal.signal(signum, handle)


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

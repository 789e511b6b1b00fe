"""``StreamContext``: when a stream ends and why, waitable from asyncio and from threads alike."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

from ._endings import WORK_CANCELLED, Ending, ended

T = TypeVar("T")

# The reasons under the names the writers and the integrations import them by.
CLIENT_DISCONNECTED: Ending = Ending.CLIENT_DISCONNECTED
CLOSED: Ending = Ending.CLOSED
ERROR: Ending = Ending.ERROR
SEND_TIMEOUT: Ending = Ending.SEND_TIMEOUT
SHUTDOWN: Ending = Ending.SHUTDOWN

__all__ = ["CLIENT_DISCONNECTED", "CLOSED", "ERROR", "SEND_TIMEOUT", "SHUTDOWN", "StreamContext", "ended"]


class Flag:
    """A one-way ``threading.Event``: ``set`` once, ``wait`` from any thread. The Event itself (a Condition,
    ~0.8 KiB) is made only when a thread waits before it is set, which most streams never do."""

    __slots__ = ("_set", "_event")
    _lock = threading.Lock()  # one for every Flag: taken only to set or to wait (and to make one lazily)

    def __init__(self, is_set: bool = False) -> None:
        self._set = is_set
        self._event: Optional[threading.Event] = None

    def set(self) -> None:
        with self._lock:
            self._set = True
            event = self._event
        if event is not None:
            event.set()

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until set or ``timeout`` passes; True if set."""
        with self._lock:
            if self._set:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)


class StreamContext:
    """Done when the client leaves, the writer is closed or the server shuts down; ``reason`` says which.

    It has no deadline of its own: a request timeout does not end it. Asyncio code awaits ``wait()`` or
    runs work under it with ``run()``; threads call ``wait_sync()``. The first reason given wins.
    """

    __slots__ = ("_done", "_reason", "_waiters", "_callbacks")
    _lock = threading.Lock()  # one for every context, as for Flag: held only for a few list operations

    def __init__(self) -> None:
        self._done: Optional[Flag] = None  # made at the first wait_sync() before the end
        self._reason: Optional[str] = None
        # made at the first wait() / add_callback(): most streams never have either
        self._waiters: Optional[List["asyncio.Future[str]"]] = None
        self._callbacks: Optional[List[Callable[[str], Any]]] = None

    @property
    def done(self) -> bool:
        """True once the stream has ended."""
        return self._reason is not None

    @property
    def reason(self) -> Optional[str]:
        """Why the stream ended, or None while open: an ``Ending`` (a str: ``"client_disconnected"``, ``"closed"``,
        ``"shutdown"``, ``"send_timeout"``, ``"slow"``, ``"error"``), or the reason given to ``abort(reason)``."""
        return self._reason

    def finish(self, reason: str) -> bool:
        """End the context with ``reason`` (thread-safe); False if it had already ended."""
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason
            waiters, self._waiters = self._waiters or [], None
            callbacks, self._callbacks = self._callbacks or [], None
            done = self._done
        if done is not None:
            done.set()
        for fut in waiters:
            try:
                fut.get_loop().call_soon_threadsafe(_resolve, fut, reason)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass
        for callback in callbacks:
            callback(reason)
        return True

    def add_callback(self, callback: Callable[[str], Any]) -> Callable[[], None]:
        """Call ``callback(reason)`` when the context ends (at once if it has); returns a remover."""
        with self._lock:
            if self._reason is None:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return lambda: self._discard(callback)
        callback(self._reason)
        return lambda: None

    def _discard(self, callback: Callable[[str], Any]) -> None:
        with self._lock:
            if self._callbacks and callback in self._callbacks:
                self._callbacks.remove(callback)

    async def wait(self) -> str:
        """Wait until the context ends; returns the reason."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._reason is not None:
                return self._reason
            fut: asyncio.Future[str] = loop.create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(fut)
        try:
            return await fut
        finally:
            with self._lock:
                if self._waiters and fut in self._waiters:
                    self._waiters.remove(fut)

    def wait_sync(self, timeout: Optional[float] = None) -> bool:
        """Block the calling thread until the context ends or ``timeout`` passes; True if it ended."""
        with self._lock:
            if self._reason is not None:
                return True
            if self._done is None:
                self._done = Flag()
            done = self._done
        return done.wait(timeout)

    async def run(self, aw: Awaitable[T]) -> T:
        """Await ``aw``, cancelling it as soon as the context ends.

        Returns its result, or raises ``ClientDisconnected`` (with ``reason``) if the context ended first.
        """
        task = asyncio.ensure_future(aw)
        loop = asyncio.get_running_loop()
        stopped: List[str] = []

        def stop(reason: str) -> None:
            stopped.append(reason)
            loop.call_soon_threadsafe(task.cancel)

        remove = self.add_callback(stop)
        try:
            return await task
        except asyncio.CancelledError:
            if stopped and task.cancelled():
                raise ended(stopped[0], WORK_CANCELLED) from None
            raise
        finally:
            remove()


def _resolve(fut: "asyncio.Future[str]", reason: str) -> None:
    if not fut.done():
        fut.set_result(reason)

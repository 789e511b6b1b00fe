"""The sink: what a transport gives a writer, and the parts transports share to build one.

A sink is bound to one writer. The writer calls ``watch(lost)`` once, when it is made; from then on the sink
calls ``lost()`` if it sees the client go. The writer hands it bytes with ``send`` (one call at a time), and
finishes it exactly one way: ``end()`` for a body that is complete, ``abort()`` to drop a connection that
broke or stopped reading, ``break_off(error)`` for a body whose handler raised ``error``. ``AsyncSink`` serves
``AsyncWriter`` (asyncio, ASGI); ``Sink`` serves ``Writer`` (threads, WSGI), whose ``send`` waits at most
``timeout`` seconds and raises ``TimeoutError`` past it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Awaitable, Callable, Coroutine, Deque, Optional, Protocol

Lost = Callable[[], None]  # what a sink calls when the client has gone


class AsyncSink(Protocol):
    """The transport side of an ``AsyncWriter``."""

    def watch(self, lost: Lost) -> None:
        """Start noticing a client that leaves; call ``lost()`` when it does."""

    def send(self, data: bytes) -> Awaitable[None]:
        """Hand ``data`` to the transport; the awaitable is done once it has taken it (backpressure). It may be
        begun outside a task (a heartbeat, a broker's flusher) and finished in another once it waits."""

    async def end(self) -> None:
        """Finish the body normally."""

    async def break_off(self, error: BaseException) -> None:
        """Leave the body unfinished because its handler raised ``error``: what was sent still goes out, the
        connection is dropped (or the app raises ``error`` next, and the server drops it)."""

    def abort(self) -> None:
        """Drop the connection without finishing the body."""


class Sink(Protocol):
    """The transport side of a ``Writer``."""

    def watch(self, lost: Lost) -> None:
        """Remember ``lost``; call it when the server says the client left."""

    def send(self, data: bytes, timeout: Optional[float]) -> None:
        """Queue ``data`` for the server, waiting at most ``timeout`` seconds for room (``TimeoutError``)."""

    def end(self, timeout: Optional[float]) -> None:
        """Finish the body normally (waiting at most ``timeout`` seconds for the server to take it)."""

    def break_off(self, error: BaseException) -> None:
        """Leave the body unfinished because its handler raised ``error``: the server takes what is queued,
        then the body raises ``error``, so that the server drops the connection."""

    def abort(self) -> None:
        """Drop what is queued and finish the body at once."""


class Watcher:
    """The task of an asyncio-streams or aiohttp sink that waits for its client to go: ``watch(*args, lost)``
    returns when it has, after calling ``lost()``. ``stop()`` (when the body ends) cancels it. (The ASGI sink
    needs no coroutine of its own: it awaits ``receive()`` directly.)"""

    __slots__ = ("_watch", "_args", "_task")

    def __init__(self, watch: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        self._watch = watch
        self._args = args
        self._task: Optional[asyncio.Task[None]] = None

    def start(self, lost: Lost) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(*self._args, lost))

    def stop(self) -> None:
        task, self._task = self._task, None  # a cancelled task's error holds its frame, and so ``lost``: no cycle
        if task is not None and task is not asyncio.current_task():
            task.cancel()


class BoundedQueue:
    """Chunks between a writer and the server that drains them: at most ``max_buffered`` bytes, or one
    batch if a single batch is bigger. The WSGI and Django bodies wait on it each in their own way."""

    __slots__ = ("max_buffered", "over", "lost", "_chunks", "_size")

    def __init__(self, max_buffered: int) -> None:
        self.max_buffered: int = max_buffered
        self.over: bool = False  # no more data will come: the body ended, or the connection was dropped
        self.lost: Lost = nobody  # the writer's, once it watches the body
        self._chunks: Deque[bytes] = deque()
        self._size = 0

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet taken."""
        return self._size

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def full_for(self, size: int) -> bool:
        """True while ``size`` more bytes must wait (something is queued and they would not fit)."""
        return bool(self._chunks) and self._size + size > self.max_buffered and not self.over

    def put(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)

    def take(self) -> bytes:
        """Everything queued, as one chunk."""
        data = b"".join(self._chunks)
        self.clear()
        return data

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0

    def stop(self) -> bool:
        """The server stopped taking the body: throw the rest away. True if the body was not over yet, so
        the client left (then call ``lost()``, outside any lock)."""
        left = not self.over
        self.over = True
        self.clear()
        return left


def nobody() -> None:
    """The ``lost`` of a sink or body no writer watches yet."""

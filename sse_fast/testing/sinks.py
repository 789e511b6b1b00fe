"""In-memory sinks: a writer with no server behind it, for unit tests of code that writes events.

``MemorySink`` serves an ``AsyncWriter``, ``ThreadSink`` a ``Writer``. Each keeps every transport write,
says how the body ended (``ended``, ``aborted``, or ``broken``: the error its handler raised), and plays
the client's part on request: ``leave()`` (the client goes), ``stall()``
/ ``resume()`` (it stops / starts reading again, so ``send_timeout`` can fire), ``fail(exc)`` (the next send
raises ``exc``)::

    sink = MemorySink()
    writer = AsyncWriter(sink)
    await writer.write_event({"n": 1})
    await writer.close()
    assert [e.data for e in sink.events()] == ['{"n":1}'] and sink.ended
"""

from __future__ import annotations

import asyncio
import threading
from typing import List, Optional, Union

from ..parse import EventParser, ServerSentEvent
from ..transports.base import Lost


class _Recording:
    """What both sinks keep: the writes, how the body ended, the writer's ``lost``, and whether the client
    reads (``_reading``, an asyncio or a threading ``Event``)."""

    _reading: Union[asyncio.Event, threading.Event]
    writes: List[bytes]
    ended: bool
    aborted: bool
    broken: Optional[BaseException]

    def __init__(self) -> None:
        self._reading.set()
        self.writes = []  # each transport write, as it came
        self.ended = False  # end() was called: the body is complete
        self.aborted = False  # abort() was called: the connection was dropped
        self.broken = None  # break_off(error) was called: the handler raised it
        self._lost: Optional[Lost] = None
        self._failure: Optional[BaseException] = None

    @property
    def data(self) -> bytes:
        """All bytes written so far."""
        return b"".join(self.writes)

    def events(self) -> List[ServerSentEvent]:
        """The events in what was written, as a browser would parse them."""
        return list(EventParser().feed(self.data))

    def watch(self, lost: Lost) -> None:
        self._lost = lost

    def leave(self) -> None:
        """Act out a client that goes away: the writer is told, as a server would tell it."""
        if self._lost is not None:
            self._lost()

    def fail(self, exc: BaseException) -> None:
        """Make the next send raise ``exc`` (an ``OSError`` is what a broken connection raises)."""
        self._failure = exc

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def stall(self) -> None:
        """Stop reading: sends wait until ``resume()``, or until ``send_timeout`` drops the stream."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    def abort(self) -> None:
        self.aborted = True


class MemorySink(_Recording):
    """An ``AsyncSink`` in memory (use it on the writer's event loop)."""

    _reading: asyncio.Event

    def __init__(self) -> None:
        self._reading = asyncio.Event()
        super().__init__()

    async def send(self, data: bytes) -> None:
        await self._reading.wait()
        self._raise_failure()
        self.writes.append(data)

    async def end(self) -> None:
        await self._reading.wait()
        self.ended = True

    async def break_off(self, error: BaseException) -> None:
        await self._reading.wait()
        self.broken: Optional[BaseException] = error


class ThreadSink(_Recording):
    """A ``Sink`` in memory for the thread-side ``Writer``."""

    _reading: threading.Event

    def __init__(self) -> None:
        self._reading = threading.Event()
        super().__init__()

    def send(self, data: bytes, timeout: Optional[float]) -> None:
        if not self._reading.wait(timeout):
            raise TimeoutError(f"the test's client read nothing for {timeout} s")
        self._raise_failure()
        self.writes.append(data)

    def end(self, timeout: Optional[float]) -> None:
        self.ended = True

    def break_off(self, error: BaseException) -> None:
        self.broken: Optional[BaseException] = error

"""``Writer``: the writer for threads (WSGI, Flask, Django under WSGI)."""

from __future__ import annotations

import concurrent.futures
import functools
import queue
import threading
import time
from typing import Any, Callable, Iterable, Optional, Tuple, Union

from .._endings import read_nothing, send_failed
from ..context import CLIENT_DISCONNECTED, SEND_TIMEOUT, StreamContext
from ..errors import ClientDisconnected, SSEError
from .base import DEFAULT_SEND_TIMEOUT, HEARTBEAT, BaseWriter, Default, State, is_iterable, write_item


class Writer(BaseWriter[None]):
    """The writer for threads (WSGI): every method blocks until its frame is handed to the transport.

    Safe to share between threads: writes are serialised and never interleave; frames written by several
    threads while one write is in flight go out together in the next.
    """

    __slots__ = ("_lock", "_sending", "_pending", "_batch", "_sent", "_last_write", "_frames", "_bytes", "_beats")

    def __init__(
        self,
        sink: Any,
        context: Optional[StreamContext] = None,
        *,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        default: Default = None,
    ) -> None:
        self._lock = threading.Lock()  # guards the state: the handler's, heartbeat's and server's threads meet
        self._sending = threading.Lock()  # held for one transport write, and for the body's end
        self._pending = bytearray()  # frames waiting for the next transport write
        self._batch = 0  # number of the batch that `_pending` will go out in
        self._sent = 0  # batches written to the transport so far
        self._last_write = time.monotonic()  # the heartbeat's clock
        self._frames = 0  # frames written, heartbeats included (read by metrics)
        self._bytes = 0  # their bytes
        self._beats = 0  # heartbeats written
        super().__init__(sink, context, send_timeout, default)

    def _send(self, frame: bytes, beat: bool = False) -> None:
        batch = self._enqueue(frame, beat)
        with self._sending:
            data = self._take(batch)
            if data is None:
                return
            try:
                self.sink.send(data, self.send_timeout)
            except TimeoutError:
                self.lost(SEND_TIMEOUT, read_nothing(self.send_timeout))
                raise self._refusal() from None
            except (OSError, ClientDisconnected) as exc:
                self.lost(CLIENT_DISCONNECTED, send_failed(exc), exc)
                raise self._refusal() from exc
            with self._lock:
                self._sent = self._batch

    def _enqueue(self, frame: bytes, beat: bool = False) -> int:
        """Add ``frame`` (a heartbeat if ``beat``) to the pending batch; returns the batch's number."""
        with self._lock:
            if self.state is not State.OPEN:
                raise self._refusal()
            self._pending += frame
            self._frames += 1
            self._bytes += len(frame)
            self._beats += beat
            self._last_write = time.monotonic()
            return self._batch

    def _take(self, batch: int) -> Optional[bytes]:
        """The pending bytes to write now, or None if ``batch`` already went out."""
        with self._lock:
            if self._sent > batch:
                return None
            if self.state is not State.OPEN:
                raise self._refusal()
            data = bytes(self._pending)
            self._pending.clear()
            self._batch += 1
            return data

    def _discard_pending(self) -> None:
        with self._lock:
            self._pending.clear()

    def written(self) -> Tuple[int, int, int]:
        """``(frames, bytes, heartbeats)`` written so far (frames and bytes include the heartbeats)."""
        return self._frames, self._bytes, self._beats  # ints read whole: no lock (unregister may hold it)

    def close(self) -> None:
        """End the stream: the body is finished (once the server has taken what was written, or after
        ``send_timeout``) and the context is done with reason ``"closed"``. After the client left, only the
        body is ended."""
        self._finish(None)

    def _finish(self, error: Optional[BaseException]) -> bool:
        """``close()``; with ``error`` (what the handler raised), the body is cut off instead of ended, after
        what was written: ``sink.break_off``, which the server sees as the body raising ``error``. (After the
        client left nobody can tell the two apart: the body is ended, to free the server's side.) True if
        the body was cut off, so the server gets ``error``."""
        self._closing(error)
        with self._sending:
            if self.state in (State.CLOSING, State.LOST):
                if error is None or self.state is State.LOST:
                    self.sink.end(self.send_timeout)
                    self._move(State.ENDED)
                else:
                    self.sink.break_off(error)
                    self._move(State.DROPPED)
                    return True
        return False

    def close_threadsafe(self) -> "concurrent.futures.Future[None]":
        """Close from any thread (``close()`` already is thread-safe); returns a finished future."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            self.close()
            done.set_result(None)
        except Exception as exc:
            done.set_exception(exc)
        return done

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> None:
        """Close; when the block raised, cut the body off instead (after what was written)."""
        self._finish(exc if exc is not None and self._failed_by(exc) else None)

    def start_heartbeat(self, interval: float = 15.0, frame: bytes = HEARTBEAT) -> Callable[[], None]:
        """Write ``: heartbeat`` (or ``frame``, an encoded frame) after ``interval`` seconds without a write (from
        a daemon thread).

        Returns an idempotent stop.
        """
        stopped = threading.Event()

        def beat() -> None:
            while not stopped.is_set():
                wait = interval - (time.monotonic() - self._last_write)
                if wait > 0:
                    stopped.wait(wait)
                    continue
                try:
                    self._send(frame, beat=True)
                except SSEError:
                    return

        with self._lock:
            if self.state is not State.OPEN:
                return lambda: None
            self._stops += (stopped.set,)
        threading.Thread(target=beat, name="sse-heartbeat", daemon=True).start()
        return stopped.set

    def stream(self, source: Any) -> None:
        """Write every item of an iterable (or of what a callable returns), then ``[DONE]``.

        An ``Event`` item is written whole; any other item as JSON.
        """
        if callable(source) and not is_iterable(source):
            source = source()
        for item in source:
            write_item(self, item)
        self.write_done()

    def stream_func(
        self,
        data: Union[Iterable[Any], "queue.Queue[Any]"],
        errors: Optional["queue.Queue[BaseException]"] = None,
        poll: float = 0.05,
    ) -> None:
        """Write what ``data`` yields until it ends (``[DONE]``) or ``errors`` yields one (``event: error``).

        ``data`` is an iterable or a ``queue.Queue`` ended by a ``None`` item; ``errors`` is checked
        between items and, while a queue is empty, every ``poll`` seconds.
        """
        take: Callable[[], Any]
        if isinstance(data, queue.Queue):
            take = functools.partial(_take_queued, data, poll)
        else:
            take = functools.partial(next, iter(data), _END)
        while True:
            item = take()
            if errors is not None:  # an error that is already there wins over the item
                try:
                    self.write_error(errors.get_nowait())
                    return
                except queue.Empty:
                    pass
            if item is _END:
                self.write_done()
                return
            if item is not _IDLE:
                write_item(self, item)


_END = object()
_IDLE = object()


def _take_queued(items: "queue.Queue[Any]", timeout: float) -> Any:
    """The next item of ``items`` (``_END`` for its ``None``), or ``_IDLE`` if none came within ``timeout``."""
    try:
        item = items.get(timeout=timeout)
    except queue.Empty:
        return _IDLE
    return _END if item is None else item

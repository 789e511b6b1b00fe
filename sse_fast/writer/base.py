"""What both writers share: the method set, and the one state a stream is in.

Each method encodes its frame first (so a refused value raises with nothing written), then hands the bytes
to ``_send``, which the sync and async writers implement. The state moves one way::

    OPEN --close()--> CLOSING --queue sent, body ended--> ENDED
    OPEN/CLOSING --lost() (client gone, transport failed)--> LOST --close()--> ENDED
    OPEN/CLOSING/LOST --abort(), or lost() after a send timeout--> DROPPED

    OPEN --the handler raised--> CLOSING --queue sent, body cut off--> DROPPED

``close()`` sends what is queued, then ends the body. ``lost()`` (from the sink, or a failed send) throws
the queue away because nobody can read it; ``close()`` still ends the body to free the server's side.
``abort()`` throws the queue away and drops the connection, so the client can tell the stream broke. A
handler that raises gets what it wrote sent, then the body cut off unfinished (``sink.break_off``): the
client can tell that failure from an end, and the error goes on to the server, which logs it.
"""

from __future__ import annotations

import enum
from typing import (
    Any,
    AsyncIterable,
    Callable,
    ContextManager,
    Generic,
    Iterable,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from .. import registry as _registry
from .._endings import IS_CLOSED, LEFT, handler_raised
from ..context import CLIENT_DISCONNECTED, CLOSED, ERROR, SEND_TIMEOUT, Flag, StreamContext, ended
from ..encoder import encode, encode_comment, encode_json, encode_retry
from ..errors import ClientDisconnected, InvalidType
from ..event import Event

R = TypeVar("R")
Default = Optional[Callable[[Any], Any]]

DONE = encode("[DONE]")
HEARTBEAT = encode_comment("heartbeat")
DEFAULT_SEND_TIMEOUT = 30.0


class State(enum.Enum):
    """Where a stream is in its life."""

    OPEN = "open"  # writes are taken
    CLOSING = "closing"  # close() runs: what is queued goes out, then the body ends
    LOST = "lost"  # the client is gone: the queue was thrown away, the body not yet ended
    ENDED = "ended"  # the body was ended (terminal)
    DROPPED = "dropped"  # the connection was dropped without ending the body (terminal)


_STILL_SENDING = (State.OPEN, State.CLOSING)
_TERMINAL = (State.ENDED, State.DROPPED)
_NOT_ENDED = (CLOSED, IS_CLOSED, None)  # what a write raises once closed, until a reason is given: shared


class BaseWriter(Generic[R]):
    """The method set and the state both writers share; they differ in how ``_send`` reaches the sink."""

    # Slots: an idle stream's writer holds no attribute dict (one per open stream adds up). ``__dict__`` stays
    # available, made only for an instance someone sets an attribute of their own on (subclasses, tests);
    # ``__weakref__`` for the registry's WeakSet.
    __slots__ = ("sink", "context", "send_timeout", "_default", "state", "_ending", "_closed_flag", "_finished_flag",
                 "_stops", "__dict__", "__weakref__")  # fmt: skip
    _lock: ContextManager[Any]  # guards the state: a real lock where other threads can reach it
    _send: Callable[[bytes], R]  # hands a frame on towards the sink: each writer's own

    def __init__(
        self, sink: Any, context: Optional[StreamContext], send_timeout: Optional[float], default: Default
    ) -> None:
        self.sink: Any = sink
        self.context: StreamContext = context if context is not None else StreamContext()
        self.send_timeout: Optional[float] = send_timeout
        self._default = default
        self.state: State = State.OPEN
        # (reason, message, cause) of what a write raises once closed
        self._ending: Tuple[str, str, Optional[BaseException]] = _NOT_ENDED
        # ``closed_event`` and ``finished``, made at the first ask: most streams never have a thread waiting
        self._closed_flag: Optional[Flag] = None
        self._finished_flag: Optional[Flag] = None
        self._stops: Tuple[Callable[[], None], ...] = ()  # heartbeats to stop on leaving OPEN
        _registry.register(self)
        sink.watch(self.lost)

    # -- the method set: each builds one frame and sends it -------------------------------------------

    def write_event(self, data: Any) -> R:
        """``data: <json>``."""
        return self._send(encode_json(data, default=self._default))

    def write_event_with_name(self, name: str, data: Any) -> R:
        """``event: <name>`` then ``data: <json>``."""
        return self._send(encode_json(data, event=name, default=self._default))

    def write_event_with_id(self, id: str, data: Any) -> R:
        """``id: <id>`` then ``data: <json>``."""
        return self._send(encode_json(data, id=id, default=self._default))

    def write_full_event(self, event: Event) -> R:
        """An ``Event`` with all its fields (text data as it is, other data as JSON)."""
        return self._send(event.encode(self._default))

    def write_raw_event(self, text: Union[str, bytes]) -> R:
        """``data: <text>`` with no JSON; each line of ``text`` is its own ``data:`` line."""
        return self._send(encode(text))

    def write_done(self) -> R:
        """``data: [DONE]``."""
        return self._send(DONE)

    def write_error(self, err: BaseException) -> R:
        """``event: error`` then ``data: {"error": str(err)}``."""
        return self._send(encode_json({"error": str(err)}, event="error"))

    def write_comment(self, text: Union[str, bytes]) -> R:
        """``: <text>``, ignored by browsers; keeps proxies from timing the stream out."""
        return self._send(encode_comment(text))

    def set_retry(self, ms: int) -> R:
        """``retry: <ms>``: how long the browser waits before reconnecting."""
        return self._send(encode_retry(ms))

    def write_frame(self, frame: bytes) -> R:
        """Already-encoded bytes, written as they are: what ``encode*``, ``Event.encode`` or
        ``FrameBuffer.take`` returned (one frame or several). Nothing is checked but the type."""
        if type(frame) is not bytes:
            if not isinstance(frame, (bytes, bytearray, memoryview)):
                raise InvalidType(f"write_frame() takes bytes, got {type(frame).__name__}")
            frame = bytes(frame)
        return self._send(frame)

    # -- the state --------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once nothing more can be written."""
        return self.state is not State.OPEN

    @property
    def closed_event(self) -> Flag:
        """Set on leaving OPEN, for threads that wait on it."""
        with Flag._lock:  # as ``_move`` reads it: a flag made meanwhile is either seen there or made set
            if self._closed_flag is None:
                self._closed_flag = Flag(self.state is not State.OPEN)
            return self._closed_flag

    @property
    def finished(self) -> Flag:
        """Set once nothing more can reach the client (LOST, ENDED or DROPPED)."""
        with Flag._lock:
            if self._finished_flag is None:
                self._finished_flag = Flag(self.state not in _STILL_SENDING)
            return self._finished_flag

    def _refusal(self) -> ClientDisconnected:
        """What a write raises once the stream is closed."""
        return refusal(self._ending)

    def _move(
        self, to: State, reason: str = CLOSED, why: str = IS_CLOSED, cause: Optional[BaseException] = None
    ) -> Optional[State]:
        """Move to ``to``; returns the state left, or None when the stream is already there or past it.

        Leaving OPEN ends the context with ``reason``, stops the heartbeat and unregisters the stream.
        """
        if to is not State.ENDED:
            self.context.finish(reason)
        stops: Tuple[Callable[[], None], ...] = ()
        with self._lock:
            was = self.state
            allowed = {
                State.CLOSING: was is State.OPEN,
                State.LOST: was in _STILL_SENDING,
                State.ENDED: was in (State.CLOSING, State.LOST),
                State.DROPPED: was not in _TERMINAL,
            }[to]
            if not allowed:
                return None
            self.state = to
            if was is State.OPEN:
                self._ending = (reason, why, cause)
                stops, self._stops = self._stops, ()
        with Flag._lock:  # the flags made so far; one made from now on sees the new state
            closed, finished = self._closed_flag, self._finished_flag
        if was is State.OPEN:
            if closed is not None:
                closed.set()
            for stop in stops:
                stop()
            _registry.unregister(self)
        if to is not State.CLOSING and finished is not None:
            finished.set()
        if to in _TERMINAL:
            self._over()
        return was

    def _over(self) -> None:
        """The stream has reached its end (ENDED or DROPPED): let go of what ties the writer in a reference
        cycle, so that it and what it holds are freed by reference counting, not by the cyclic collector."""

    def lost(self, reason: str = CLIENT_DISCONNECTED, why: str = LEFT, cause: Optional[BaseException] = None) -> None:
        """The client is gone (or stopped reading): what is queued is thrown away, the stream is closed and
        a handler run by ``run`` is cancelled. After ``"send_timeout"`` the connection is dropped too.
        ``why`` is the message of the ``ClientDisconnected`` the next write raises."""
        if reason == SEND_TIMEOUT:
            if self._move(State.DROPPED, reason, why, cause) is None:
                return
            self.sink.abort()
        elif self._move(State.LOST, reason, why, cause) is None:
            return
        self._discard_pending()
        self._cancel_owner()

    def _closing(self, error: Optional[BaseException]) -> None:
        """Move to CLOSING (nothing if the stream is past OPEN); with ``error``, what the stream's handler
        raised, the context's reason is ``"error"`` and a later write says so."""
        if error is None:
            self._move(State.CLOSING)
        else:
            self._move(State.CLOSING, ERROR, handler_raised(error), error)

    def _failed_by(self, exc: BaseException) -> bool:
        """True if ``exc``, raised by the code that writes the stream, breaks the stream off: any error but
        a connection error once the stream has ended (what a write raises after the client left)."""
        return isinstance(exc, Exception) and not (isinstance(exc, ConnectionError) and self.context.done)

    def abort(self, reason: str = CLOSED) -> None:
        """Stop at once without ending the body: what is queued is thrown away, the writer is closed with
        ``reason`` and the connection dropped, so the client can tell that the stream broke. (Under WSGI
        the body iterator just stops, and the server ends the body as usual.)"""
        if self._move(State.DROPPED, reason) is None:
            return
        self._discard_pending()
        self.sink.abort()

    def _discard_pending(self) -> None:
        """Throw away the frames not yet handed to the transport."""
        raise NotImplementedError

    def written(self) -> Tuple[int, int, int]:
        """``(frames, bytes, heartbeats)`` written so far (frames and bytes include the heartbeats)."""
        raise NotImplementedError

    def _cancel_owner(self) -> None:
        """Stop the work that writes to this stream (``AsyncWriter.run``'s handler)."""


def refusal(ending: Tuple[str, str, Optional[BaseException]]) -> ClientDisconnected:
    """What a write raises once the stream ended with ``ending``: ``(reason, message, cause)``."""
    reason, why, cause = ending
    exc = ended(reason, why)
    exc.__cause__ = cause
    return exc


class Ended:
    """What an ended writer's parts hold instead of the writer (``AsyncWriter``'s sender): all they still ask
    of it, its final state, the refusal a write raises and ``lost`` (a no-op by then), with no reference back
    to it, so no reference cycle outlives the stream."""

    __slots__ = ("state", "_ending")

    def __init__(self, writer: BaseWriter[Any]) -> None:
        self.state = writer.state
        self._ending = writer._ending

    def _refusal(self) -> ClientDisconnected:
        return refusal(self._ending)

    def lost(self, reason: str = CLIENT_DISCONNECTED, why: str = LEFT, cause: Optional[BaseException] = None) -> None:
        """The stream has ended: nothing is left to drop."""


def write_item(writer: BaseWriter[R], item: Any) -> R:
    """An item of ``stream``: an ``Event`` whole, anything else as JSON."""
    if isinstance(item, Event):
        return writer.write_full_event(item)
    return writer.write_event(item)


def is_iterable(obj: Any) -> bool:
    return isinstance(obj, (Iterable, AsyncIterable))

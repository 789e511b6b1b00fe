"""How a stream ends: the reasons (``Ending``), and the error a write raises after each, built in one place.

A stream's life is the writer's ``State``; why it left ``OPEN`` is an ``Ending``, which ``StreamContext.reason``
holds and every ended-stream error carries as ``.reason``. The writer, the broker, the relay and the errors
all use these words. ``Ending`` is a ``str`` enum: a reason compares equal to its documented string
(``Ending.CLOSED == "closed"``), prints as it, and ``abort(reason)`` may still give a reason of its own.

Three reasons have an error class of their own, and the class holds the reason's string (``errors`` is
below this module): ``ClientDisconnected`` (the client left, or the transport failed), ``SendTimedOut``
(the client read nothing for ``send_timeout``), ``StreamClosed`` (``"closed"``: ``close()``, ``abort()``).
Every other reason is the server's doing too, so it raises ``StreamClosed`` with that reason.
"""

from __future__ import annotations

import enum
from typing import Type

from .errors import ClientDisconnected, SendTimedOut, StreamClosed


class Ending(str, enum.Enum):
    """Why a stream ended: ``StreamContext.reason``, and the ``.reason`` of the error a later write raises."""

    CLIENT_DISCONNECTED = ClientDisconnected.reason  # "client_disconnected": the client left, or the transport failed
    SEND_TIMEOUT = SendTimedOut.reason  # "send_timeout": the client read nothing for send_timeout seconds
    CLOSED = StreamClosed.reason  # "closed": close() or abort() on the server side
    SHUTDOWN = "shutdown"  # sse_fast.shutdown() (or the shutdown of the integration's server)
    ERROR = "error"  # the stream's handler raised: its body was cut off unfinished
    SLOW = "slow"  # the broker dropped a subscriber that stopped draining its queue
    UPSTREAM_ENDED = "upstream_ended"  # relay(): the upstream stream ended
    UPSTREAM_LOST = "upstream_lost"  # relay(): the upstream connection broke

    def __str__(self) -> str:  # "closed", not "Ending.CLOSED", in messages and f-strings (as enum.StrEnum)
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# What a later write says after each ending: every such text is built here (the reason is added by ``ended``).
IS_CLOSED = "cannot write: the stream was closed on the server side"  # close(), abort(), shutdown
LEFT = "cannot write: the client left"  # the server saw the client go
DROPPED_SLOW = "cannot write: the subscriber stopped draining its queue and was dropped as slow"
WORK_CANCELLED = "the work was cancelled because the stream ended"  # StreamContext.run's work


def send_failed(exc: BaseException) -> str:
    """The send raised ``exc``: the client left (a connection error), or else the transport failed."""
    if isinstance(exc, (OSError, ClientDisconnected)):
        return f"the client left ({exc})"
    return f"the transport failed ({type(exc).__name__}: {exc})"


def read_nothing(timeout: object) -> str:
    """A send outlasted ``timeout`` seconds (the ``"send_timeout"`` ending)."""
    return f"the client read nothing for {timeout} s"


def start_took_over(what: str, timeout: object) -> str:
    """The server took ``what`` (the response start) no sooner than ``timeout`` seconds (``"send_timeout"``)."""
    return f"{what} took over {timeout} s"


def handler_raised(error: BaseException) -> str:
    """The stream's handler raised ``error`` (the ``"error"`` ending)."""
    return f"cannot write: the stream's handler raised {error!r}"


def error_for(reason: str) -> Type[ClientDisconnected]:
    """The class of the error a write raises after a stream ended with ``reason``."""
    if reason == Ending.CLIENT_DISCONNECTED:
        return ClientDisconnected
    if reason == Ending.SEND_TIMEOUT:
        return SendTimedOut
    return StreamClosed


def ended(reason: str, why: str = "the stream has ended") -> ClientDisconnected:
    """The error for a stream that ended with ``reason``: ``why`` and the reason in its message, as
    ``"cannot write: the client left (reason: client_disconnected)"``; its ``.reason`` is ``reason``."""
    exc = error_for(reason)(f"{why} (reason: {reason})")
    exc.reason = reason
    return exc

"""The error hierarchy: every error sse_fast raises on purpose is an ``SSEError``.

Each one is also the builtin it is most like (``ValueError``, ``TypeError``, ``ConnectionError``), so
``except`` clauses written for the builtin keep catching it::

    SSEError
    ├── InvalidValue (ValueError)
    │   ├── InvalidUTF8
    │   ├── InvalidTopic (BrokerError)
    │   ├── InvalidEventId (BrokerError)
    │   └── InvalidBrokerURL (BrokerError)
    ├── InvalidType (TypeError)
    ├── NotJSONSerializable (TypeError)
    ├── MissingExtra (ModuleNotFoundError)
    ├── TransportNotFound (TypeError)
    ├── NotHTTP (ValueError)
    ├── HTTPTransportFailed
    ├── StreamingNotSupported
    ├── ClientDisconnected (ConnectionError)   a write after the stream ended; .reason says why
    │   ├── SendTimedOut
    │   └── StreamClosed
    ├── StreamTooLarge (ValueError)
    │   ├── LineTooLong
    │   └── EventTooLarge
    ├── StreamRefused
    ├── Refused (PermissionError)              a broker guard's refusal: .status, .headers, .body
    │   ├── Unauthorized                       401
    │   └── Forbidden                          403
    └── BrokerError
        ├── BrokerClosed
        ├── BrokerUnavailable (ConnectionError)
        └── InvalidTopic, InvalidEventId, InvalidBrokerURL (above)

How a stream ends is ``sse_fast.Ending`` (``_endings``, which builds the ended-stream errors); each of the
three classes under ``ClientDisconnected`` holds its own reason's string.

``StreamClosed`` stays a ``ClientDisconnected`` although the client did not leave: the documented way to stop
a handler whichever way its stream ended is one ``except ClientDisconnected`` (a ``ConnectionError``, which
is also what the servers' own disconnects are), and code written that way must keep catching a close, a
shutdown or a slow drop. ``ClientDisconnected`` is thus "the stream is gone"; its ``.reason`` and the
subclass say who ended it.
"""

from __future__ import annotations

from typing import List, Tuple

from ._received import ServerSentEvent


class SSEError(Exception):
    """Base of every sse_fast error."""


class InvalidValue(SSEError, ValueError):
    """A value the wire cannot carry or an option out of range: a line break in an event name or id, NUL in
    an id, a retry that is not an int from 0 to 2**31 - 1, a str with a lone surrogate, a limit that is not positive."""


class InvalidUTF8(InvalidValue):
    """Bytes that are not valid UTF-8 given as data or a comment, or inside JSON (an ``orjson.Fragment``): an
    event stream is UTF-8, browsers would show U+FFFD and some clients (sseclient-py) stop reading the stream."""


class InvalidType(SSEError, TypeError):
    """An argument of a type sse_fast does not take (data that is not text, an id that is not a str, ...), or a
    keyword the call does not take with the others given (``Broker(timeout=1)`` without a Redis URL)."""


class MissingExtra(SSEError, ModuleNotFoundError):
    """An integration imported without its framework: the message names the extra that installs it."""


class NotJSONSerializable(SSEError, TypeError):
    """Data orjson cannot encode as JSON (a set, an unknown object, an int over 64 bits); pass ``default=``
    to convert such values."""


class TransportNotFound(SSEError, TypeError):
    """``new_writer`` was given something that is no transport it knows."""


class NotHTTP(SSEError, ValueError):
    """The transport is not an HTTP request (a websocket or lifespan scope, say)."""


class HTTPTransportFailed(SSEError):
    """An HTTP transport was recognised but could not be opened for streaming."""


class StreamingNotSupported(SSEError):
    """The transport cannot send a response body in pieces."""


class ClientDisconnected(SSEError, ConnectionError):
    """A write (or ``StreamContext.run``) after the stream ended; this class itself: the client left.

    ``SendTimedOut`` and ``StreamClosed`` are the other two ways a stream ends; both are
    ``ClientDisconnected`` too, so one ``except ClientDisconnected`` stops a handler whichever it was.
    """

    reason: str = "client_disconnected"
    """Why the stream ended, in ``StreamContext.reason``'s words (an ``sse_fast.Ending``): ``"client_disconnected"``
    (the client left, or the transport failed), ``"send_timeout"`` (``SendTimedOut``), or for ``StreamClosed``
    ``"closed"`` (``close()``, ``abort()``), ``"shutdown"`` (``sse_fast.shutdown()``), ``"slow"`` (the broker
    dropped a subscriber that fell behind), ``"error"`` (the stream's handler raised) or the reason given to
    ``abort(reason)``."""


class SendTimedOut(ClientDisconnected):
    """The client read nothing for ``send_timeout`` seconds; the connection was dropped."""

    reason = "send_timeout"


class StreamClosed(ClientDisconnected):
    """The stream was closed on the server side (``close()``, ``abort()``, a shutdown, a slow subscriber
    dropped by the broker, a handler that raised); ``reason`` says which. It is a ``ClientDisconnected`` too
    (the module's docstring says why)."""

    reason = "closed"


class StreamTooLarge(SSEError, ValueError):
    """A stream being parsed went over one of the parser's bounds; the parser cannot go on with it.

    ``events`` holds the events that the same ``feed`` completed before the bound was hit.
    """

    events: List[ServerSentEvent] = []


class LineTooLong(StreamTooLarge):
    """A line of the stream is longer than the parser's ``max_line``."""


class EventTooLarge(StreamTooLarge):
    """An event's data is larger than the parser's ``max_event``."""


class StreamRefused(SSEError):
    """A client's (re)connect was answered with something other than ``200 text/event-stream``."""


class BrokerError(SSEError):
    """Base of the broker's errors."""


class BrokerClosed(BrokerError):
    """A publish or subscribe on a broker that has been closed."""


class InvalidTopic(BrokerError, InvalidValue):
    """A topic name that is not a non-empty str of at most 1 KiB without control characters."""


class InvalidEventId(BrokerError, InvalidValue):
    """A caller-given event id the wire cannot carry (CR, LF or NUL, not str, empty, over 1 KiB)."""


class InvalidBrokerURL(BrokerError, InvalidValue):
    """``Broker(url)`` with a URL that names no engine the broker runs on."""


class BrokerUnavailable(BrokerError, ConnectionError):
    """The broker's engine (e.g. Redis) could not be reached in time; nothing was published."""


class Refused(SSEError, PermissionError):
    """A broker guard refused a subscribe or publish. Answer the request with ``status``, ``headers`` and
    ``body`` (``sse_fast.auth.refusal`` does it for ASGI and WSGI): the same bytes whatever the topic, so a
    client learns nothing about which topics exist. The message (for logs, never the client) says why."""

    status: int = 403
    body: bytes = b"forbidden\n"
    headers: Tuple[Tuple[str, str], ...] = (("content-type", "text/plain; charset=utf-8"),)


class Unauthorized(Refused):
    """No credentials where they are needed, or credentials that do not hold (a bad signature, an
    algorithm not allowed, expired, not yet valid, malformed): ``401`` with ``WWW-Authenticate: Bearer``."""

    status: int = 401
    body: bytes = b"unauthorized\n"
    headers: Tuple[Tuple[str, str], ...] = (
        ("content-type", "text/plain; charset=utf-8"),
        ("www-authenticate", "Bearer"),
    )


class Forbidden(Refused):
    """Valid credentials that do not cover a topic asked for: ``403``."""


__all__ = [
    "BrokerClosed",
    "BrokerError",
    "BrokerUnavailable",
    "ClientDisconnected",
    "EventTooLarge",
    "Forbidden",
    "HTTPTransportFailed",
    "InvalidBrokerURL",
    "InvalidEventId",
    "InvalidTopic",
    "InvalidType",
    "InvalidUTF8",
    "InvalidValue",
    "LineTooLong",
    "MissingExtra",
    "NotHTTP",
    "NotJSONSerializable",
    "Refused",
    "SSEError",
    "SendTimedOut",
    "StreamClosed",
    "StreamRefused",
    "StreamTooLarge",
    "StreamingNotSupported",
    "TransportNotFound",
    "Unauthorized",
]

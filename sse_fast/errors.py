"""The error hierarchy: every error sse_fast raises on purpose is an ``SSEError``."""

from __future__ import annotations

from typing import List

from ._received import ServerSentEvent


class SSEError(Exception):
    """Base of every sse_fast error."""


class TransportNotFound(SSEError, TypeError):
    """``new_writer`` was given something that is no transport it knows."""


class NotHTTP(SSEError, ValueError):
    """The transport is not an HTTP request (a websocket or lifespan scope, say)."""


class HTTPTransportFailed(SSEError):
    """An HTTP transport was recognised but could not be opened for streaming."""


class StreamingNotSupported(SSEError):
    """The transport cannot send a response body in pieces."""


class ClientDisconnected(SSEError, ConnectionError):
    """A write was attempted after the client left or the stream was closed."""


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


class InvalidTopic(BrokerError, ValueError):
    """A topic name that is not a non-empty str of at most 1 KiB without control characters."""


class InvalidEventId(BrokerError, ValueError):
    """A caller-given event id the wire cannot carry (CR, LF or NUL, not str, empty, over 1 KiB)."""


class InvalidBrokerURL(BrokerError, ValueError):
    """``Broker(url)`` with a URL that names no engine the broker runs on."""


class BrokerUnavailable(BrokerError, ConnectionError):
    """The broker's engine (e.g. Redis) could not be reached in time; nothing was published."""

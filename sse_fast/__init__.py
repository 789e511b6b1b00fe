"""sse_fast: Server-Sent Events for Python, encoded by a compiled core."""

from ._compiled import IMPLEMENTATION
from ._endings import Ending
from ._received import ServerSentEvent
from .broker import Broker
from .context import StreamContext
from .encoder import FrameBuffer, encode, encode_comment, encode_json, encode_retry
from .errors import (
    BrokerClosed,
    BrokerError,
    BrokerUnavailable,
    ClientDisconnected,
    EventTooLarge,
    Forbidden,
    HTTPTransportFailed,
    InvalidBrokerURL,
    InvalidEventId,
    InvalidTopic,
    InvalidType,
    InvalidUTF8,
    InvalidValue,
    LineTooLong,
    MissingExtra,
    NotHTTP,
    NotJSONSerializable,
    Refused,
    SendTimedOut,
    SSEError,
    StreamClosed,
    StreamingNotSupported,
    StreamRefused,
    StreamTooLarge,
    TransportNotFound,
    Unauthorized,
)
from .event import Event
from .parse import EventParser
from .registry import open_streams, shutdown, shutdown_on_signals, shutdown_sync
from .transports import ASGIResponse, WSGIResponse, new_writer, sse_headers
from .writer import AsyncWriter, State, Writer

__version__ = "0.1.0"

__all__ = [
    "IMPLEMENTATION",
    "ASGIResponse",
    "AsyncWriter",
    "Broker",
    "BrokerClosed",
    "BrokerError",
    "BrokerUnavailable",
    "ClientDisconnected",
    "Ending",
    "Event",
    "EventParser",
    "EventTooLarge",
    "Forbidden",
    "FrameBuffer",
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
    "State",
    "ServerSentEvent",
    "StreamClosed",
    "StreamContext",
    "StreamRefused",
    "StreamTooLarge",
    "StreamingNotSupported",
    "TransportNotFound",
    "Unauthorized",
    "WSGIResponse",
    "Writer",
    "encode",
    "encode_comment",
    "encode_json",
    "encode_retry",
    "new_writer",
    "open_streams",
    "shutdown",
    "shutdown_on_signals",
    "shutdown_sync",
    "sse_headers",
]

"""sse_fast: Server-Sent Events for Python, encoded by a compiled core."""

from .broker import Broker
from .context import StreamContext
from .encoder import (
    IMPLEMENTATION,
    FrameBuffer,
    encode,
    encode_comment,
    encode_json,
    encode_retry,
)
from .errors import (
    BrokerClosed,
    BrokerError,
    BrokerUnavailable,
    ClientDisconnected,
    HTTPTransportFailed,
    InvalidBrokerURL,
    InvalidEventId,
    InvalidTopic,
    NotHTTP,
    SSEError,
    StreamingNotSupported,
    TransportNotFound,
)
from .event import Event
from .registry import open_streams, shutdown, shutdown_on_signals, shutdown_sync
from .transports import ASGIResponse, WSGIResponse, new_writer, sse_headers
from .writer import AsyncWriter, Writer

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
    "Event",
    "FrameBuffer",
    "HTTPTransportFailed",
    "InvalidBrokerURL",
    "InvalidEventId",
    "InvalidTopic",
    "NotHTTP",
    "SSEError",
    "StreamContext",
    "StreamingNotSupported",
    "TransportNotFound",
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

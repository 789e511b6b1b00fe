"""sse_fast: Server-Sent Events for Python, encoded by a compiled core."""

from .encoder import (
    IMPLEMENTATION,
    FrameBuffer,
    encode,
    encode_comment,
    encode_json,
    encode_retry,
)
from .errors import (
    ClientDisconnected,
    HTTPTransportFailed,
    NotHTTP,
    SSEError,
    StreamingNotSupported,
    TransportNotFound,
)
from .event import Event

__version__ = "0.1.0"

__all__ = [
    "IMPLEMENTATION",
    "ClientDisconnected",
    "Event",
    "FrameBuffer",
    "HTTPTransportFailed",
    "NotHTTP",
    "SSEError",
    "StreamingNotSupported",
    "TransportNotFound",
    "encode",
    "encode_comment",
    "encode_json",
    "encode_retry",
]

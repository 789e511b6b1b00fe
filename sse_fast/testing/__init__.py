"""Helpers for testing code that serves Server-Sent Events.

- ``read_events`` / ``read_response`` (and ``aread_*``): a client that reads from an endless stream, in-process
  over ASGI or over a real socket, then leaves cleanly (``client``).
- ``MemorySink`` / ``ThreadSink``: a writer with no server behind it, whose client can leave, stall or break
  on request (``sinks``), as httpx ships ``MockTransport``.
"""

from .client import EventStreamResult, aread_events, aread_response, read_events, read_response
from .sinks import MemorySink, ThreadSink

__all__ = [
    "EventStreamResult",
    "MemorySink",
    "ThreadSink",
    "aread_events",
    "aread_response",
    "read_events",
    "read_response",
]

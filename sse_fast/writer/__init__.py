"""The writers: one method set (``base``) over a sink, blocking for threads (``Writer``) or awaited for
asyncio (``AsyncWriter``, whose write-behind queue and send watchdog live in ``sender``).

A stream is in one ``State``; ``base`` says how it moves. The sink contract is in ``transports.base``.
"""

from .async_writer import AsyncWriter
from .base import DEFAULT_SEND_TIMEOUT, DONE, HEARTBEAT, BaseWriter, Default, State
from .sender import HIGH_WATER
from .sync_writer import Writer

__all__ = [
    "DEFAULT_SEND_TIMEOUT",
    "DONE",
    "HEARTBEAT",
    "HIGH_WATER",
    "AsyncWriter",
    "BaseWriter",
    "Default",
    "State",
    "Writer",
]

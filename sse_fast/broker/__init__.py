"""Publish/subscribe with replay: ``Broker`` (in-process, or Redis Streams given a ``redis://`` URL)."""

from .core import Broker, reset_frame
from .engine import EventLog
from .memory import MemoryLog

__all__ = ["Broker", "EventLog", "MemoryLog", "reset_frame"]

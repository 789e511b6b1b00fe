"""What both twins of the write path share (``_sender_py`` and the compiled ``_sender``): its two numbers,
and the undo of a cancellation."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

HIGH_WATER = 64 * 1024  # bytes an AsyncWriter queues before a write waits for the transport
MARK_EVERY = 16  # most straight writes between two marks of the loop turn (see ``Sender.write``)


def uncancel(task: Optional["asyncio.Task[Any]"]) -> int:
    """Undo one cancel request made here; returns how many are left (Python 3.11+ counts them; before,
    there is nothing to undo: 0)."""
    undo = getattr(task, "uncancel", None)
    return undo() if undo is not None else 0

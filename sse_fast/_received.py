"""What both parser twins hand out, and their default bounds: one definition, imported by each twin."""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Optional

DEFAULT_MAX_LINE = 1 << 20  # bytes in one line of the stream (1 MiB)
DEFAULT_MAX_EVENT = 16 << 20  # bytes of data in one event (16 MiB)


class ServerSentEvent(NamedTuple):
    """One dispatched event: its type, data, the last event ID then, and the reconnection time then."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: Optional[int] = None

    def json(self) -> Any:
        """``data`` read as JSON."""
        return json.loads(self.data)

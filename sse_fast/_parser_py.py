"""The pure-Python twin of ``_parser.pyx``: the same events, the same state, the same errors.

It reads what a browser's ``EventSource`` reads (the WHATWG "event stream interpretation"): bytes in any
chunks, UTF-8 with bad sequences replaced, one leading BOM dropped, lines ended by CRLF, CR or LF (also a
CRLF split between chunks), comments ignored, an event without data not dispatched, an unterminated last
event kept back. It works on bytes: line breaks and field names are ASCII, which UTF-8 never hides inside
a longer sequence, so decoding each value once gives what decoding the whole stream first would.

Each byte is looked at a bounded number of times whatever the chunking: a chunk is split by
``bytes.splitlines`` once, and a line cut between chunks waits in a ``bytearray`` that only grows.
"""

from __future__ import annotations

from typing import List, Optional

from . import _refusals
from ._received import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, ServerSentEvent

BOM = b"\xef\xbb\xbf"
_new_event = tuple.__new__  # builds the NamedTuple without its Python-level __new__


class EventParser:
    """Feed it bytes as they arrive; each ``feed`` returns the events completed by them.

    ``last_event_id`` and ``retry`` give the state to start from (a reconnection carries them over).
    A line over ``max_line`` bytes or an event with over ``max_event`` bytes of data raises ``LineTooLong``
    or ``EventTooLarge`` (both ``StreamTooLarge``), whose ``events`` are those the same feed completed first.
    """

    def __init__(
        self,
        *,
        last_event_id: Optional[str] = "",
        retry: Optional[int] = None,
        max_line: int = DEFAULT_MAX_LINE,
        max_event: int = DEFAULT_MAX_EVENT,
    ) -> None:
        self._max_line = _refusals.checked_limit("max_line", max_line)
        self._max_event = _refusals.checked_limit("max_event", max_event)
        self._last_id, self._retry = _refusals.checked_start(last_event_id, retry)
        self._id = self._last_id  # the last event ID buffer: set by "id:", copied at dispatch
        self._started = False  # the BOM check has been made
        self._held = b""  # the stream's first bytes while they may still be a BOM
        self._after_cr = False  # the last chunk ended with CR: a LF that comes next belongs to it
        self._line = bytearray()  # the start of a line not yet ended
        self._data: List[bytes] = []
        self._size = 0  # bytes of data in the event, one more per data line
        self._event = ""

    @property
    def last_event_id(self) -> str:
        """The last event ID string: what ``Last-Event-ID`` carries when reconnecting."""
        return self._last_id

    @property
    def retry(self) -> Optional[int]:
        """The reconnection time the stream asked for, in milliseconds (None until it asks)."""
        return self._retry

    @property
    def max_line(self) -> int:
        return self._max_line

    @property
    def max_event(self) -> int:
        return self._max_event

    def feed(self, chunk: bytes) -> List[ServerSentEvent]:
        """Parse ``chunk``; returns the events it completed, in order."""
        if type(chunk) is not bytes:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                _refusals.not_bytes("chunk", chunk)
            chunk = bytes(chunk)
        if not self._started:
            chunk = self._held + chunk
            if len(chunk) < 3 and BOM.startswith(chunk):
                self._held = chunk
                return []
            self._started = True
            self._held = b""
            if chunk.startswith(BOM):
                chunk = chunk[3:]
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 10:
                chunk = chunk[1:]
        if not chunk:
            return []
        lines = chunk.splitlines()
        last = chunk[-1]
        if last == 10 or last == 13:
            self._after_cr = last == 13
            tail = b""
        else:
            tail = lines.pop()
        pending = self._line
        if pending and lines:
            pending += lines[0]
            lines[0] = bytes(pending)
            pending.clear()
        events: List[ServerSentEvent] = []
        if len(pending) + len(chunk) > self._max_line:
            for i, line in enumerate(lines):
                if len(line) > self._max_line:
                    self._lines(lines[:i], events)
                    _refusals.line_too_long(len(line), self._max_line, events)
        self._lines(lines, events)
        pending += tail
        if len(pending) > self._max_line:
            _refusals.line_too_long(len(pending), self._max_line, events)
        return events

    def _lines(self, lines: List[bytes], events: List[ServerSentEvent]) -> None:
        """Interpret complete lines, appending the events they dispatch to ``events``."""
        data = self._data
        size = self._size
        for line in lines:
            if not line:  # dispatch
                self._last_id = self._id
                if data:
                    text = b"\n".join(data).decode("utf-8", "replace")
                    events.append(_new_event(ServerSentEvent, (self._event or "message", text, self._id, self._retry)))
                    data.clear()
                    size = 0
                self._event = ""
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                size += len(value) + 1
                if size > self._max_event:
                    self._size = size
                    _refusals.event_too_large(size, self._max_event, events)
                data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    self._id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self._retry = int(value)
            # a comment (empty name) or any other field is ignored
        self._size = size

"""An incremental ``text/event-stream`` parser, written from the WHATWG rules ("event stream interpretation").

It reads what a browser's ``EventSource`` reads: bytes in any chunks, UTF-8 with bad sequences replaced,
one leading BOM dropped, lines ended by CRLF, CR or LF (also when a CRLF is split between chunks),
comments ignored, an event without data not dispatched, and an unterminated last event discarded.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, List, NamedTuple, Optional


class ServerSentEvent(NamedTuple):
    """One dispatched event: its type, data, the last event ID then, and the reconnection time then."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: Optional[int] = None

    def json(self) -> Any:
        """``data`` read as JSON."""
        return json.loads(self.data)


class EventParser:
    """Feed it bytes as they arrive; each ``feed`` returns the events completed by them."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""  # decoded text not yet split into lines
        self._started = False  # the BOM check has been made
        self._after_cr = False  # the last line ended with CR: a LF that comes next belongs to it
        self._data: List[str] = []
        self._event = ""
        self._id_buffer = ""
        self.last_event_id = ""
        self.retry: Optional[int] = None

    def feed(self, chunk: bytes) -> List[ServerSentEvent]:
        """Parse ``chunk``; returns the events it completed, in order."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text:
            self._after_cr = False
            text = text.removeprefix("\n")
        self._text += text
        events: List[ServerSentEvent] = []
        start = 0
        text = self._text
        while True:
            cr = text.find("\r", start)
            lf = text.find("\n", start)
            end = min(i for i in (cr, lf, len(text)) if i >= 0)
            if end == len(text):
                break
            event = self._line(text[start:end])
            if event is not None:
                events.append(event)
            if text.startswith("\r\n", end):
                start = end + 2
            elif end == cr and end == len(text) - 1:
                start = end + 1
                self._after_cr = True
            else:
                start = end + 1
        self._text = text[start:]
        return events

    def _line(self, line: str) -> Optional[ServerSentEvent]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
        elif name == "retry" and value and all("0" <= ch <= "9" for ch in value):
            self.retry = int(value)
        return None

    def _dispatch(self) -> Optional[ServerSentEvent]:
        self.last_event_id = self._id_buffer
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self.last_event_id, self.retry)


def parse(raw: bytes) -> List[ServerSentEvent]:
    """Every event in a whole stream (an unterminated last event is discarded)."""
    return EventParser().feed(raw)

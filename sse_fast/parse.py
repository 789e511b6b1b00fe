"""Reading ``text/event-stream`` bytes: the incremental ``EventParser`` and ``parse`` for a whole stream.

``EventParser`` is the compiled core's parser when it is built, else its pure-Python twin
(``sse_fast._compiled`` decides for every compiled unit at once; type checkers see the stub ``_parser.pyi``).
Either reads what a browser's ``EventSource`` reads, by the WHATWG rules: bytes in any chunks, UTF-8 with bad
sequences replaced, one leading BOM dropped, lines ended by CRLF, CR or LF (also when a CRLF is split between
chunks), comments ignored, an event without data not dispatched, and an unterminated last event kept back. Its
cost is linear in the bytes fed, whatever the chunking, and its memory is bounded by ``max_line`` and
``max_event``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from ._compiled import load
from ._received import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, ServerSentEvent
from .errors import EventTooLarge, LineTooLong, StreamTooLarge

if TYPE_CHECKING:
    from ._parser import EventParser
else:
    EventParser = load("sse_fast._parser").EventParser


def parse(raw: bytes, *, max_line: int = DEFAULT_MAX_LINE, max_event: int = DEFAULT_MAX_EVENT) -> List[ServerSentEvent]:
    """Every event in a whole stream (an unterminated last event is discarded)."""
    return EventParser(max_line=max_line, max_event=max_event).feed(raw)


__all__ = [
    "DEFAULT_MAX_EVENT",
    "DEFAULT_MAX_LINE",
    "EventParser",
    "EventTooLarge",
    "LineTooLong",
    "ServerSentEvent",
    "StreamTooLarge",
    "parse",
]

"""httpx-sse's decoders, as ``httpx_sse._decoders`` has them: ``SSELineDecoder`` (text to lines) and
``SSEDecoder`` (lines to events, read by sse_fast's parser, so by the WHATWG rules)."""

from __future__ import annotations

from typing import List, Optional

from ...parse import EventParser
from ._models import ServerSentEvent


def _splitlines_sse(text: str) -> List[str]:
    """``text`` split on CRLF, CR and LF only (U+2028, U+0085 and the other breaks of ``str.splitlines``
    stay in the line); a break at the very end adds no empty line."""
    if not text:
        return []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.endswith(("\r", "\n")):
        lines.pop()
    return lines


class SSELineDecoder:
    """Text in pieces to whole lines, as httpx-sse splits it: a line cut between pieces waits for its end,
    and a CR at the end of a piece waits to see whether a LF follows. ``flush()`` hands over the last line.

    It works on ``str`` because its callers have text; sse_fast's parser splits the bytes of a stream itself.
    """

    def __init__(self) -> None:
        self._pieces: List[str] = []  # the start of a line not yet ended
        self._trailing_cr = False  # the last text ended with CR: a LF that comes next belongs to it

    def decode(self, text: str) -> List[str]:
        """The lines ``text`` completes, in order."""
        if self._trailing_cr:
            text = "\r" + text
        self._trailing_cr = text.endswith("\r")
        if self._trailing_cr:
            text = text[:-1]
        if not text:
            return []
        lines = _splitlines_sse(text)
        ended = text.endswith(("\r", "\n"))
        if self._pieces:
            self._pieces.append(lines[0])
            lines[0] = "".join(self._pieces)
            self._pieces = []
        if not ended:
            self._pieces = [lines.pop()]
        return lines

    def flush(self) -> List[str]:
        """The last line, if the text ended without a line break (or with a lone CR)."""
        if not self._pieces and not self._trailing_cr:
            return []
        line = "".join(self._pieces)
        self._pieces = []
        self._trailing_cr = False
        return [line]


class SSEDecoder:
    """One line at a time (without its line break) to events, as httpx-sse's ``SSEDecoder`` is used.

    The lines are read by sse_fast's ``EventParser``: an empty line dispatches the event when it has data
    (WHATWG; httpx-sse also dispatches a data-less one), and ``retry`` is the reconnection time in force.
    """

    def __init__(self) -> None:
        self._parser = EventParser()

    def decode(self, line: str) -> Optional[ServerSentEvent]:
        """The event ``line`` completes, if any."""
        # surrogatepass: a lone surrogate (never in decoded HTTP text) is read as U+FFFD, not raised
        events = self._parser.feed(line.encode("utf-8", "surrogatepass") + b"\n")
        return tuple.__new__(ServerSentEvent, events[0]) if events else None

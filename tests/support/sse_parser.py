"""An event-stream parser for the tests, written from the WHATWG HTML rules ("event stream interpretation").

It is deliberately separate from sse_fast: the tests check the encoder's bytes by reading them the
way a browser's ``EventSource`` would. One call parses a whole stream (what was received so far).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_LINE_END = re.compile(r"\r\n|\r|\n")


class Message(NamedTuple):
    """One dispatched event, as ``MessageEvent`` would show it (plus the reconnection time then)."""

    type: str
    data: str
    last_event_id: str
    retry: int | None


class Stream(NamedTuple):
    """What a stream left behind: its events, the last event ID string and the reconnection time."""

    events: list[Message]
    last_event_id: str
    retry: int | None


def parse(raw: bytes) -> Stream:
    """Interpret ``raw`` as a ``text/event-stream``; an unterminated last line or event is discarded."""
    text = raw.decode("utf-8", errors="replace")  # the WHATWG "UTF-8 decode" replaces bad sequences
    text = text.removeprefix("\ufeff")
    lines = _LINE_END.split(text)
    lines.pop()  # the piece after the last line ending is not a (complete) line

    events: list[Message] = []
    data = ""
    event_type = ""
    id_buffer = ""
    last_event_id = ""
    retry: int | None = None
    for line in lines:
        if line == "":  # dispatch
            last_event_id = id_buffer
            if data == "":
                event_type = ""
                continue
            data = data.removesuffix("\n")
            events.append(Message(event_type or "message", data, last_event_id, retry))
            data = ""
            event_type = ""
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\x00" not in value:
                id_buffer = value
        elif field == "retry" and value and all("0" <= ch <= "9" for ch in value):
            retry = int(value)
        # any other field is ignored
    return Stream(events, last_event_id, retry)


def normalise(text: str) -> str:
    """``text`` with CRLF and lone CR turned into LF, as the parser sees data lines."""
    return text.replace("\r\n", "\n").replace("\r", "\n")

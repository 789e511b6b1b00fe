"""``last_event_id``: where a reconnecting client wants the stream to resume, read as untrusted input.

The id comes from the ``Last-Event-ID`` header (what ``EventSource`` sends when it reconnects), or else
from a ``lastEventId`` query parameter (for a client that opens a fresh ``EventSource`` itself). It is
checked with the encoder's own rules for an id (no CR, LF or NUL; valid UTF-8) and must be at most
``MAX_ID_BYTES`` bytes. An empty or missing value gives ``None`` (a fresh start); a value that is present
but invalid gives ``UNREADABLE``, an id no event can have, so resumption code answers it as it answers any
unknown id (the broker: with its reset frame) instead of starting afresh with a silent gap. A bad id never
raises and is never echoed, so a client cannot break the stream with it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qs

from .encoder import encode
from .errors import InvalidValue

MAX_ID_BYTES = 1024
HEADER = "last-event-id"
QUERY = "lastEventId"
UNREADABLE = "\x00"  # a sent id no event can have: NUL is refused in ids, so it is never written back either

HeaderSource = Union[Mapping[Any, Any], Iterable[Tuple[Any, Any]], None]
QuerySource = Union[Mapping[str, Any], str, bytes, None]


def last_event_id(headers: HeaderSource, query: QuerySource = None) -> Optional[str]:
    """The validated resumption id from ``headers``, else from ``query``; ``None`` if absent, ``UNREADABLE``
    if present but invalid (over ``MAX_ID_BYTES``, not UTF-8, CR, LF or NUL).

    ``headers``: any mapping (case-insensitive or not) or ``(name, value)`` pairs, str or bytes (an ASGI
    scope's ``headers``); a str value is taken as Latin-1-decoded bytes, as ASGI, WSGI, Starlette and
    Django give it. ``query``: a mapping of decoded parameters or a raw query string. A header that is
    present but invalid does not fall back to the query: the client's header is the answer.
    """
    value = _header(headers)
    if value is None or value == "" or value == b"":
        return _checked(_query(query))
    return _checked(_header_text(value), present=True)


def _checked(value: Any, present: bool = False) -> Optional[str]:
    """``value`` if valid; None if absent or empty; else ``UNREADABLE``."""
    if (value is None or value == "") and not present:
        return None
    return valid_id(value) or UNREADABLE


def valid_id(value: Any) -> Optional[str]:
    """``value`` if it is a non-empty str the encoder would write as an id, at most ``MAX_ID_BYTES``
    bytes of UTF-8; else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        frame = encode(None, id=value)
    except InvalidValue:
        return None
    if len(frame) - len(b"id: \n\n") > MAX_ID_BYTES:
        return None
    return value


def from_scope(scope: Mapping[str, Any]) -> Optional[str]:
    """``last_event_id`` of an ASGI HTTP scope."""
    return last_event_id(scope.get("headers") or (), scope.get("query_string") or b"")


def from_environ(environ: Mapping[str, Any]) -> Optional[str]:
    """``last_event_id`` of a WSGI environ."""
    return last_event_id({HEADER: environ.get("HTTP_LAST_EVENT_ID")}, environ.get("QUERY_STRING") or "")


def _header(headers: HeaderSource) -> Any:
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        value = headers.get(HEADER)
        if value is not None:
            return value
        headers = headers.items()
    for name, value in headers:
        raw = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
        if raw.lower() == HEADER:
            return value
    return None


def _query(query: QuerySource) -> Any:
    if query is None:
        return None
    if isinstance(query, (str, bytes, bytearray)):
        raw = query.decode("latin-1") if isinstance(query, (bytes, bytearray)) else query
        values = parse_qs(raw, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
        found = values.get(QUERY)
        return found[0] if found else None
    return query.get(QUERY)


def _header_text(value: Any) -> Optional[str]:
    """Header bytes are read as UTF-8, as browsers send them; a str is taken to be those bytes decoded
    as Latin-1 (as ASGI, WSGI, Starlette and Django give them) and read back the same way."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        return value  # already real text (code points above U+00FF)
    except UnicodeDecodeError:
        return None


__all__ = [
    "HEADER",
    "MAX_ID_BYTES",
    "QUERY",
    "UNREADABLE",
    "HeaderSource",
    "QuerySource",
    "from_environ",
    "from_scope",
    "last_event_id",
    "valid_id",
]

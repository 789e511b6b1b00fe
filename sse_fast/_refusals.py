"""The errors both encoder twins and both parser twins raise, built in one place so their types and
messages never drift: ``InvalidValue`` (a ``ValueError``) and ``InvalidUTF8``, ``InvalidType`` and
``NotJSONSerializable`` (``TypeError``s), ``LineTooLong`` and ``EventTooLarge``.

Each function raises (the twins call them only after they have found the bad input), but for the two
checks both parser twins make of their arguments (``checked_limit``, ``checked_start``), which return what
they were given when it is valid.
"""

from __future__ import annotations

from typing import Any, List, NoReturn, Optional, Tuple

from .errors import (
    EventTooLarge,
    InvalidType,
    InvalidUTF8,
    InvalidValue,
    LineTooLong,
    NotJSONSerializable,
    StreamTooLarge,
)

TEXT_TYPES = "str, bytes, bytearray or memoryview"
FRAGMENT = "orjson output (an orjson.Fragment)"  # only a Fragment puts bytes orjson did not write in its output
MAX_RETRY = 2**31 - 1  # the largest retry clients' timers take; past it node's eventsource reconnects every 1 ms


def shown(value: Any) -> str:
    """A short repr of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def not_text(what: str, value: Any, *, none_allowed: bool = False) -> NoReturn:
    expected = TEXT_TYPES + (" or None" if none_allowed else "")
    raise InvalidType(f"{what} must be {expected}, got {type(value).__name__}")


def not_str(what: str, value: Any) -> NoReturn:
    raise InvalidType(f"{what} must be str or None, got {type(value).__name__}: {shown(value)}")


def line_break_in(what: str, value: str) -> NoReturn:
    raise InvalidValue(f"{what} must be a single line without '\\r' or '\\n', got {shown(value)}")


def nul_in_id(value: str) -> NoReturn:
    raise InvalidValue(f"id must not contain NUL ('\\x00'), browsers ignore such ids; got {shown(value)}")


def not_utf8(what: str, value: str, exc: UnicodeEncodeError) -> NoReturn:
    raise InvalidValue(
        f"{what} must be encodable as UTF-8, got a lone surrogate {value[exc.start]!r} at index {exc.start}"
    ) from None


def not_utf8_bytes(what: str, given: str, exc: UnicodeDecodeError) -> NoReturn:
    bad = exc.object[exc.start : exc.end]
    raise InvalidUTF8(
        f"{what} must be valid UTF-8 (browsers would show U+FFFD, some clients stop reading the stream), "
        f"got {given} with {exc.reason} {bytes(bad)!r} at byte {exc.start}"
    ) from None


def bad_retry(value: Any) -> NoReturn:
    if isinstance(value, int) and not isinstance(value, bool):
        if value > MAX_RETRY:
            raise InvalidValue(
                f"retry must be at most {MAX_RETRY} ms (2**31 - 1): clients' timers overflow past it and "
                f"reconnect at once; got {value}"
            )
        raise InvalidValue(f"retry must be a non-negative int (milliseconds), got {value}")
    raise InvalidValue(f"retry must be a non-negative int (milliseconds), got {type(value).__name__}: {shown(value)}")


def not_json(obj: Any, exc: Exception) -> NoReturn:
    raise NotJSONSerializable(
        f"cannot encode {type(obj).__name__} as JSON: {exc}; pass default= to convert values orjson does not know"
    ) from exc


def not_bytes(what: str, value: Any) -> NoReturn:
    raise InvalidType(f"{what} must be bytes, bytearray or memoryview, got {type(value).__name__}")


def bad_limit(what: str, value: Any) -> NoReturn:
    raise InvalidValue(f"{what} must be a positive int (bytes), got {type(value).__name__}: {shown(value)}")


def checked_limit(what: str, value: Any) -> int:
    """``value`` if it is a positive int, else the refusal both twins raise."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        bad_limit(what, value)
    return value


def checked_start(last_event_id: Any, retry: Any) -> Tuple[str, Optional[int]]:
    """The ``(last_event_id, retry)`` a parser starts from, checked as both twins check them."""
    if last_event_id is None:
        last_event_id = ""
    elif not isinstance(last_event_id, str):
        not_str("last_event_id", last_event_id)
    if retry is not None and (not isinstance(retry, int) or isinstance(retry, bool) or retry < 0):
        bad_retry(retry)
    return last_event_id, retry


def _too_large(error: type, exc_text: str, events: List[Any]) -> NoReturn:
    exc: StreamTooLarge = error(exc_text)
    exc.events = events
    raise exc


def line_too_long(size: int, limit: int, events: List[Any]) -> NoReturn:
    _too_large(
        LineTooLong,
        f"a line of the event stream reached {size} bytes, over max_line={limit}; "
        "raise max_line if the stream is meant to send such lines",
        events,
    )


def event_too_large(size: int, limit: int, events: List[Any]) -> NoReturn:
    _too_large(
        EventTooLarge,
        f"an event's data reached {size} bytes, over max_event={limit}; "
        "raise max_event if the stream is meant to send such events",
        events,
    )

"""The pure-Python twin of ``_encoder.pyx``: the same functions, the same bytes, the same errors.

Checks run in wire order (id, event, retry, then data); a text field is first encoded as UTF-8,
then searched for line breaks, then (id only) for NUL. Nothing is returned when a check fails.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import orjson

from . import _refusals

_TEXT = (bytes, bytearray)


def _utf8(what: str, value: str) -> bytes:
    try:
        return str.encode(value, "utf-8")  # the text itself, whatever a subclass overrides
    except UnicodeEncodeError as exc:
        _refusals.not_utf8(what, value, exc)


def _field(what: str, value: Any) -> bytes:
    """The UTF-8 bytes of an ``id`` or ``event`` value, refused if it would break the frame."""
    if not isinstance(value, str):
        _refusals.not_str(what, value)
    raw = _utf8(what, value)
    if b"\n" in raw or b"\r" in raw:
        _refusals.line_break_in(what, value)
    if what == "id" and b"\x00" in raw:
        _refusals.nul_in_id(value)
    return raw


def _retry(value: Any) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _refusals.MAX_RETRY:
        _refusals.bad_retry(value)
    return b"%d" % value


def _head(event: Optional[str], id: Optional[str], retry: Optional[int]) -> bytes:
    head = b""
    if id is not None:
        head += b"id: " + _field("id", id) + b"\n"
    if event is not None:
        head += b"event: " + _field("event", event) + b"\n"
    if retry is not None:
        head += b"retry: " + _retry(retry) + b"\n"
    return head


def _valid(raw: bytes, what: str, given: str) -> bytes:
    """``raw``, refused unless it is valid UTF-8 (the stream's encoding)."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _refusals.not_utf8_bytes(what, given, exc)
    return raw


def _text(what: str, value: Any) -> bytes:
    if isinstance(value, str):
        return _utf8(what, value)  # valid UTF-8 by construction
    if isinstance(value, _TEXT):
        return _valid(bytes(value), what, type(value).__name__)
    if isinstance(value, memoryview):
        return _valid(value.tobytes(), what, "memoryview")
    _refusals.not_text(what, value, none_allowed=what == "data")


def _lines(prefix: bytes, raw: bytes) -> bytes:
    """``prefix`` before every line of ``raw`` (split on CRLF, CR and LF), each ended by LF."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return prefix + raw.replace(b"\n", b"\n" + prefix) + b"\n"


def encode(data: Any, event: Optional[str] = None, id: Optional[str] = None, retry: Optional[int] = None) -> bytes:
    head = _head(event, id, retry)
    if data is None:
        return head + b"\n"
    return head + _lines(b"data: ", _text("data", data)) + b"\n"


def encode_json(
    obj: Any,
    event: Optional[str] = None,
    id: Optional[str] = None,
    retry: Optional[int] = None,
    default: Optional[Callable[[Any], Any]] = None,
) -> bytes:
    head = _head(event, id, retry)
    try:
        payload = orjson.dumps(obj, default=default)
    except TypeError as exc:
        _refusals.not_json(obj, exc)
    # Checked and split like any data: an orjson.Fragment may hold any bytes, raw line breaks included.
    return head + _lines(b"data: ", _valid(payload, "JSON data", _refusals.FRAGMENT)) + b"\n"


def encode_comment(text: Any) -> bytes:
    return _lines(b": ", _text("comment", text)) + b"\n"


def encode_retry(ms: Any) -> bytes:
    return b"retry: " + _retry(ms) + b"\n\n"


class FrameBuffer:
    """Frames gathered for one write; ``take()`` hands them over and keeps the memory for the next batch."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def add(
        self, data: Any, event: Optional[str] = None, id: Optional[str] = None, retry: Optional[int] = None
    ) -> None:
        self._buf += encode(data, event, id, retry)

    def add_json(
        self,
        obj: Any,
        event: Optional[str] = None,
        id: Optional[str] = None,
        retry: Optional[int] = None,
        default: Optional[Callable[[Any], Any]] = None,
    ) -> None:
        self._buf += encode_json(obj, event, id, retry, default)

    def add_comment(self, text: Any) -> None:
        self._buf += encode_comment(text)

    def add_retry(self, ms: Any) -> None:
        self._buf += encode_retry(ms)

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out

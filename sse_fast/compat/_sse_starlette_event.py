"""sse-starlette's event classes (``ServerSentEvent``, ``JSONServerSentEvent``, ``ensure_bytes``) on sse_fast's core.

The bytes are sse-starlette 3.x's: a comment first, then ``id``, ``event``, the ``data`` lines and ``retry``
last, every line ended by ``sep`` (``"\\r\\n"`` unless told). The core writes ``\\n`` line ends and never
leaves a bare CR or LF inside a line (data and comments are split on CRLF, CR and LF; ids and event names
with a line break are refused; JSON escapes them), so every ``\\n`` it writes is a line end and one
``bytes.replace`` turns it into ``sep``. No starlette import here.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import orjson

from .. import _refusals
from ..encoder import encode as _encode
from ..encoder import encode_comment, encode_retry
from ..errors import InvalidType, InvalidValue
from ..event import Event

SEPARATORS = ("\r\n", "\r", "\n")
_SEP_BYTES = {sep: sep.encode() for sep in SEPARATORS}
_RAW = (bytes, bytearray, memoryview)
_CONTAINERS = (dict, list, tuple)
_KEYWORDS = frozenset(("data", "event", "id", "retry", "comment", "sep"))


def check_sep(sep: str | None) -> str:
    """``sep`` itself (``"\\r\\n"`` for None); anything but CRLF, CR or LF is refused with ``InvalidValue``."""
    if sep is None:
        return "\r\n"
    if sep not in _SEP_BYTES:
        _bad_sep(sep)
    return sep


def _bad_sep(sep: object) -> NoReturn:
    raise InvalidValue(f"sep must be one of: \\r\\n, \\r, \\n, got: {sep!r}")


def _ended(frame: bytes, sep: str) -> bytes:
    """``frame`` (``\\n`` line ends) with every line ended by ``sep`` instead."""
    if sep == "\n":
        return frame
    return frame.replace(b"\n", _SEP_BYTES.get(sep) or _bad_sep(sep))


def _frame(data: Any, event: Any, id: Any, retry: Any, comment: Any) -> bytes:
    """One frame in sse-starlette's field order, with ``\\n`` line ends."""
    if data is None or type(data) is str or isinstance(data, _RAW):
        frame = _encode(data, event, id)
    elif isinstance(data, _CONTAINERS):
        frame = _encode(_json(data), event, id)  # sse-starlette would write the Python repr
    else:
        frame = _encode(str(data), event, id)
    if retry is not None:
        if not isinstance(retry, int):
            raise InvalidType("retry argument must be int")  # sse-starlette's words exactly: its tests compare them
        frame = frame[:-1] + encode_retry(retry)
    if comment is not None:
        if type(comment) is not str and not isinstance(comment, _RAW):
            comment = str(comment)
        frame = encode_comment(comment)[:-1] + frame
    return frame


def _json(data: Any) -> bytes:
    """``data`` as compact JSON: orjson, else the stdlib for what orjson refuses but it writes."""
    try:
        return orjson.dumps(data)
    except TypeError as exc:  # non-str keys, ints beyond 64 bits: sse-starlette's json.dumps writes them
        try:
            return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            _refusals.not_json(data, exc)


class ServerSentEvent:
    """sse-starlette's ``ServerSentEvent``: one event, ``encode()`` gives its bytes.

    ``data``: ``str`` and other scalars are written as ``str(data)``, ``bytes``-likes as they are, and a
    ``dict``, ``list`` or ``tuple`` as JSON. Each of its lines becomes a ``data:`` line. ``sep`` ends every
    line (``"\\r\\n"`` unless told). ``id`` or ``event`` with a line break, NUL in ``id`` and a negative
    ``retry`` are refused with ``InvalidValue`` (a ``ValueError``) when encoding.
    """

    DEFAULT_SEPARATOR = "\r\n"

    def __init__(
        self,
        data: Any | None = None,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
        sep: str | None = None,
    ) -> None:
        self.data = self._data(data)
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment
        self._sep = check_sep(sep)

    @staticmethod
    def _data(data: Any) -> Any:
        """``data`` as the event keeps it: as given here; a subclass may convert it."""
        return data

    def encode(self) -> bytes:
        """The event's bytes, every line ended by ``sep``."""
        return _ended(_frame(self.data, self.event, self.id, self.retry, self.comment), self._sep)


class JSONServerSentEvent(ServerSentEvent):
    """A ``ServerSentEvent`` whose ``data`` is turned into compact JSON text when it is made.

    Like sse-starlette (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``) but by orjson:
    the same text for valid input, except where orjson writes a float differently (see docs/migration.md).
    """

    @staticmethod
    def _data(data: Any) -> Any:
        return None if data is None else _json(data).decode()


def ensure_bytes(data: Any, sep: str) -> bytes:
    """One item of an ``EventSourceResponse`` stream as bytes, the way sse-starlette does it.

    ``bytes``-likes go out as they are; a ``ServerSentEvent`` (or ``sse_fast.Event``) by its own
    ``encode()``; a ``dict`` as ``ServerSentEvent(**data, sep=sep)`` (the caller's dict is not changed);
    anything else as ``ServerSentEvent(data, sep=sep)``.
    """
    if type(data) is str:
        return _ended(_encode(data), sep)
    if isinstance(data, _RAW):
        return bytes(data)
    if isinstance(data, (ServerSentEvent, Event)):
        return data.encode()
    if isinstance(data, dict):
        if data.keys() <= _KEYWORDS:
            get = data.get
            return _ended(_frame(get("data"), get("event"), get("id"), get("retry"), get("comment")), sep)
        return ServerSentEvent(**{**data, "sep": sep}).encode()  # a TypeError naming the unknown key
    if type(data).__module__.startswith("sse_starlette."):  # an sse_starlette event left in migrated code
        frame: bytes = data.encode()
        return frame
    return ServerSentEvent(data, sep=sep).encode()

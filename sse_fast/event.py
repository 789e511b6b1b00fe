"""``Event``: one server-sent event as a value, encoded by the selected encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .encoder import encode, encode_comment, encode_json

TEXT_TYPES = (str, bytes, bytearray, memoryview)


@dataclass(frozen=True)
class Event:
    """An event: ``data`` plus the optional ``event`` name, ``id``, ``retry`` (ms) and a ``comment``.

    ``encode()`` writes text data (``str``, ``bytes``, ...) as it is and any other data as JSON;
    ``json()`` always writes the data as JSON. A comment goes before the fields.
    """

    data: Any = None
    event: Optional[str] = None
    id: Optional[str] = None
    retry: Optional[int] = None
    comment: Optional[str] = None

    def encode(self, default: Optional[Callable[[Any], Any]] = None) -> bytes:
        """The frame's bytes: text data as it is, other data as JSON (``default`` goes to orjson)."""
        if self.data is None or isinstance(self.data, TEXT_TYPES):
            return self._commented(encode(self.data, self.event, self.id, self.retry))
        return self.json(default)

    def json(self, default: Optional[Callable[[Any], Any]] = None) -> bytes:
        """The frame's bytes with the data always JSON-encoded (a ``str`` gets its quotes)."""
        return self._commented(encode_json(self.data, self.event, self.id, self.retry, default))

    def _commented(self, frame: bytes) -> bytes:
        if self.comment is None:
            return frame
        return encode_comment(self.comment)[:-1] + frame

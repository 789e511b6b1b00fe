"""The type stub that both encoder twins (``sse_fast._encoder`` and ``sse_fast._encoder_py``) satisfy."""

from typing import Any, Callable, Optional, Union

from typing_extensions import disjoint_base

_Text = Union[str, bytes, bytearray, memoryview]

def encode(
    data: Optional[_Text], event: Optional[str] = None, id: Optional[str] = None, retry: Optional[int] = None
) -> bytes:
    """One frame: ``id``, ``event``, ``retry``, then ``data`` split on CRLF, CR and LF into ``data:`` lines."""

def encode_json(
    obj: Any,
    event: Optional[str] = None,
    id: Optional[str] = None,
    retry: Optional[int] = None,
    default: Optional[Callable[[Any], Any]] = None,
) -> bytes:
    """One frame whose data is ``orjson.dumps(obj, default=default)``."""

def encode_comment(text: _Text) -> bytes:
    """A comment frame: every line of ``text`` starts with ``: ``."""

def encode_retry(ms: int) -> bytes:
    """A ``retry:`` frame telling the browser how long to wait before reconnecting."""

@disjoint_base
class FrameBuffer:
    """Frames gathered for one write; ``take()`` returns them and keeps the memory for the next batch."""

    def __init__(self) -> None: ...
    def __len__(self) -> int: ...
    def add(
        self, data: Optional[_Text], event: Optional[str] = None, id: Optional[str] = None, retry: Optional[int] = None
    ) -> None: ...
    def add_json(
        self,
        obj: Any,
        event: Optional[str] = None,
        id: Optional[str] = None,
        retry: Optional[int] = None,
        default: Optional[Callable[[Any], Any]] = None,
    ) -> None: ...
    def add_comment(self, text: _Text) -> None: ...
    def add_retry(self, ms: int) -> None: ...
    def take(self) -> bytes: ...

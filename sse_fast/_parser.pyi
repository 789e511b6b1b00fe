"""The type stub that both parser twins (``sse_fast._parser`` and ``sse_fast._parser_py``) satisfy."""

from typing import List, Optional, Union

from typing_extensions import disjoint_base

from ._received import DEFAULT_MAX_EVENT as DEFAULT_MAX_EVENT
from ._received import DEFAULT_MAX_LINE as DEFAULT_MAX_LINE
from ._received import ServerSentEvent

@disjoint_base
class EventParser:
    """Feed it bytes as they arrive; each ``feed`` returns the events completed by them."""

    def __init__(
        self,
        *,
        last_event_id: Optional[str] = "",
        retry: Optional[int] = None,
        max_line: int = ...,
        max_event: int = ...,
    ) -> None: ...
    @property
    def last_event_id(self) -> str: ...
    @property
    def retry(self) -> Optional[int]: ...
    @property
    def max_line(self) -> int: ...
    @property
    def max_event(self) -> int: ...
    def feed(self, chunk: Union[bytes, bytearray, memoryview]) -> List[ServerSentEvent]: ...

"""httpx-sse's ``ServerSentEvent``, as ``httpx_sse._models`` has it, built on sse_fast's own event tuple."""

from __future__ import annotations

from typing import Optional

from ..._received import ServerSentEvent as _Received


class ServerSentEvent(_Received):
    """httpx-sse's event: ``event`` None or ``""`` is ``"message"``, ``data`` and ``id`` None are ``""``,
    and its repr is httpx-sse's. It is also an ``sse_fast.ServerSentEvent`` (an immutable tuple)."""

    __slots__ = ()

    def __new__(
        cls,
        event: Optional[str] = None,
        data: Optional[str] = None,
        id: Optional[str] = None,
        retry: Optional[int] = None,
    ) -> ServerSentEvent:
        return tuple.__new__(cls, (event or "message", "" if data is None else data, "" if id is None else id, retry))

    def __repr__(self) -> str:
        pieces = [f"event={self.event!r}"]
        if self.data != "":
            pieces.append(f"data={self.data!r}")
        if self.id != "":
            pieces.append(f"id={self.id!r}")
        if self.retry is not None:
            pieces.append(f"retry={self.retry!r}")
        return f"ServerSentEvent({', '.join(pieces)})"

"""FastAPI: dependencies that give an endpoint the resumption id and the stream it returns.

::

    from sse_fast.integrations.fastapi import EventStream

    @app.get("/events")
    async def events(stream: EventStream):
        async def handler(writer):
            await writer.write_event_with_id("1", {"resumed_after": stream.last_event_id})
        return stream.response(handler)

``stream.response(...)`` is an ``SSEResponse`` (``sse_fast.integrations.starlette``): the writer exists
once FastAPI sends the response, so the endpoint hands over a handler (or an iterable of items) rather
than writing before it returns. ``LastEventID`` gives the id alone.
"""

# No `from __future__ import annotations` here: the FastAPI that Python 3.9 installs (0.128) cannot
# resolve string annotations on a class dependency (SSEStream.__init__).
from typing import Annotated, Any, Optional

from ._missing import missing_framework

try:
    from fastapi import Depends, Request
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.fastapi", "fastapi", "fastapi") from None

from ..resume import from_scope
from ._source import handler_for
from .starlette import SSEResponse


def last_event_id(request: Request) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of ``request``."""
    return from_scope(request.scope)


class SSEStream:
    """What the ``EventStream`` dependency gives: the request, its resumption id and ``response()``."""

    __slots__ = ("request", "last_event_id")  # one per open stream: no attribute dict

    def __init__(self, request: Request) -> None:
        self.request = request
        self.last_event_id: Optional[str] = last_event_id(request)

    def response(self, source: Any, **options: Any) -> SSEResponse:
        """An ``SSEResponse`` streaming ``source``: ``async def handler(writer)`` or a (async) iterable.

        ``options``: ``status_code``, ``headers``, ``send_timeout``, ``heartbeat``, ``default``, ``background``.
        """
        return SSEResponse(handler_for(source), **options)


EventStream = Annotated[SSEStream, Depends(SSEStream)]
LastEventID = Annotated[Optional[str], Depends(last_event_id)]

__all__ = ["EventStream", "LastEventID", "SSEResponse", "SSEStream", "last_event_id"]

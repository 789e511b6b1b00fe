"""``SSEResponse``: a Starlette / FastAPI response that streams ``handler(writer)``.

``return SSEResponse(handler)`` from an endpoint, where ``handler`` is ``async def handler(writer)``.
It is a ``starlette.responses.Response``, so FastAPI returns it as it is; the streaming itself is the
ASGI transport's (disconnect watch, handler cancelled when the client goes, body always ended).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..transports.asgi import Handler, run_handler
from ..transports.headers import sse_headers
from ..writer import DEFAULT_SEND_TIMEOUT, Default


class SSEResponse(Response):
    """Streams ``handler(writer)`` as ``text/event-stream``; ``headers`` merge over the SSE headers."""

    media_type = "text/event-stream"

    def __init__(
        self,
        handler: Handler,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        *,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = None,
        default: Default = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        self.handler = handler
        self.status_code = status_code
        self.background = background
        self.send_timeout = send_timeout
        self.heartbeat = heartbeat
        self.default = default
        self.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in sse_headers(None, headers, hop_by_hop=False)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: Any = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw_headers]
        await run_handler(
            self.handler,
            scope,
            receive,
            send,
            status=self.status_code,
            headers=headers,
            send_timeout=self.send_timeout,
            heartbeat=self.heartbeat,
            default=self.default,
        )
        if self.background is not None:
            await self.background()

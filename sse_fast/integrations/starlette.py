"""``SSEResponse``: a Starlette / FastAPI response that streams ``handler(writer)``.

``return SSEResponse(handler)`` from an endpoint, where ``handler`` is ``async def handler(writer)``.
It is a ``starlette.responses.Response``, so FastAPI returns it as it is; the streaming itself is the
ASGI transport's (disconnect watch, handler cancelled when the client goes, body always ended).
"""

from __future__ import annotations

import dataclasses
from typing import List, Mapping, Optional, Tuple

from ._missing import missing_framework

try:
    from starlette.background import BackgroundTask
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.starlette", "starlette", "fastapi") from None

from ..transports.asgi import Handler, run_handler
from ..transports.options import DEFAULT_HEARTBEAT, Options
from ..writer import DEFAULT_SEND_TIMEOUT, Default


class SSEResponse(Response):
    """Streams ``handler(writer)`` as ``text/event-stream``; ``headers`` merge over the SSE headers.

    ``status_code`` (Starlette's name) or ``status``; ``heartbeat``: seconds of silence before a
    ``: heartbeat`` comment (None or 0: none).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        handler: Handler,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        *,
        status: Optional[int] = None,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
        heartbeat: Optional[float] = DEFAULT_HEARTBEAT,
        default: Default = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        self.handler = handler
        self.options: Options = Options.shared(
            status=status_code if status is None else status,
            headers=headers,
            send_timeout=send_timeout,
            heartbeat=heartbeat,
            default=default,
        )
        self.status_code: int = self.options.status
        self.background = background
        self._raw_headers: Optional[List[Tuple[bytes, bytes]]] = None  # made when read: most never are

    @property  # Starlette's attribute, made at its first use
    def raw_headers(self) -> List[Tuple[bytes, bytes]]:
        """Starlette's view of the headers (``response.headers``, ``set_cookie`` change it); HTTP/1.x adds
        Connection. A response nobody reads it of holds no copy of the shared table."""
        if self._raw_headers is None:
            self._raw_headers = list(self.options.raw_headers("2"))
        return self._raw_headers

    @raw_headers.setter
    def raw_headers(self, value: List[Tuple[bytes, bytes]]) -> None:
        self._raw_headers = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        options = self.options
        raw = self._raw_headers
        if raw is not None and raw != options.raw_headers("2"):  # changed since (response.headers, set_cookie)
            given = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
            options = dataclasses.replace(options, headers=given)
        await run_handler(self.handler, scope, receive, send, options)
        if self.background is not None:
            await self.background()


__all__ = ["SSEResponse"]

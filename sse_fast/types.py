"""The server-facing types of sse_fast's signatures, in one place.

ASGI's are Starlette's (``starlette.types``): scope and messages are ``MutableMapping[str, Any]``, so what
a Starlette or FastAPI app, or a plain ASGI app, passes type-checks as it is. WSGI's environ is the
``dict`` that PEP 3333 prescribes.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]

__all__ = ["ASGIApp", "Environ", "Message", "Receive", "Scope", "Send", "StartResponse"]

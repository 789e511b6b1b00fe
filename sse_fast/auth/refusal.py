"""A guard's refusal as a response: ``refusal_asgi(error)`` and ``refusal_wsgi(error)`` answer the request
with the error's status, headers and fixed body (no stream, nothing about the topic)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Callable, Iterable, List

from ..errors import Refused
from ..types import ASGIApp, Environ, Receive, Scope, Send, StartResponse


def refusal_asgi(error: Refused) -> ASGIApp:
    """An ASGI app that answers with ``error``'s status, headers and body."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in error.headers]
        headers.append((b"content-length", str(len(error.body)).encode()))
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": error.body})

    return app


def refusal_wsgi(error: Refused) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """A WSGI app that answers with ``error``'s status, headers and body."""

    def app(environ: Environ, start_response: StartResponse) -> List[bytes]:
        headers = [*error.headers, ("Content-Length", str(len(error.body)))]
        start_response(f"{error.status} {HTTPStatus(error.status).phrase}", headers)
        return [error.body]

    return app


__all__ = ["refusal_asgi", "refusal_wsgi"]

"""``Credentials``: the headers and query parameters of a request that a guard may read, from whatever the
application has at hand (an ASGI scope, a WSGI environ, a Starlette/FastAPI, Flask, Django or aiohttp
request), and the bearer token among them.

A browser's ``EventSource`` cannot set headers, so a token may come three ways, in this order (as Mercure
reads them): ``Authorization: Bearer <token>``, a cookie (Mercure's default name ``mercureAuthorization``),
or an ``authorization`` query parameter.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional
from urllib.parse import parse_qs

from .._refusals import shown
from ..errors import InvalidType

COOKIE: str = "mercureAuthorization"
QUERY: str = "authorization"


class Credentials:
    """A request's headers (names in lower case, values as the server gave them, Latin-1 text) and its
    raw query string."""

    __slots__ = ("headers", "query_string")

    def __init__(self, headers: Optional[Mapping[str, str]] = None, query_string: str = "") -> None:
        self.headers: Dict[str, str] = {name.lower(): value for name, value in (headers or {}).items()}
        self.query_string: str = query_string

    def header(self, name: str) -> Optional[str]:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())

    def cookie(self, name: str) -> Optional[str]:
        """The value of cookie ``name``, or None."""
        for pair in (self.header("cookie") or "").split(";"):
            key, eq, value = pair.strip().partition("=")
            if eq and key == name:
                return value.strip().strip('"')
        return None

    def query(self, name: str) -> Optional[str]:
        """The first value of query parameter ``name``, or None."""
        values = parse_qs(self.query_string, keep_blank_values=True).get(name)
        return values[0] if values else None

    def bearer(self, cookie: Optional[str] = COOKIE, query: Optional[str] = QUERY) -> Optional[str]:
        """The token: ``Authorization: Bearer``, else the cookie ``cookie``, else the query parameter
        ``query`` (None skips that place); None if there is none. An ``Authorization`` header of another
        scheme counts as no token there."""
        scheme, _, token = (self.header("authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        found = self.cookie(cookie) if cookie else None
        if not found and query:
            found = self.query(query)
        return found or None


def credentials_of(request: Any) -> Credentials:
    """The ``Credentials`` of ``request``: an ASGI HTTP scope, a WSGI environ, a request of Starlette or
    FastAPI (``.scope``), Flask (``.environ``), Django (``.META``) or aiohttp (``.headers``,
    ``.query_string``), or ``Credentials``; None gives empty ones (a client that sent nothing)."""
    if request is None:
        return Credentials()
    if isinstance(request, Credentials):
        return request
    if isinstance(request, Mapping):
        if "REQUEST_METHOD" in request:
            return _from_environ(request)
        if "headers" in request and "query_string" in request:
            return _from_scope(request)
    for attribute, read in (("scope", _from_scope), ("environ", _from_environ), ("META", _from_environ)):
        found = getattr(request, attribute, None)
        if isinstance(found, Mapping):
            return read(found)
    headers, query = getattr(request, "headers", None), getattr(request, "query_string", None)
    if isinstance(headers, Mapping) and isinstance(query, str):
        return Credentials({str(k): str(v) for k, v in headers.items()}, query)
    raise InvalidType(
        "request must be an ASGI scope, a WSGI environ, a Starlette/FastAPI, Flask, Django or aiohttp request, "
        f"or Credentials; got {type(request).__name__}: {shown(request)}"
    )


def _from_scope(scope: Mapping[str, Any]) -> Credentials:
    headers: Dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return Credentials(headers, (scope.get("query_string") or b"").decode("latin-1"))


def _from_environ(environ: Mapping[str, Any]) -> Credentials:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if isinstance(key, str) and key.startswith("HTTP_") and isinstance(value, str)
    }
    return Credentials(headers, environ.get("QUERY_STRING") or "")


__all__ = ["COOKIE", "QUERY", "Credentials", "credentials_of"]

"""A cap on open streams, per process and per client: over it, ``503`` with ``Retry-After`` and no stream.

``StreamLimit`` counts; ``ASGILimit`` and ``WSGILimit`` wrap the app that serves the streams (any ASGI or
WSGI app: Starlette, FastAPI, Django, Flask, ``ASGIResponse``, ``WSGIResponse``) and ask it before the app
runs, so a refused request costs no writer, no handler and no response start. A stream counts from the
moment it is admitted until the app returns (ASGI) or the server closes the body (WSGI); streams already
open are never touched::

    limit = StreamLimit(per_process=10_000, per_client=8)
    app = ASGILimit(app, limit)                        # or app.add_middleware(ASGILimit, limit=limit)
    app = WSGILimit(wsgi_app, limit)
    web.Application(middlewares=[aiohttp_middleware(limit)])   # aiohttp

The client key is the peer address unless ``key`` is given: ``key(scope)`` under ASGI, ``key(environ)``
under WSGI, ``key(request)`` under aiohttp, returning any hashable (a user id, say). Code that accepts its
own connections (asyncio streams) calls ``acquire(client)`` / ``release(client)`` around each stream.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Hashable, Iterable, Iterator, Optional, Sequence, Tuple

from ._refusals import shown
from .errors import InvalidType, InvalidValue
from .types import ASGIApp, Environ, Receive, Scope, Send, StartResponse

Key = Callable[[Any], Hashable]
BODY: bytes = b"too many open streams; retry later\n"

__all__ = ["ASGILimit", "BODY", "Key", "StreamLimit", "WSGILimit", "aiohttp_middleware"]


class StreamLimit:
    """Caps on open streams: ``per_process`` in all, ``per_client`` for one client key (None: no cap).

    ``retry_after`` is the seconds a refused client is told to wait. ``admitted``, ``refused`` and
    ``open`` count since it was made; one limit may be shared by several apps of the process.
    """

    def __init__(
        self,
        per_process: Optional[int] = None,
        per_client: Optional[int] = None,
        *,
        key: Optional[Key] = None,
        retry_after: int = 5,
    ) -> None:
        self.per_process: Optional[int] = _cap("per_process", per_process)
        self.per_client: Optional[int] = _cap("per_client", per_client)
        if key is not None and not callable(key):
            raise InvalidType(f"StreamLimit key must be a callable or None, got {type(key).__name__}: {shown(key)}")
        self.key: Optional[Key] = key
        if type(retry_after) is not int or retry_after < 0:
            raise InvalidValue(f"StreamLimit retry_after must be an int of seconds >= 0, got {shown(retry_after)}")
        self.retry_after: int = retry_after
        self.open: int = 0
        self.admitted: int = 0
        self.refused: int = 0
        self._by_client: Dict[Hashable, int] = {}  # only clients with a stream open: no key outlives its streams
        self._lock = threading.Lock()

    def acquire(self, client: Hashable) -> bool:
        """Count a new stream of ``client``; False (and nothing counted) if a cap is reached."""
        with self._lock:
            held = self._by_client.get(client, 0)
            if (self.per_process is not None and self.open >= self.per_process) or (
                self.per_client is not None and held >= self.per_client
            ):
                self.refused += 1
                return False
            self._by_client[client] = held + 1
            self.open += 1
            self.admitted += 1
            return True

    def release(self, client: Hashable) -> None:
        """The stream of ``client`` that ``acquire`` admitted has ended."""
        with self._lock:
            held = self._by_client.pop(client, 0) - 1
            if held > 0:
                self._by_client[client] = held
            self.open -= 1

    def clients(self) -> int:
        """How many client keys have a stream open now."""
        with self._lock:
            return len(self._by_client)

    def headers(self) -> Tuple[Tuple[str, str], ...]:
        """The refusal's headers."""
        return (
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(BODY))),
            ("retry-after", str(self.retry_after)),
            ("cache-control", "no-store"),
        )


class ASGILimit:
    """An ASGI app that passes each HTTP request under ``paths`` (every one if None) to ``app`` while
    ``limit`` admits it, and answers ``503`` + ``Retry-After`` at once when it does not.

    Fits ``app.add_middleware(ASGILimit, limit=...)`` (Starlette, FastAPI). ``key(scope)`` names the client
    (default: the peer address).
    """

    def __init__(self, app: ASGIApp, limit: StreamLimit, *, paths: Optional[Sequence[str]] = None) -> None:
        self.app: ASGIApp = app
        self.limit: StreamLimit = _limit(limit)
        self.paths: Tuple[str, ...] = _paths(paths)
        self._refusal = [(name.encode(), value.encode()) for name, value in limit.headers()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.paths and not scope.get("path", "").startswith(self.paths)):
            await self.app(scope, receive, send)
            return
        key = self.limit.key
        client = key(scope) if key is not None else _asgi_peer(scope)
        if not self.limit.acquire(client):
            await send({"type": "http.response.start", "status": 503, "headers": self._refusal})
            await send({"type": "http.response.body", "body": BODY})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limit.release(client)


class WSGILimit:
    """A WSGI app that passes each request under ``paths`` (every one if None) to ``app`` while ``limit``
    admits it, and answers ``503`` + ``Retry-After`` at once when it does not. The stream counts until the
    server closes the body. ``key(environ)`` names the client (default: ``REMOTE_ADDR``)."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]], limit: StreamLimit, *,
                 paths: Optional[Sequence[str]] = None) -> None:  # fmt: skip
        self.app: Callable[[Environ, StartResponse], Iterable[bytes]] = app
        self.limit: StreamLimit = _limit(limit)
        self.paths: Tuple[str, ...] = _paths(paths)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.paths and not environ.get("PATH_INFO", "").startswith(self.paths):
            return self.app(environ, start_response)
        key = self.limit.key
        client = key(environ) if key is not None else environ.get("REMOTE_ADDR", "")
        if not self.limit.acquire(client):
            start_response("503 Service Unavailable", list(self.limit.headers()))
            return [BODY]
        try:
            return _Counted(self.app(environ, start_response), self.limit, client)
        except BaseException:
            self.limit.release(client)
            raise


def aiohttp_middleware(limit: StreamLimit, *, paths: Optional[Sequence[str]] = None) -> Any:
    """The same for aiohttp: ``web.Application(middlewares=[aiohttp_middleware(limit)])``. An aiohttp handler
    streams before it returns, so the stream counts until then. ``key(request)`` names the client (default:
    ``request.remote``)."""
    from .integrations._missing import missing_framework

    try:
        from aiohttp import web
    except ModuleNotFoundError as missing:
        raise missing_framework(missing, "sse_fast.limits.aiohttp_middleware", "aiohttp", "aiohttp") from None
    limit = _limit(limit)
    prefixes = _paths(paths)

    @web.middleware
    async def stream_limit(request: Any, handler: Any) -> Any:
        if prefixes and not request.path.startswith(prefixes):
            return await handler(request)
        client = limit.key(request) if limit.key is not None else (request.remote or "")
        if not limit.acquire(client):
            return web.Response(status=503, body=BODY, headers=dict(limit.headers()))
        try:
            return await handler(request)
        finally:
            limit.release(client)

    return stream_limit


class _Counted:
    """The app's body, released from the count when the server closes it (PEP 3333 calls ``close``)."""

    __slots__ = ("_body", "_limit", "_client", "_released")

    def __init__(self, body: Iterable[bytes], limit: StreamLimit, client: Hashable) -> None:
        self._body = body
        self._limit = limit
        self._client = client
        self._released = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)  # the body's own iterator: no frame of ours per chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._released:
                self._released = True
                self._limit.release(self._client)


def _asgi_peer(scope: Scope) -> Hashable:
    client = scope.get("client")
    return client[0] if client else ""


def _cap(name: str, value: Optional[int]) -> Optional[int]:
    if value is not None and (type(value) is not int or value < 0):
        raise InvalidValue(f"StreamLimit {name} must be an int >= 0 or None, got {shown(value)}")
    return value


def _limit(limit: Any) -> StreamLimit:
    if not isinstance(limit, StreamLimit):
        raise InvalidType(f"expected a sse_fast.limits.StreamLimit, got {type(limit).__name__}: {shown(limit)}")
    return limit


def _paths(paths: Optional[Sequence[str]]) -> Tuple[str, ...]:
    if paths is None:
        return ()
    if isinstance(paths, str) or not all(isinstance(p, str) for p in paths):
        raise InvalidType(f"paths must be a sequence of path prefixes (str), got {shown(paths)}")
    return tuple(paths)

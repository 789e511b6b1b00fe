"""``new_writer``: open a writer on whatever the application runs on, picked from what it is given.

Async transports (ASGI, asyncio streams) return an awaitable; WSGI, which runs in threads, returns the pair
at once::

    writer, ctx = await new_writer(scope, receive, send)
    writer, ctx = await new_writer(reader, stream_writer)   # or new_writer(stream_writer)
    writer, ctx = new_writer(environ, start_response)       # return writer.sink; write from a thread

The parts may also come as one tuple (``new_writer((scope, receive, send))``). Each form has its own
overload, so a type checker knows which pair it gets. A Starlette ``Request`` is refused with the two ways that
work: Starlette keeps the ASGI ``send`` private (a request's ``_send``), and an endpoint that wrote its own
response would have Starlette send a second one after it; an endpoint returns
``sse_fast.integrations.starlette.SSEResponse(handler)``, which Starlette calls with the ASGI send.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Coroutine, Tuple, Union, overload

from ..context import StreamContext
from ..errors import TransportNotFound
from ..types import Environ, Receive, Scope, Send, StartResponse
from ..writer import AsyncWriter, Writer
from .asgi import ASGIResponse, check_scope, open_asgi
from .headers import sse_headers
from .options import Options
from .streams import open_stream
from .wsgi import WSGIResponse, check_environ, open_wsgi

EXPECTED = (
    "expected an ASGI (scope, receive, send), a WSGI (environ, start_response), "
    "or an asyncio StreamWriter (optionally after its StreamReader)"
)
NOT_A_REQUEST = (
    "new_writer() got a Starlette Request, whose ASGI send Starlette keeps private; return "
    "sse_fast.integrations.starlette.SSEResponse(handler) from the endpoint, or in an ASGI app that has the "
    "send call new_writer(request.scope, request.receive, send)"
)

AsyncOpened = Coroutine[Any, Any, Tuple[AsyncWriter, StreamContext]]
Opened = Tuple[Writer, StreamContext]


@overload
def new_writer(scope: Scope, receive: Receive, send: Send, /, **options: Any) -> AsyncOpened: ...
@overload
def new_writer(reader: asyncio.StreamReader, stream: asyncio.StreamWriter, /, **options: Any) -> AsyncOpened: ...
@overload
def new_writer(stream: asyncio.StreamWriter, /, **options: Any) -> AsyncOpened: ...
@overload
def new_writer(environ: Environ, start_response: StartResponse, /, **options: Any) -> Opened: ...
@overload
def new_writer(transport: Tuple[Scope, Receive, Send], /, **options: Any) -> AsyncOpened: ...
@overload
def new_writer(transport: Tuple[Environ, StartResponse], /, **options: Any) -> Opened: ...


def new_writer(*transport: Any, **options: Any) -> Union[AsyncOpened, Opened]:
    """Open a writer on ``transport`` and return it with its stream context.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``heartbeat`` (15 s; None or 0: none),
    ``default`` (and ``max_buffered`` for WSGI). Raises ``TransportNotFound`` (also for a Starlette
    ``Request``, saying what to do instead), ``NotHTTP``,
    ``HTTPTransportFailed``, ``StreamingNotSupported``, or ``InvalidType`` for an unknown option.
    """
    if len(transport) == 1 and isinstance(transport[0], tuple):
        transport = transport[0]
    kind = _kind(transport)
    chosen = Options.of("new_writer", options)
    if kind == "asgi":
        scope, receive, send = transport
        check_scope(scope)
        return _opened(open_asgi(scope, receive, send, chosen), chosen)
    if kind == "streams":
        *reader, stream = transport
        return _opened(open_stream(stream, reader[0] if reader else None, chosen), chosen)
    environ, start_response = transport
    check_environ(environ)
    writer = open_wsgi(environ, start_response, chosen)
    if chosen.heartbeat:
        writer.start_heartbeat(chosen.heartbeat)
    return writer, writer.context


async def _opened(opening: Awaitable[AsyncWriter], options: Options) -> Tuple[AsyncWriter, StreamContext]:
    writer = await opening
    if options.heartbeat:
        writer.start_heartbeat(options.heartbeat)
    return writer, writer.context


def _kind(transport: Tuple[Any, ...]) -> str:
    if len(transport) == 3 and isinstance(transport[0], dict) and all(map(callable, transport[1:])):
        if "type" in transport[0]:
            return "asgi"
    if len(transport) == 2 and isinstance(transport[0], dict) and callable(transport[1]):
        if "REQUEST_METHOD" in transport[0] or "wsgi.version" in transport[0]:
            return "wsgi"
    if len(transport) == 1 and isinstance(transport[0], asyncio.StreamWriter):
        return "streams"
    if (
        len(transport) == 2
        and isinstance(transport[0], asyncio.StreamReader)
        and isinstance(transport[1], asyncio.StreamWriter)
    ):
        return "streams"
    if len(transport) == 1 and _is_starlette_request(transport[0]):
        raise TransportNotFound(NOT_A_REQUEST)
    raise TransportNotFound(f"new_writer() got {_describe(transport)}; {EXPECTED}")


def _is_starlette_request(obj: Any) -> bool:
    requests = sys.modules.get("starlette.requests")  # never imported here: only if the app uses it
    return requests is not None and isinstance(obj, requests.Request)


def _describe(transport: Tuple[Any, ...]) -> str:
    if not transport:
        return "nothing"
    names = ", ".join(type(part).__name__ for part in transport)
    return f"({names})" if len(transport) > 1 else names


__all__ = ["ASGIResponse", "Options", "WSGIResponse", "new_writer", "sse_headers"]

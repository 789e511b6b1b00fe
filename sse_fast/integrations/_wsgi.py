"""The WSGI transport's response taken apart (status, headers, body) for frameworks that build their own
response object around a body iterable (Flask, Django)."""

from __future__ import annotations

from typing import Any, Iterable, List, Tuple, Type

from ..transports.options import Options
from ..transports.wsgi import WSGIBody, serve
from ..types import Environ
from ._source import handler_for


def wsgi_parts(
    source: Any, environ: Environ, options: Options, body: Type[WSGIBody] = WSGIBody
) -> Tuple[int, List[Tuple[str, str]], Iterable[bytes]]:
    """Start ``source`` (a handler or an iterable) on a worker thread through the WSGI transport; returns the
    status code, the SSE headers and the body (a ``body``) the framework must return.

    The body's ``close()`` (which servers call when the client is gone) closes the writer.
    """
    started: List[Any] = []

    def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [int(status.split(" ", 1)[0]), headers]

    chunks = serve(handler_for(source), environ, start_response, options, body)
    return started[0], started[1], chunks

"""Flask: ``sse_response(handler_or_iterable)`` returns a ``flask.Response`` that streams it.

::

    from sse_fast.integrations.flask import last_event_id, sse_response

    @app.get("/events")
    def events():
        start = last_event_id()
        def handler(writer):
            writer.write_event_with_id("1", {"resumed_after": start})
        return sse_response(handler)

The handler (or the generator) runs on a worker thread of the WSGI transport with a copy of the request
context, writing into a bounded queue that the server drains; serve it with a threaded WSGI server
(waitress, or ``app.run(threaded=True)``). When the client leaves, the next write raises
``ClientDisconnected`` and the writer is closed.
"""

from __future__ import annotations

from typing import Any, Optional

from ._missing import missing_framework

try:
    import flask
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.flask", "flask", "flask") from None

from ..resume import from_environ
from ..transports.options import Options
from ._source import handler_for
from ._wsgi import wsgi_parts


def last_event_id(request: Optional[flask.Request] = None) -> Optional[str]:
    """The validated ``Last-Event-ID`` header (or ``lastEventId`` query parameter) of the current request."""
    return from_environ((request or flask.request).environ)


def sse_response(source: Any, **options: Any) -> flask.Response:
    """A response streaming ``source``: ``handler(writer)`` (a ``sse_fast.Writer``) or an iterable of items
    (each as JSON, an ``Event`` whole, then ``[DONE]``). Call it inside a view.

    ``options``: ``status``, ``headers``, ``send_timeout``, ``heartbeat``, ``max_buffered``, ``default``.
    """
    handler = flask.copy_current_request_context(handler_for(source))
    status, headers, body = wsgi_parts(handler, flask.request.environ, Options.of("sse_response", options))
    return flask.Response(body, status=status, headers=headers, direct_passthrough=True)


__all__ = ["last_event_id", "sse_response"]

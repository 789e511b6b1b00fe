"""The scenario apps of ``sse_apps``, served by a server in another process (see ``server_procs``).

``app`` is the ASGI app (it chains ``shutdown_on_signals`` in its lifespan startup, or at its first
request on a server without a lifespan); ``wsgi`` is the WSGI app (chained at import, in the worker).
What the handlers see goes, as JSON lines, to the file named by ``SSE_FAST_PROBE``, where
``server_procs.ProbeFile`` reads it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict

import sse_fast
from support import sse_apps

GRACE = 5.0


class FileProbe(sse_apps.Probe):
    """A ``Probe`` that also appends each value, with the time it was put, to a file."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def put(self, key: str, value: Any) -> None:
        super().put(key, value)
        line = json.dumps({"t": time.monotonic(), "pid": os.getpid(), "key": key, "value": value}) + "\n"
        with open(self._path, "a") as out:  # one short write in append mode: lines never interleave
            out.write(line)


sse_apps.PROBE = FileProbe(os.environ["SSE_FAST_PROBE"])
_chained = False


def _chain_signals() -> None:
    """``shutdown_on_signals`` once, from the main thread (where the server installed its handlers)."""
    global _chained
    if not _chained and threading.current_thread() is threading.main_thread():
        _chained = True
        sse_fast.shutdown_on_signals(grace=GRACE)
        sse_apps.PROBE.put("signals", os.getpid())


async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _chain_signals()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/ping":  # the harness's readiness check; also chains where no lifespan ran
        _chain_signals()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": scope.get("http_version", "").encode()})
        return
    await sse_apps.asgi_app(scope, receive, send)


def wsgi(environ: Dict[str, Any], start_response: Any) -> Any:
    if environ["PATH_INFO"] == "/ping":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["SERVER_PROTOCOL"].encode()]
    return sse_apps.wsgi_app(environ, start_response)


if os.environ.get("SSE_FAST_INTERFACE") == "wsgi":
    _chain_signals()  # at import, in the worker: after the server's own handlers

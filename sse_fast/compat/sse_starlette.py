"""A drop-in for ``sse_starlette``: ``from sse_fast.compat.sse_starlette import EventSourceResponse``.

The names, constructor arguments and bytes of sse-starlette 3.x, encoded by sse_fast's core. Deliberate
differences (refused unsafe input, JSON for containers) are listed in the README's compat section.
"""

from __future__ import annotations

from ._sse_starlette_event import JSONServerSentEvent, ServerSentEvent, ensure_bytes


class SendTimeoutError(TimeoutError):
    """A send to the client did not finish within ``send_timeout`` seconds."""


__all__ = ["JSONServerSentEvent", "SendTimeoutError", "ServerSentEvent", "ensure_bytes"]

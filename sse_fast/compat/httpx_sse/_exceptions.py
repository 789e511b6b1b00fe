"""httpx-sse's ``SSEError``, as ``httpx_sse._exceptions`` has it."""

from __future__ import annotations

import httpx


class SSEError(httpx.TransportError):
    """The response is not an event stream (httpx-sse's error, an ``httpx.TransportError``)."""

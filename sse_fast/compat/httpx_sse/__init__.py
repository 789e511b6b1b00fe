"""A drop-in for httpx-sse 0.4: ``connect_sse`` / ``aconnect_sse``, ``EventSource.iter_sse`` / ``aiter_sse``,
``ServerSentEvent``, ``SSEError`` and the submodules ``_api``, ``_decoders`` (``SSEDecoder``,
``SSELineDecoder``), ``_exceptions`` and ``_models`` with httpx-sse's names and behaviour, reading through
sse_fast's parser.

Change ``import httpx_sse`` to ``from sse_fast.compat import httpx_sse`` (and ``from httpx_sse... import``
to ``from sse_fast.compat.httpx_sse... import``). Beyond httpx-sse: ``connect_sse(..., last_event_id="41")``
sends ``Last-Event-ID`` to resume a stream, and ``EventSource.last_event_id`` / ``EventSource.retry`` say what
to resume from and how long the server asked to wait before reconnecting. Where it differs on purpose:
docs/migration-httpx-sse.md. Needs httpx: the ``client`` extra (``pip install ".[client]"`` in a checkout).
"""

from __future__ import annotations

from ._api import EventSource, aconnect_sse, connect_sse
from ._exceptions import SSEError
from ._models import ServerSentEvent

__version__ = "0.4.3"
"""The httpx-sse release whose API this drop-in mirrors (code that checks httpx-sse's version reads it)."""

__all__ = ["EventSource", "SSEError", "ServerSentEvent", "__version__", "aconnect_sse", "connect_sse"]

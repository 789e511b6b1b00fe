"""Relaying one SSE stream to another client: what an LLM gateway does.

``await relay(upstream, writer)`` reads an ``httpx.Response`` opened with ``client.stream(...)`` and
writes its events through an ``AsyncWriter``: names, ids and retry kept, the data passed on as text
(never decoded as JSON and encoded again), each upstream chunk's events sent as one write. It ends when
the upstream ends or the downstream client goes, and closes the upstream response either way.
"""

from __future__ import annotations

from typing import Any, List, Optional

from .encoder import EventParser, encode
from .errors import ClientDisconnected

UPSTREAM_ENDED = "upstream_ended"


async def relay(upstream: Any, writer: Any) -> str:
    """Forward ``upstream``'s events to ``writer``; returns why it ended: ``"upstream_ended"`` or the
    writer context's reason (``"client_disconnected"``, ``"closed"``, ...). The writer is left open."""
    try:
        await writer.context.run(_copy(upstream, writer))
        return UPSTREAM_ENDED
    except ClientDisconnected as exc:
        return getattr(exc, "reason", str(exc))
    finally:
        await upstream.aclose()


async def _copy(upstream: Any, writer: Any) -> None:
    parser = EventParser()
    last_id = ""
    retry: Optional[int] = None
    async for chunk in upstream.aiter_bytes():
        frames: List[bytes] = []
        for event in parser.feed(chunk):
            frames.append(
                encode(
                    event.data,
                    event=None if event.event == "message" else event.event,
                    id=None if event.id == last_id else event.id,
                    retry=None if event.retry == retry else event.retry,
                )
            )
            last_id, retry = event.id, event.retry
        if frames:
            await writer.write_frame(b"".join(frames))

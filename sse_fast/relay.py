"""Relaying one SSE stream to another client: what an LLM gateway does.

``await relay(upstream, writer)`` reads an ``httpx.Response`` opened with ``client.stream(...)`` and
writes its events through an ``AsyncWriter`` (``relay_sync`` does the same from an ``httpx.Client``
response through a ``Writer``, for WSGI gateways): names, ids and retry kept, the data passed on as text
(never decoded as JSON and encoded again), each upstream chunk's events sent as one write. It ends when
the upstream ends or breaks, or the downstream client goes, and closes the upstream response either way.
"""

from __future__ import annotations

from typing import Any, List, Optional

from ._endings import Ending
from ._refusals import MAX_RETRY
from .encoder import encode
from .errors import ClientDisconnected
from .parse import EventParser

UPSTREAM_ENDED: Ending = Ending.UPSTREAM_ENDED
UPSTREAM_LOST: Ending = Ending.UPSTREAM_LOST


async def relay(upstream: Any, writer: Any) -> str:
    """Forward ``upstream``'s events to ``writer``; returns why it ended: ``"upstream_ended"``,
    ``"upstream_lost"`` (the upstream connection broke) or the writer context's reason
    (``"client_disconnected"``, ``"closed"``, ...). The writer is left open."""
    import httpx

    try:
        await writer.context.run(_copy(upstream, writer))
        return UPSTREAM_ENDED
    except httpx.TransportError:
        return UPSTREAM_LOST
    except ClientDisconnected as exc:
        return getattr(exc, "reason", str(exc))
    finally:
        await upstream.aclose()


def relay_sync(upstream: Any, writer: Any) -> str:
    """``relay`` for a thread: an ``httpx.Client`` response to a ``Writer``. A client that leaves is seen
    at the next write, so a quiet upstream is bounded by the httpx client's read timeout."""
    import httpx

    try:
        reframe = Reframer()
        for chunk in upstream.iter_bytes():
            frames = reframe(chunk)
            if frames:
                writer.write_frame(frames)
        return UPSTREAM_ENDED
    except httpx.TransportError:
        return UPSTREAM_LOST
    except ClientDisconnected as exc:
        return getattr(exc, "reason", str(exc))
    finally:
        upstream.close()


async def _copy(upstream: Any, writer: Any) -> None:
    reframe = Reframer()
    async for chunk in upstream.aiter_bytes():
        frames = reframe(chunk)
        if frames:
            await writer.write_frame(frames)


class Reframer:
    """Upstream bytes in, the same events out as one frame blob: an id or retry is written only when it
    changes, as the upstream sent it (a retry over 2**31 - 1 ms, which clients' timers cannot take, is not
    passed on); the event name only when it is not ``message``."""

    def __init__(self) -> None:
        self._parser = EventParser()
        self._last_id = ""
        self._retry: Optional[int] = None

    def __call__(self, chunk: bytes) -> bytes:
        frames: List[bytes] = []
        for event in self._parser.feed(chunk):
            retry = event.retry
            if retry == self._retry or (retry is not None and retry > MAX_RETRY):
                retry = None
            frames.append(
                encode(
                    event.data,
                    event=None if event.event == "message" else event.event,
                    id=None if event.id == self._last_id else event.id,
                    retry=retry,
                )
            )
            self._last_id, self._retry = event.id, event.retry
        return b"".join(frames)


__all__ = ["UPSTREAM_ENDED", "UPSTREAM_LOST", "Reframer", "relay", "relay_sync"]

"""Running a handler on an open ``AsyncWriter``: the ASGI transport's ``run_handler`` and every integration
that opens its writer itself (aiohttp, Django under ASGI) share this one life.

The handler is a task the writer cancels when the client goes, the writer is closed when it ends (what
it queued is sent first), and its own errors are raised (a connection error after the stream ended is
not one).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, Optional

from ..writer import AsyncWriter


async def _call(handler: Callable[[AsyncWriter], Any], writer: AsyncWriter) -> None:
    result = handler(writer)
    if inspect.isawaitable(result):
        await result


async def run_on(
    writer: AsyncWriter, handler: Callable[[AsyncWriter], Any], heartbeat: Optional[float] = None
) -> None:
    """Run ``handler(writer)`` (async, or sync returning an awaitable) to its end, then close ``writer``."""
    task = asyncio.ensure_future(_call(handler, writer))
    writer.owner = task
    if writer.closed:  # the client left while the handler was being started
        task.cancel()
    if heartbeat:
        writer.start_heartbeat(heartbeat)
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        raise
    finally:
        await writer.close()
    if not task.cancelled():
        error = task.exception()
        if error is not None and not (writer.context.done and isinstance(error, ConnectionError)):
            raise error

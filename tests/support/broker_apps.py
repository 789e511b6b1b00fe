"""Apps that subscribe to a ``Broker`` on every transport, and the client side the broker tests share."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

import httpx
from httpx_sse import aconnect_sse

import sse_fast
from sse_fast.resume import from_environ, from_scope


def topics_of(query: str) -> List[str]:
    return parse_qs(query).get("topic", ["room"])


def asgi_app(broker: sse_fast.Broker) -> Any:
    """``GET /?topic=a&topic=b`` follows those topics, resuming from ``Last-Event-ID``."""

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        topics = topics_of(scope["query_string"].decode())
        last = from_scope(scope)
        response = sse_fast.ASGIResponse(lambda w: broker.stream(w, topics, last), send_timeout=5)
        await response(scope, receive, send)

    return app


def wsgi_app(broker: sse_fast.Broker) -> Any:
    def app(environ: Dict[str, Any], start_response: Any) -> Any:
        topics = topics_of(environ.get("QUERY_STRING", ""))
        last = from_environ(environ)
        return sse_fast.WSGIResponse(lambda w: broker.stream_sync(w, topics, last), send_timeout=5)(
            environ, start_response
        )

    return app


Got = List[Tuple[str, str, str]]  # (id, event, data)


async def read_events(
    url: str, count: int, last_id: Optional[str] = None, ready: Optional[asyncio.Event] = None, timeout: float = 10
) -> Got:
    """The first ``count`` events of the stream at ``url`` as ``(id, event, data)``."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    got: Got = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            if ready is not None:
                ready.set()
            async for sse in source.aiter_sse():
                got.append((sse.id, sse.event, sse.data))
                if len(got) >= count:
                    break
    return got

"""An app for one worker process on the Redis broker (``SSE_FAST_REDIS`` names the Redis), served by
``uvicorn support.redis_app:app`` in the multi-process tests: ``GET /?topic=..`` streams (resuming from
``Last-Event-ID``), ``POST /publish?topic=..&data=..`` publishes and answers the id, ``GET /stats``."""

from __future__ import annotations

import json
import os
from typing import Any, Dict
from urllib.parse import parse_qs

import sse_fast
from support.broker_apps import asgi_app

broker = sse_fast.Broker(os.environ["SSE_FAST_REDIS"])
stream = asgi_app(broker)


async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = parse_qs(scope["query_string"].decode())
    if scope["path"] == "/publish":
        body = (await broker.publish(query["topic"][0], query["data"][0])).encode()
    elif scope["path"] == "/stats":
        body = json.dumps({"pid": os.getpid(), **broker.stats()}).encode()
    else:
        await stream(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})

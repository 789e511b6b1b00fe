"""The app of the metrics tests: broker streams and ``/metrics``, run in one process or under
``uvicorn --workers 2`` (``PROMETHEUS_MULTIPROC_DIR`` set). Each stream's first event is its worker's pid."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import sse_fast
import sse_fast.metrics
from sse_fast.integrations.starlette import SSEResponse
from sse_fast.limits import ASGILimit, StreamLimit

broker = sse_fast.Broker()
limit = StreamLimit(per_process=1000)
sse_fast.metrics.watch(broker, limit)


async def events(request: Request) -> Any:
    follow = broker.subscriber(request.path_params["topic"])

    async def handler(writer: sse_fast.AsyncWriter) -> None:
        await writer.write_raw_event(str(os.getpid()))
        await follow(writer)

    return SSEResponse(handler, heartbeat=None)


async def publish(request: Request) -> Any:
    """Publish to the topic on this worker; answers with this worker's pid."""
    await broker.publish(request.path_params["topic"], {"n": 1})
    return PlainTextResponse(str(os.getpid()))


routes = Starlette(
    routes=[
        Route("/events/{topic}", events),
        Route("/publish/{topic}", publish, methods=["POST"]),
        Route("/ping", lambda request: PlainTextResponse("pong")),
        Mount("/metrics", sse_fast.metrics.asgi_app(interval=0.1)),
    ]
)
app = ASGILimit(routes, limit, paths=["/events"])

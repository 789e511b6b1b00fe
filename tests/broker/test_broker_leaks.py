"""5,000 subscribe/unsubscribe cycles over real connections leave no task, thread, fd or subscriber entry."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from support.broker_apps import asgi_app, wsgi_app
from support.servers import uvicorn_server, wait_until, waitress_server

import sse_fast

pytestmark = pytest.mark.slow


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def cycles(url: str, count: int, concurrency: int) -> int:
    """``count`` subscriptions, each reading its first frame (the reset frame) then leaving."""
    done = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=20, limits=limits) as client:

        async def one() -> None:
            nonlocal done
            async with gate:
                async with aconnect_sse(client, "GET", url, headers={"Last-Event-ID": "gone"}) as source:
                    async for sse in source.aiter_sse():
                        assert sse.event == "reset"
                        done += 1
                        break

        await asyncio.gather(*(one() for _ in range(count)))
    return done


def check_cycles(broker: sse_fast.Broker, serve: Any, app: Any, count: int) -> None:
    with serve(app) as server:
        url = server.url + "/?topic=a&topic=b"
        asyncio.run(cycles(url, 20, 10))  # warm up: imports, pools, worker threads
        wait_until(lambda: broker.stats()["subscribers"] == 0)
        tasks = server.tasks() if server.loop else 0
        threads, fds = threading.active_count(), open_fds()
        assert asyncio.run(cycles(url, count, 50)) == count
        wait_until(lambda: broker.stats()["subscribers"] == 0 and broker.stats()["topics"] == 0, timeout=20)
        if server.loop:
            wait_until(lambda: server.tasks() <= tasks, timeout=20)
        wait_until(lambda: threading.active_count() <= threads and open_fds() <= fds, timeout=20)
    assert broker.stats()["resets"] == count + 20
    assert not broker._topics  # no subscriber entry left behind


def test_asgi_subscribe_unsubscribe_cycles_leave_nothing_behind() -> None:
    broker = sse_fast.Broker()
    check_cycles(broker, uvicorn_server, asgi_app(broker), 5000)


def test_wsgi_subscribe_unsubscribe_cycles_leave_nothing_behind() -> None:
    broker = sse_fast.Broker()
    check_cycles(broker, waitress_server, wsgi_app(broker), 1000)

"""``python -m sse_fast demo --redis URL --workers 2`` in two headless Chromium pages: pages whose streams
are served by different worker processes see each other's messages, with the same ids (the room on a real
redis-server started here)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from support.cdp import Browser, find_chromium, wait_for
from support.redis_server import missing_reason, redis_server
from test_demo_browser import ARTIFACTS, Demo, free_port, room, say

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


def open_room(page: Browser, url: str) -> int:
    """Load the room page; the pid of the worker process serving its stream."""
    page.navigate(url + "room")
    wait_for(page, "window.room && window.room.open && window.room.worker", "the room page connecting")
    return int(room(page)["worker"])


def test_pages_on_two_worker_processes_see_each_others_messages(browser: Browser, tmp_path: Any) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    with redis_server(str(tmp_path / "redis")) as redis:
        demo = Demo(free_port(), "--redis", redis.url, "--workers", "2")
        other = Browser(find_chromium() or "chromium")
        try:
            first = open_room(browser, demo.url)
            for _ in range(30):  # the kernel hands each connection to either worker: reload until it is the other
                if open_room(other, demo.url) != first:
                    break
            second = int(room(other)["worker"])
            assert second != first, "every stream went to the same worker process"
            say(browser, "from the first worker's page")
            say(other, "from the second worker's page")
            for page in (browser, other):
                wait_for(page, "window.room.texts.length === 2", "both messages in both pages")
            assert room(browser)["texts"] == room(other)["texts"]
            assert sorted(room(browser)["texts"]) == ["from the first worker's page", "from the second worker's page"]
            assert room(browser)["ids"] == room(other)["ids"]
            other.screenshot(str(ARTIFACTS / "room-two-workers.png"))
            assert demo.interrupt() == 0
        finally:
            other.close()
            demo.kill()

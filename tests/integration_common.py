"""What the integration tests share: a record of what the server side saw, and an httpx-sse reader."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

import httpx
from httpx_sse import ServerSentEvent, connect_sse

EXPECTED_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


class Seen:
    """Values the server side reports by key; ``wait`` blocks until a key arrives (a guard against hangs)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: Dict[str, Any] = {}

    def put(self, key: str, value: Any) -> None:
        with self._cond:
            self._values[key] = value
            self._cond.notify_all()

    def wait(self, key: str, timeout: float = 5.0) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._values, timeout):
                raise AssertionError(f"the server never reported {key!r} within {timeout} s")
            return self._values[key]

    def clear(self) -> None:
        with self._cond:
            self._values.clear()


def read_sse(
    url: str, n: Optional[int] = None, headers: Optional[Dict[str, str]] = None
) -> "tuple[httpx.Headers, List[ServerSentEvent]]":
    """The response headers and the first ``n`` events (all, if ``n`` is None) read by httpx-sse; then
    the connection is closed."""
    events: List[ServerSentEvent] = []
    with (
        httpx.Client(timeout=5) as client,
        connect_sse(client, "GET", url, headers=dict(headers or {})) as source,
    ):
        assert source.response.status_code == 200
        for event in source.iter_sse():
            events.append(event)
            if n is not None and len(events) >= n:
                break
        return source.response.headers, events


def check_headers(headers: httpx.Headers) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert headers.get(name) == value, (name, headers)

"""Clients of the broker's tests: wait for N subscribers, run client coroutines together, run one in a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import sse_fast
from support.servers import wait_until


def subscribers(broker: sse_fast.Broker, n: int) -> None:
    wait_until(lambda: broker.stats()["subscribers"] == n)


def run_clients(*coros: Any) -> List[Any]:
    async def main() -> List[Any]:
        return list(await asyncio.gather(*coros))

    return asyncio.run(main())


def in_thread(fn: Any) -> Any:
    """Run ``fn()`` in a thread; ``.join()`` returns its result."""
    out: List[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # handed to join()
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    class Joined:
        def join(self, timeout: float = 30) -> Any:
            thread.join(timeout)
            assert not thread.is_alive(), f"the client thread did not finish within {timeout} s"
            if isinstance(out[0], BaseException):
                raise out[0]
            return out[0]

    return Joined()

"""pytest fixtures for the transport tests: one real server per transport, started once per module.

Import ``server_fixture`` and ``client_fixture`` into a test module to use ``server`` and ``client``.
"""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from support.servers import TRANSPORTS, Server, serve
from support.sse_apps import PROBE


@pytest.fixture(name="server", scope="module", params=TRANSPORTS)
def server_fixture(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        running.kind = request.param  # type: ignore[attr-defined]
        yield running


@pytest.fixture(name="client")
def client_fixture(server: Server) -> Iterator[httpx.Client]:
    PROBE.clear()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http

"""After a frozen client (one that reads nothing) is dropped at ``send_timeout``: does the server release its
socket while the client stays connected? In-process servers here; the server processes of
tests/transports/test_servers.py (uvicorn, hypercorn, granian, daphne, gunicorn) in its
``test_a_dropped_frozen_client_gets_its_socket_released``. What each does: docs/shutdown.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Callable

import pytest
from support import sse_apps
from support.held_sockets import holds
from support.servers import Server, asyncio_server, frozen_request, wait_until, waitress_server
from support.sse_apps import PROBE

RELEASE_GUARD = 5.0  # seconds given to the server to release the socket after the drop

SERVERS: dict[str, Callable[[], AbstractContextManager[Server]]] = {
    "asyncio streams": lambda: asyncio_server(sse_apps.streams_handler),
    "waitress": lambda: waitress_server(sse_apps.wsgi_app),
    # channel_timeout closes idle channels only, which this one is not
    "waitress, channel_timeout=1": lambda: waitress_server(sse_apps.wsgi_app, channel_timeout=1, cleanup_interval=1),
}
_WAITRESS = (
    "waitress keeps the channel while its request's task still runs: the task waits in write_soon() for the "
    "output buffer to fall below outbuf_high_watermark, which a client that reads nothing never lets happen; "
    "channel_timeout closes idle channels only, so it does not help"
)
KEEPS_THE_SOCKET = {"waitress": _WAITRESS, "waitress, channel_timeout=1": _WAITRESS}


@pytest.fixture(name="server", params=list(SERVERS))
def server_fixture(request: pytest.FixtureRequest) -> Iterator[Server]:
    if request.param in KEEPS_THE_SOCKET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KEEPS_THE_SOCKET[request.param]))
    PROBE.clear()
    with SERVERS[request.param]() as running:
        yield running
    PROBE.clear()


def test_a_dropped_frozen_client_gets_its_socket_released(server: Server) -> None:
    sock = frozen_request(server.port)
    try:
        reason, _, _ = PROBE.get("frozen", timeout=20)
        assert reason == "send_timeout"
        client_port = sock.getsockname()[1]
        wait_until(lambda: not holds(os.getpid(), client_port), RELEASE_GUARD)  # the client stays, frozen
    finally:
        sock.close()

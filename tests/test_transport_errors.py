"""A handler that raises, on every transport: what it wrote arrives whole, the body is cut off (no last chunk,
so a client can tell the failure from an end) and the error is logged once, by the server (uvicorn, waitress,
asyncio's handler of a connection callback's error)."""

from __future__ import annotations

from integration_common import check_cut_off
from servers import Server
from transport_fixtures import server_fixture  # noqa: F401  (fixtures)

import sse_fast


def test_a_handler_that_raises_cuts_the_body_off_after_what_it_wrote(server: Server) -> None:
    check_cut_off(server.port, "/fails")
    assert not sse_fast.open_streams()

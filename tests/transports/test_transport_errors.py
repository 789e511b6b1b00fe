"""A handler that raises, on every transport: what it wrote arrives whole, the body is cut off (no last chunk,
so a client can tell the failure from an end) and the error is logged once, by the server (uvicorn, waitress,
asyncio's handler of a connection callback's error)."""

from __future__ import annotations

import httpx
from support.integration_common import check_cut_off, logged_errors, wait_for_one
from support.servers import Server, leave_after_first_event
from support.transport_fixtures import server_fixture  # noqa: F401  (fixtures)

import sse_fast


def test_a_handler_that_raises_cuts_the_body_off_after_what_it_wrote(server: Server) -> None:
    check_cut_off(server.port, "/fails")
    assert not sse_fast.open_streams()


def test_a_handler_that_raises_after_its_client_left_is_logged_once(server: Server) -> None:
    # no client sees it: the server logs it (uvicorn, asyncio's handler), or sse_fast where none can (WSGI)
    with logged_errors() as records, httpx.Client(base_url=server.url, timeout=10) as client:
        leave_after_first_event(client, "/fails_late")
        record = wait_for_one(records)
    logger = {"asgi": "uvicorn.error", "wsgi": "sse_fast.transports.wsgi", "streams": "asyncio"}
    assert record.name == logger[server.kind]  # type: ignore[attr-defined]

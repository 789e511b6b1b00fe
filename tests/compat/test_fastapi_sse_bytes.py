"""FastAPI's native SSE under sse_fast's switch sends FastAPI's bytes: the same app, with its router's
``route_class`` FastAPI's ``APIRoute`` and sse_fast's ``SSERoute``, called as an ASGI app on the same items
(Hypothesis draws them), gives the same status, headers and body; and the same OpenAPI schema."""

import asyncio
import math
from typing import Any, AsyncIterable, Dict, Iterable, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

fastapi = pytest.importorskip("fastapi")
sse = pytest.importorskip("fastapi.sse")

from fastapi import APIRouter, Depends, FastAPI, Response  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402
from fastapi.sse import EventSourceResponse, ServerSentEvent, format_sse_event  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from sse_fast._refusals import MAX_RETRY  # noqa: E402
from sse_fast.errors import InvalidValue  # noqa: E402
from sse_fast.integrations.fastapi_sse import SSERoute, event_frame  # noqa: E402


class Item(BaseModel):
    name: str
    price: float
    tags: List[str] = []
    note: Optional[str] = None


ITEMS: List[Any] = []  # what the path operations yield, set by each example


def accept(response: Response) -> None:
    response.status_code = 202  # over the path operation's status_code
    response.headers["X-From-Dependency"] = "1"
    response.headers["Cache-Control"] = "private"  # FastAPI sends both: its own and this one


def make_app(route_class: type) -> FastAPI:
    """One app: untyped, typed (with response_model_exclude_none), sync, and a dependency-set status/headers."""
    router = APIRouter(route_class=route_class)

    @router.get("/untyped", response_class=EventSourceResponse)
    async def untyped():  # type: ignore[no-untyped-def]
        for item in ITEMS:
            yield item

    @router.post("/typed", response_class=EventSourceResponse, response_model_exclude_none=True)
    async def typed() -> AsyncIterable[Item]:
        for item in ITEMS:
            yield item

    @router.get("/sync", response_class=EventSourceResponse)
    def sync() -> Iterable[Item]:
        yield from ITEMS

    @router.get("/accepted", response_class=EventSourceResponse, status_code=201)
    async def accepted(_: None = Depends(accept)) -> AsyncIterable[Item]:
        for item in ITEMS:
            yield item

    app = FastAPI()
    app.include_router(router, prefix="/api")
    return app


NATIVE, SWITCHED = make_app(APIRoute), make_app(SSERoute)


async def call(app: FastAPI, path: str, method: str = "GET") -> Tuple[int, List[Tuple[bytes, bytes]], bytes, bool]:
    """Status, headers, body and whether the body was ended, of one request."""
    start: Dict[str, Any] = {}
    body: List[bytes] = []
    ended = [False]

    async def send(message: Dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            body.append(message.get("body", b""))
            ended[0] = not message.get("more_body", False)

    async def receive() -> Dict[str, Any]:
        await asyncio.Event().wait()  # a client that stays
        return {}  # pragma: no cover

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [], "server": ("test", 80), "client": ("test", 1),
    }  # fmt: skip
    await app(scope, receive, send)
    return start["status"], start["headers"], b"".join(body), ended[0]


def both(path: str, method: str = "GET") -> Tuple[Any, Any]:
    return asyncio.run(call(NATIVE, path, method)), asyncio.run(call(SWITCHED, path, method))


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text()
)
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8
)
line = st.text().filter(lambda s: "\r" not in s and "\n" not in s)
items_ = st.builds(Item, name=st.text(), price=st.floats(allow_nan=False), tags=st.lists(st.text(), max_size=2),
                   note=st.none() | st.text())  # fmt: skip
events = st.builds(
    ServerSentEvent,
    data=st.none() | json_value | items_,
    event=st.none() | line,
    id=st.none() | line.filter(lambda s: "\0" not in s),
    retry=st.none() | st.integers(min_value=0, max_value=MAX_RETRY),  # beyond it: refused (test below)
    comment=st.none() | st.text(),
) | st.builds(ServerSentEvent, raw_data=st.text(), event=st.none() | line, comment=st.none() | st.text())


@given(st.lists(json_value | items_ | events, max_size=6))
def test_untyped_items_give_fastapis_bytes(items: List[Any]) -> None:
    ITEMS[:] = items
    native, switched = both("/api/untyped")
    assert switched == native
    assert native[3]  # the body was ended


@given(st.lists(items_ | items_.map(lambda item: item.model_dump()) | events, max_size=6))
def test_typed_and_sync_items_give_fastapis_bytes(items: List[Any]) -> None:
    ITEMS[:] = items
    for path, method in (("/api/typed", "POST"), ("/api/sync", "GET")):
        native, switched = both(path, method)
        assert switched == native


def test_status_and_headers_set_by_a_dependency() -> None:
    ITEMS[:] = [Item(name="a", price=1)]
    native, switched = both("/api/accepted")
    assert switched == native
    assert native[0] == 202
    assert (b"cache-control", b"no-cache") in native[1] and (b"cache-control", b"private") in native[1]
    assert (b"x-accel-buffering", b"no") in native[1]


@given(events)
def test_event_frame_is_format_sse_event(event: ServerSentEvent) -> None:
    """Checked against ``format_sse_event`` given the data the way FastAPI's router serializes it."""
    data = event.raw_data
    if data is None and event.data is not None:
        data = event_frame(ServerSentEvent(raw_data=None, data=event.data)).decode()[len("data: ") : -2]
    expected = format_sse_event(data_str=data, event=event.event, id=event.id, retry=event.retry, comment=event.comment)
    assert event_frame(event) == expected


def test_a_retry_clients_cannot_time_is_refused_where_fastapi_writes_it() -> None:
    """FastAPI writes ``retry: 2147483648``; browsers' and eventsource's timers overflow on it and reconnect at
    once, so sse_fast refuses it, with the encoder's own error, and writes nothing."""
    assert format_sse_event(retry=MAX_RETRY + 1).startswith(b"retry: 2147483648")
    with pytest.raises(InvalidValue, match="at most 2147483647"):
        event_frame(ServerSentEvent(data="x", retry=MAX_RETRY + 1))


def test_fixed_frames() -> None:
    nan = float("nan")
    assert math.isnan(nan)
    assert event_frame(ServerSentEvent()) == b"\n"
    assert event_frame(ServerSentEvent(comment="a\nb")) == b": a\n: b\n\n"
    assert event_frame(ServerSentEvent(data={"x": [1, nan]}, event="e", id="7", retry=0, comment="c")) == (
        b': c\nevent: e\ndata: {"x": [1, null]}\nid: 7\nretry: 0\n\n'
    )
    assert event_frame(ServerSentEvent(raw_data="a\r\nb\rc", id="")) == b"data: a\ndata: b\ndata: c\nid: \n\n"


def test_same_openapi_schema() -> None:
    assert SWITCHED.openapi() == NATIVE.openapi()

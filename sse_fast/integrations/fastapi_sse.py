"""FastAPI's own Server-Sent Events (``fastapi.sse``), streamed by sse_fast's writer.

One line, before the application declares its routes, and the application's code stays as it is::

    import sse_fast.integrations.fastapi_sse

    sse_fast.integrations.fastapi_sse.install()

or per router: ``APIRouter(route_class=SSERoute)``. Every path operation that yields with
``response_class=EventSourceResponse`` then streams through sse_fast's ASGI transport and ``AsyncWriter``
instead of FastAPI's memory streams and keepalive task (the generator still runs in a task of its own, as in
FastAPI's producer task). What stays FastAPI's: dependencies, request validation, the validation and
serialization of each item (the pydantic calls its functions make, so the bytes are
``fastapi.sse.format_sse_event``'s and the errors its own), status codes, headers, the OpenAPI schema, the
keepalive comment and its interval (``fastapi.routing._PING_INTERVAL``), sync generators in the thread pool.
What sse_fast adds: the client's leave noticed at once (the generator is closed there), every send bounded by
``send_timeout``, bursts sent in few writes, ``sse_fast.shutdown``. Differences: docs/fastapi-native-sse.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import threading
from contextvars import ContextVar
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Dict, Generator, Iterator, Optional, Union, cast

from ._missing import missing_framework

try:
    import fastapi.exceptions
    import fastapi.routing
    from fastapi._compat import lenient_issubclass
    from fastapi.datastructures import DefaultPlaceholder
    from fastapi.encoders import jsonable_encoder
    from fastapi.routing import APIRoute
    from fastapi.sse import EventSourceResponse, ServerSentEvent
    from pydantic import ValidationError
    from starlette.background import BackgroundTask
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send
except ModuleNotFoundError as _absent:
    raise missing_framework(_absent, "sse_fast.integrations.fastapi_sse", "fastapi", "fastapi") from None

from ..encoder import encode, encode_comment, encode_retry
from ..errors import ClientDisconnected
from ..transports.asgi import run_handler
from ..transports.options import Options
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter

# FastAPI's router internals this module calls as FastAPI does (its keepalive, its serialization helpers, its
# error with endpoint context): read per use, untyped, as they are not public (and older FastAPI has none).
_routing: Any = fastapi.routing
_exceptions: Any = fastapi.exceptions

# As the installed FastAPI does it: non-finite floats become null in 0.152 (0.141 and before: json.dumps's NaN),
# routes of included routers are built for a context of their own in 0.141 (0.135: copied routes).
_normalize: Callable[[Any], Any] = getattr(_routing, "_normalize_non_finite_floats", lambda data: data)
_route_context: Optional[ContextVar[Any]] = getattr(_routing, "_effective_route_context_var", None)

RouteHandler = Callable[..., Any]
_writer: ContextVar[AsyncWriter] = ContextVar("sse_fast_fastapi_writer")
Content = Union[AsyncIterator[Any], Iterator[Any]]


class Items:
    """How one path operation's items become frames: validated and serialized by the pydantic calls FastAPI's
    router makes (its ``ModelField``'s ``TypeAdapter``, with the same arguments, so the same values, bytes and
    errors), framed by sse_fast's encoder in ``format_sse_event``'s order."""

    __slots__ = ("field", "adapter", "dump", "call", "path")

    def __init__(self, route: Any) -> None:
        self.field: Any = route.stream_item_field  # the declared item type; None: items go through jsonable_encoder
        self.adapter: Any = None if self.field is None else self.field._type_adapter
        # ``ModelField.serialize_json``'s arguments to ``TypeAdapter.dump_json``, as the serializer takes them: those
        # at the serializer's own default (no include or exclude, nothing excluded) left out, as each costs a lookup
        self.dump: Dict[str, Any] = {"by_alias": route.response_model_by_alias}
        for name in ("include", "exclude"):
            if getattr(route, f"response_model_{name}") is not None:
                self.dump[name] = getattr(route, f"response_model_{name}")
        for name in ("exclude_unset", "exclude_defaults", "exclude_none"):
            if getattr(route, f"response_model_{name}"):
                self.dump[name] = True
        self.call: Any = route.dependant.call
        self.path: str = route.dependant.path

    def frame(self, item: Any, scope: Scope) -> bytes:
        """The bytes FastAPI sends for ``item``; ``ResponseValidationError`` if it is not of the declared type.

        ``ModelField.validate`` then ``serialize_json``, without their Python layers: the ``TypeAdapter``'s
        validator and serializer called as its ``validate_python`` and ``dump_json`` call them. An item that
        fails goes through FastAPI's ``validate`` again, for its errors as FastAPI words them."""
        if isinstance(item, ServerSentEvent):
            return event_frame(item)
        adapter = self.adapter
        if adapter is None:
            return encode(plain_json(item))
        try:
            value = adapter.validator.validate_python(item, from_attributes=True)
        except ValidationError:
            _, errors = self.field.validate(item, {}, loc=("response",))
            raise _exceptions.ResponseValidationError(
                errors=errors, body=item, endpoint_ctx=self.context(scope)
            ) from None
        return encode(adapter.serializer.to_json(value, **self.dump))

    def context(self, scope: Scope) -> Dict[str, Any]:
        """The endpoint context FastAPI puts in its errors (file, line, function, ``METHOD /path``)."""
        context: Dict[str, Any] = dict(_routing._extract_endpoint_context(self.call)) if self.call else {}
        if self.path:
            context["path"] = f"{scope['method']} {scope.get('root_path', '').rstrip('/')}{self.path}"
        return context


def plain_json(data: Any) -> bytes:
    """An item with no declared type, serialized as FastAPI does: ``jsonable_encoder``, then ``json.dumps``
    (with non-finite floats as null, where FastAPI does that)."""
    return json.dumps(_normalize(jsonable_encoder(data))).encode("utf-8")


def event_frame(event: ServerSentEvent) -> bytes:
    """``format_sse_event``'s bytes for a ``ServerSentEvent`` (comment, event, data, id, retry, in that order),
    each field encoded by sse_fast's encoder."""
    if event.raw_data is not None:
        data: Optional[Union[str, bytes]] = event.raw_data
    elif event.data is not None:
        payload = event.data
        data = payload.model_dump_json() if hasattr(payload, "model_dump_json") else plain_json(payload)
    else:
        data = None
    frame = encode(data, event=event.event)  # event, data, blank line
    if event.comment is not None:
        frame = encode_comment(event.comment)[:-1] + frame
    if event.id is not None or event.retry is not None:
        tail = b"" if event.id is None else encode(None, id=event.id)[:-1]
        if event.retry is not None:
            tail += encode_retry(event.retry)[:-1]
        frame = frame[:-1] + tail + b"\n"
    return frame


class FastAPIEventStream(Response):
    """The response an SSE path operation returns under the switch: FastAPI builds it with the generator,
    the status code, the background tasks and the headers its dependencies set; it streams the generator's
    items, each as ``Items.frame`` makes it."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        background: Optional[BackgroundTask] = None,
        *,
        items: Items,
        send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        self.body_iterator: Content = _InThreads(content) if inspect.isgenerator(content) else _unwrapped(content)
        self.status_code = status_code
        self.background = background
        self.items = items
        self.send_timeout = send_timeout
        self.init_headers()
        self.headers["Cache-Control"] = "no-cache"
        self.headers["X-Accel-Buffering"] = "no"  # for Nginx proxies not to buffer the stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content = self.body_iterator
        try:  # HEAD: the headers alone, the generator never runs
            stream = functools.partial(self._stream, content=content, scope=scope)
            await run_handler(stream, scope, receive, send, self._options())
        finally:
            await _close(content)
        if self.background is not None:
            await self.background()

    def _options(self) -> Options:
        """The transport's options: one for every stream with these headers (an idle stream holds none of its own,
        nor the headers it was made from)."""
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw_headers)
        return Options.shared(
            status=self.status_code, headers=headers, send_timeout=self.send_timeout, heartbeat=None, keep_alive=False
        )

    def _stream(self, writer: AsyncWriter, content: Content, scope: Scope) -> asyncio.Task[None]:
        """FastAPI's keepalive on the writer, and the items in a task of their own, as FastAPI's producer task
        pulls them: each time the generator waits, its task suspends through a few frames instead of the
        request's twenty (the server's, each middleware's, the router's), and a paced stream waits once per item.
        The writer's run awaits the task: the client's leave and the server's cancellation cancel the request's
        task, which cancels the task it awaits, so they reach the generator as before."""
        interval = _routing._PING_INTERVAL  # read per stream, as FastAPI does (its tests patch it)
        if interval > 0:
            writer.start_heartbeat(interval, _routing.KEEPALIVE_COMMENT)
        return asyncio.get_running_loop().create_task(self._items(writer, content, scope))

    async def _items(self, writer: AsyncWriter, content: Content, scope: Scope) -> None:
        _writer.set(writer)  # in this task's own context: seen by the generator, and (copied) in its worker thread
        frame = self.items.frame
        items = content if isinstance(content, AsyncIterator) else iterate_in_threadpool(content)
        try:
            async for item in items:
                await writer.write_frame(frame(item, scope))
                del item  # not held while the generator prepares the next one (an idle stream waits there)
        except Exception:  # the generator failed, or an item is not of the declared type
            with contextlib.suppress(ClientDisconnected):
                await writer.flush()  # what came before it goes out
            writer.abort()  # the body is not ended: the client can tell the stream broke, as under FastAPI
            raise
        finally:  # at once, also when the client left: the generator's own finally runs now
            if items is not content:
                await cast("AsyncGenerator[Any, None]", items).aclose()  # starlette's, an async generator
            await _close(content)


def current_writer() -> AsyncWriter:
    """The sse_fast writer of the stream the calling generator feeds (under the switch): its ``context`` says
    when the client left or the server shuts down (``reason``), ``Broker.stream`` can follow topics on it.
    A sync generator (in a worker thread) may read it; writes belong to the event loop's thread.
    ``LookupError`` outside such a generator."""
    try:
        return _writer.get()
    except LookupError:
        raise LookupError(
            "current_writer() is called outside a FastAPI SSE generator streamed by sse_fast; expected a call "
            "from a path operation with response_class=EventSourceResponse, under install() or SSERoute"
        ) from None


def _unwrapped(content: Content) -> Content:
    """The path operation's own async generator, out of the wrapper FastAPI gives raw streams (one more
    generator and a loop turn per item, for a cancellation that sse_fast's transport delivers itself)."""
    if inspect.isasyncgen(content) and content.ag_code.co_name == "_async_stream_raw" and content.ag_frame:
        inner = content.ag_frame.f_locals.get("async_gen")
        if inner is not None:
            return inner  # type: ignore[no-any-return]
    return content


async def _close(content: Content) -> None:
    """Close the generator: its ``finally`` runs (a sync one's in the thread pool)."""
    if inspect.isasyncgen(content):
        await content.aclose()
    elif isinstance(content, _InThreads) and not content.closed:
        await run_in_threadpool(content.close)


class _InThreads:
    """A sync generator, pulled an item at a time in the thread pool (by Starlette's ``iterate_in_threadpool``)
    and closed there. A generator that is making an item cannot be closed: when the client leaves meanwhile,
    ``close`` waits for that item, as FastAPI's producer task does, so that the generator's ``finally`` runs
    before the stream ends and its dependencies close."""

    __slots__ = ("generator", "lock", "closed")

    def __init__(self, generator: Generator[Any, Any, Any]) -> None:
        self.generator = generator
        self.lock = threading.Lock()  # held by the thread that runs the generator
        self.closed = False

    def __iter__(self) -> _InThreads:
        return self

    def __next__(self) -> Any:
        with self.lock:
            if self.closed:
                raise StopIteration
            return next(self.generator)

    def close(self) -> None:
        """Close the generator (in a worker thread: it waits for an item being made)."""
        with self.lock:
            self.closed = True
            self.generator.close()


def _target(route: APIRoute) -> Any:
    """What ``APIRoute.get_route_handler`` reads its settings from: the route, or (a route of an included router,
    in a FastAPI that has such contexts) the context FastAPI builds it for."""
    context = None if _route_context is None else _route_context.get()
    return context if context is not None and context.original_route is route else route


def _streams_sse(route: Any) -> bool:
    """True for a generator path operation whose response class is (or defaults to) ``EventSourceResponse``."""
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    return bool(route.is_sse_stream or route.is_json_stream) and lenient_issubclass(response_class, EventSourceResponse)


def route_handler(route: APIRoute, build: Callable[[], RouteHandler], send_timeout: Optional[float]) -> RouteHandler:
    """``build()`` (FastAPI's ``get_route_handler``), made to hand an SSE path operation's generator to
    ``FastAPIEventStream``: FastAPI's raw-stream path does everything before it (body, dependencies, status,
    headers); the route's settings are FastAPI's again once the handler is built."""
    target = _target(route)
    if not _streams_sse(target):
        return build()
    saved = target.response_class, target.is_json_stream
    target.response_class = functools.partial(FastAPIEventStream, items=Items(target), send_timeout=send_timeout)
    target.is_json_stream = False
    try:
        return build()
    finally:
        target.response_class, target.is_json_stream = saved


class SSERoute(APIRoute):
    """``APIRouter(route_class=SSERoute)``: that router's SSE path operations stream through sse_fast.
    ``send_timeout``: seconds one send to a client may take before the stream is dropped (None: no bound)."""

    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT

    def get_route_handler(self) -> RouteHandler:
        return route_handler(self, super().get_route_handler, self.send_timeout)


_original_get_route_handler = APIRoute.get_route_handler


def install(send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT) -> None:
    """Stream every SSE path operation whose handler FastAPI builds from now on (any app, router or included
    router of this process) through sse_fast: call it before the routes are declared and leave it on (FastAPI
    builds an included router's handlers at their first request). A second call changes ``send_timeout``."""

    def get_route_handler(self: APIRoute) -> RouteHandler:
        return route_handler(self, functools.partial(_original_get_route_handler, self), send_timeout)

    APIRoute.get_route_handler = get_route_handler  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo ``install()`` for the handlers FastAPI builds from now on."""
    APIRoute.get_route_handler = _original_get_route_handler  # type: ignore[method-assign]


__all__ = [
    "FastAPIEventStream",
    "Items",
    "SSERoute",
    "current_writer",
    "event_frame",
    "install",
    "plain_json",
    "route_handler",
    "uninstall",
]

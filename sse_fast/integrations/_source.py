"""What every integration accepts as the body of a stream: a handler or an iterable of items."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InvalidType
from ..writer.base import is_iterable


def handler_for(source: Any) -> Callable[[Any], Any]:
    """``source`` itself if it is a handler (``handler(writer)``, sync or async); an iterable or async
    iterable (a generator, say) becomes a handler that writes it with ``writer.stream`` (each item as
    JSON, an ``Event`` whole, then ``[DONE]``)."""
    if callable(source) and not is_iterable(source):
        handler: Callable[[Any], Any] = source
        return handler
    if not is_iterable(source):
        raise InvalidType(
            f"expected a handler(writer) or an iterable of events, got {type(source).__name__}: {source!r}"
        )
    return lambda writer: writer.stream(source)

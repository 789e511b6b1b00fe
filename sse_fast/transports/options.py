"""``Options``: what every response and integration passes to its transport, checked and gathered once.

The SSE headers are merged once here too; each transport takes them in its own form.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from numbers import Real
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..errors import InvalidType, InvalidValue
from ..writer import DEFAULT_SEND_TIMEOUT, Default
from .headers import Headers, sse_headers

DEFAULT_HEARTBEAT = 15.0  # seconds; what sse-starlette, aiohttp-sse and FastAPI's SSE send too
DEFAULT_MAX_BUFFERED = 1 << 20

Pairs = List[Tuple[str, str]]
RawPairs = List[Tuple[bytes, bytes]]


@dataclass(frozen=True)
class Options:
    """``status``, ``headers`` (merged over the SSE headers), ``send_timeout`` (seconds one transport write may
    take; None: no bound), ``heartbeat`` (seconds of silence before ``: heartbeat``; None or 0: none),
    ``default`` (orjson's fallback for other types), ``max_buffered`` (bytes a WSGI / Django body holds),
    ``keep_alive`` (False: no ``Connection: keep-alive`` on HTTP/1.x, the headers are the SSE ones and ``headers``
    alone)."""

    status: int = 200
    headers: Headers = None
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT
    heartbeat: Optional[float] = DEFAULT_HEARTBEAT
    default: Default = None
    max_buffered: int = DEFAULT_MAX_BUFFERED
    keep_alive: bool = True
    _pairs: Dict[bool, Pairs] = field(init=False, repr=False, compare=False)
    _raw: Dict[bool, RawPairs] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.status) is not int or not 100 <= self.status <= 599:
            raise InvalidValue(f"status must be an int from 100 to 599, got {self.status!r}")
        for name in ("send_timeout", "heartbeat"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Real) or isinstance(value, bool) or value < 0):
                raise InvalidValue(f"{name} must be None or a number of seconds >= 0, got {value!r}")
        if type(self.max_buffered) is not int or self.max_buffered < 1:
            raise InvalidValue(f"max_buffered must be an int of bytes >= 1, got {self.max_buffered!r}")
        if self.default is not None and not callable(self.default):
            raise InvalidType(f"default must be None or a callable, got {type(self.default).__name__}")
        extra = _header_pairs(self.headers)
        try:
            pairs, raw = _tables(extra, self.keep_alive)
        except TypeError:  # a header that cannot be a cache key: built for this response alone
            pairs, raw = _tables.__wrapped__(extra, self.keep_alive)
        object.__setattr__(self, "_pairs", pairs)
        object.__setattr__(self, "_raw", raw)

    @classmethod
    def of(cls, caller: str, given: Mapping[str, Any]) -> Options:
        """Options from keyword arguments, refusing a name that is not an option."""
        names = [f.name for f in fields(cls) if f.init]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise InvalidType(f"{caller}() got unknown option(s) {', '.join(unknown)}; expected {', '.join(names)}")
        return cls(**given)

    @classmethod
    def shared(cls, **given: Any) -> Options:
        """``Options(**given)``, one instance for equal arguments of equal types (Options are frozen): a response
        made per request then holds no Options of its own. Unhashable arguments (a headers dict) get their own."""
        try:
            return _shared(**given) if cls is Options else cls(**given)
        except TypeError:  # unhashable (or refused: refused again, as it would be)
            return cls(**given)

    def header_pairs(self, http_version: Optional[str] = None, hop_by_hop: bool = False) -> Pairs:
        """The response headers as ``(name, value)`` strings; ``Connection: keep-alive`` only with
        ``hop_by_hop`` on HTTP/1.x (WSGI leaves hop-by-hop headers to the server, PEP 3333)."""
        return list(self._pairs[hop_by_hop and _is_http1(http_version)])

    def raw_headers(self, http_version: Optional[str]) -> RawPairs:
        """The response headers as ASGI wants them (lower-case latin-1 bytes), encoded once."""
        return self._raw[_is_http1(http_version)]


@lru_cache(maxsize=256, typed=True)
def _shared(**given: Any) -> Options:
    return Options(**given)


@lru_cache(maxsize=64)
def _tables(extra: Tuple[Tuple[str, str], ...], keep_alive: bool) -> Tuple[Dict[bool, Pairs], Dict[bool, RawPairs]]:
    """The merged headers for HTTP/2 (False) and HTTP/1.x (True), as strings and as ASGI bytes: shared by every
    ``Options`` with the same ``headers`` (a response made per request then costs no header lists of its own)."""
    pairs = {http1: sse_headers("1.1" if http1 else "2", extra, keep_alive) for http1 in (False, True)}
    raw = {http1: [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in p] for http1, p in pairs.items()}
    return pairs, raw


def _header_pairs(headers: Headers) -> Tuple[Tuple[str, str], ...]:
    """``headers`` as a tuple of pairs, or ``InvalidType`` naming what was given instead."""
    if headers is None:
        return ()
    items: Any = headers.items() if isinstance(headers, Mapping) else headers
    if isinstance(headers, (str, bytes, bytearray)) or not isinstance(items, Iterable):
        raise InvalidType(f"headers must be None, a mapping or (name, value) pairs, got {type(headers).__name__}")
    pairs = tuple(items)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InvalidType(f"headers must be (name, value) pairs with a str name, got {pair!r} among them")
    return pairs


def _is_http1(http_version: Optional[str]) -> bool:
    return (http_version or "1.1").startswith("1")

"""``Grant``: the topics one client may subscribe to and publish on, as topic selectors."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Tuple

from .._refusals import shown
from ..errors import InvalidType, InvalidValue, Unauthorized
from .selectors import Selector

CLAIM: str = "mercure"  # the JWT claim Mercure reads: {"mercure": {"subscribe": [...], "publish": [...]}}


class Grant:
    """What one client may do: ``subscribe`` and ``publish`` are topic selectors (``*``, a topic name, or a
    ``{var}`` / ``{+var}`` URI template; see ``sse_fast.auth.selectors``)."""

    __slots__ = ("subscribe", "publish")

    def __init__(self, subscribe: Iterable[str] = (), publish: Iterable[str] = ()) -> None:
        self.subscribe: Tuple[Selector, ...] = _selectors("subscribe", subscribe)
        self.publish: Tuple[Selector, ...] = _selectors("publish", publish)

    def may_subscribe(self, topic: str) -> bool:
        """True if a selector of ``subscribe`` covers ``topic``."""
        return any(s.matches(topic) for s in self.subscribe)

    def may_publish(self, topic: str) -> bool:
        """True if a selector of ``publish`` covers ``topic``."""
        return any(s.matches(topic) for s in self.publish)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], claim: str = CLAIM) -> "Grant":
        """The grant in a verified token's ``claims[claim]`` (Mercure's ``mercure.subscribe`` and
        ``mercure.publish``); none at all if the claim is absent. A claim of another shape is
        ``Unauthorized``: the token is not one this server can read."""
        found = claims.get(claim)
        if found is None:
            return cls()
        try:
            if not isinstance(found, Mapping):
                raise InvalidType(f"the {claim!r} claim must be an object, got {type(found).__name__}")
            return cls(found.get("subscribe") or (), found.get("publish") or ())
        except (InvalidType, InvalidValue) as error:
            raise Unauthorized(f"the token's {claim!r} claim cannot be read: {error}") from None

    def __repr__(self) -> str:
        return f"Grant(subscribe={[s.text for s in self.subscribe]}, publish={[s.text for s in self.publish]})"


def _selectors(what: str, given: Iterable[str]) -> Tuple[Selector, ...]:
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise InvalidType(f"{what} must be a list of topic selectors (str), got {type(given).__name__}: {shown(given)}")
    return tuple(Selector(text) for text in given)


NOTHING: Grant = Grant()  # what a client without credentials may do: read public topics only

__all__ = ["CLAIM", "NOTHING", "Grant"]

"""``Guard``: who may subscribe to and publish on which topics, decided before any stream starts.

A guard turns a request's ``Credentials`` into a ``Grant`` (or None: the client sent no credentials) with
an application's callable, or with ``JWTGuard``'s Mercure-compatible tokens. Topics matching ``public``
may be read by anyone, credentials or not; every other topic needs a grant that covers it.

Refusals (``Unauthorized`` 401, ``Forbidden`` 403) never depend on whether a topic exists or holds events,
and their response is the same bytes whatever the topic, so a refused client learns nothing about topics.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, Union

from .._refusals import shown
from ..errors import Forbidden, InvalidType, Unauthorized
from .credentials import Credentials, credentials_of
from .grant import NOTHING, Grant
from .selectors import Selector

GrantFor = Callable[[Credentials], Optional[Grant]]


class Guard:
    """``grant_for(credentials)`` returns the client's ``Grant``, None when it sent no credentials, or
    raises ``Unauthorized`` for credentials that do not hold. ``public``: selectors of topics anyone may
    read (their private events still reach only those whose grant covers the topic)."""

    def __init__(self, grant_for: GrantFor, *, public: Iterable[str] = ()) -> None:
        if not callable(grant_for):
            raise InvalidType(f"grant_for must be a callable(credentials) -> Grant or None, got {shown(grant_for)}")
        self._grant_for = grant_for
        if isinstance(public, str):
            public = (public,)
        self.public: Tuple[Selector, ...] = tuple(Selector(text) for text in public)

    def grant_for(self, credentials: Credentials) -> Optional[Grant]:
        """The client's grant; None if it sent no credentials; ``Unauthorized`` if they do not hold."""
        grant = self._grant_for(credentials)
        if grant is not None and not isinstance(grant, Grant):
            raise InvalidType(f"a guard must return a Grant or None, got {type(grant).__name__}: {shown(grant)}")
        return grant

    def admit_subscriber(self, request: Any, topics: Sequence[str]) -> Grant:
        """The grant of a client asking for ``topics``: ``Unauthorized`` without (valid) credentials unless
        every topic is public, ``Forbidden`` if a topic that is not public lies outside its grant."""
        grant = self.grant_for(credentials_of(request))
        closed = [t for t in topics if not any(s.matches(t) for s in self.public)]
        if grant is None:
            if closed:
                raise Unauthorized(f"no credentials, and {len(closed)} topic(s) asked for are not public")
            return NOTHING
        denied = [t for t in closed if not grant.may_subscribe(t)]
        if denied:
            raise Forbidden(f"the grant does not cover {len(denied)} of the topics asked for: {shown(denied)}")
        return grant

    def admit_publisher(self, request: Any, topic: str) -> Grant:
        """The grant of a client publishing on ``topic``: ``Unauthorized`` without (valid) credentials,
        ``Forbidden`` if its grant does not cover ``topic`` for publishing."""
        grant = self.grant_for(credentials_of(request))
        if grant is None:
            raise Unauthorized("no credentials, and publishing needs them")
        if not grant.may_publish(topic):
            raise Forbidden(f"the grant does not cover publishing on {shown(topic)}")
        return grant


def as_guard(guard: Union[Guard, GrantFor, None]) -> Optional[Guard]:
    """``guard`` as a ``Guard``: a bare callable becomes ``Guard(callable)`` (no public topics)."""
    if guard is None or isinstance(guard, Guard):
        return guard
    return Guard(guard)


__all__ = ["Guard", "GrantFor", "as_guard"]

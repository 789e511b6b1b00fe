"""Who may subscribe to what: a ``Guard`` on ``Broker.subscriber`` and ``Broker.publish``, Mercure-compatible
JWTs (``JWTGuard``, extra ``[jwt]``), and the 401 / 403 responses of a refusal. See docs/production.md."""

from ..errors import Forbidden, Refused, Unauthorized
from .credentials import COOKIE, QUERY, Credentials, credentials_of
from .grant import Grant
from .guard import GrantFor, Guard
from .jwt_guard import JWTGuard
from .refusal import refusal_asgi, refusal_wsgi
from .selectors import Selector

__all__ = [
    "COOKIE",
    "QUERY",
    "Credentials",
    "Forbidden",
    "Grant",
    "GrantFor",
    "Guard",
    "JWTGuard",
    "Refused",
    "Selector",
    "Unauthorized",
    "credentials_of",
    "refusal_asgi",
    "refusal_wsgi",
]

"""``JWTGuard``: Mercure-compatible JWTs (extra ``[jwt]``, PyJWT) read from ``Authorization: Bearer``, a
cookie or an ``authorization`` query parameter.

The keys and the algorithms are the server's, given explicitly; a token's header never chooses them.
``alg: none`` is never accepted; one guard verifies either HMAC tokens (HS256/384/512, with secrets at
least as long as the hash) or public-key tokens (RS*, PS*, ES*, EdDSA), never both, so a public key can
never be used as an HMAC secret (the HS/RS confusion). Expired (``exp``) and not-yet-valid (``nbf``)
tokens are refused; ``audience`` and ``issuer``, when given, must match.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, Optional, Sequence, Tuple, Union

from .._refusals import shown
from ..errors import InvalidType, InvalidValue, Unauthorized
from ..integrations._missing import missing_framework
from .credentials import COOKIE, QUERY, Credentials
from .grant import CLAIM, Grant
from .guard import Guard

HMAC: Dict[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}  # algorithm -> shortest secret, in bytes (RFC 7518 3.2)
ASYMMETRIC: FrozenSet[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_PUBLIC_KEY_TEXT = (b"-----BEGIN", b"ssh-", b"ecdsa-")
Key = Any  # an HMAC secret (str or bytes), a PEM public key, or a ``cryptography`` key object


class JWTGuard(Guard):
    """Verifies a bearer JWT with ``keys`` (one key or several, tried in turn) for ``algorithms``, and
    grants what its ``mercure`` claim says (``subscribe`` / ``publish``: topic selectors). ``cookie`` and
    ``query`` name where else a token may come (None: not there); ``leeway`` (seconds) eases ``exp`` and
    ``nbf`` for clock skew."""

    def __init__(
        self,
        keys: Union[Key, Sequence[Key]],
        algorithms: Iterable[str],
        *,
        public: Iterable[str] = (),
        cookie: Optional[str] = COOKIE,
        query: Optional[str] = QUERY,
        audience: Optional[str] = None,
        issuer: Optional[str] = None,
        leeway: float = 0,
        claim: str = CLAIM,
    ) -> None:
        try:
            import jwt
        except ModuleNotFoundError as error:
            raise missing_framework(error, "sse_fast.auth.JWTGuard", "jwt", "jwt") from None
        self._jwt = jwt
        self.algorithms: Tuple[str, ...] = _algorithms(algorithms)
        self.keys: Tuple[Key, ...] = _keys(keys, self.algorithms)
        _readable(jwt, self.keys, self.algorithms)
        self.cookie: Optional[str] = cookie
        self.query: Optional[str] = query
        self.audience: Optional[str] = audience
        self.issuer: Optional[str] = issuer
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or leeway < 0:
            raise InvalidValue(f"leeway must be a number of seconds >= 0, got {shown(leeway)}")
        self.leeway: float = leeway
        self.claim: str = claim
        super().__init__(self._verify, public=public)

    def _verify(self, credentials: Credentials) -> Optional[Grant]:
        token = credentials.bearer(self.cookie, self.query)
        if token is None:
            return None
        jwt = self._jwt
        for key in self.keys:
            try:
                claims = jwt.decode(
                    token, key, algorithms=list(self.algorithms), audience=self.audience, issuer=self.issuer,
                    leeway=self.leeway, options={"require": ["iss"] if self.issuer else []},
                )  # fmt: skip
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as error:
                raise Unauthorized(f"the token was refused: {type(error).__name__}: {error}") from None
            return Grant.from_claims(claims, self.claim)
        raise Unauthorized("the token's signature matches none of the keys")


def _readable(jwt: Any, keys: Tuple[Key, ...], algorithms: Tuple[str, ...]) -> None:
    """Refuse now, not at the first client, a key none of ``algorithms`` can read (a bad PEM, a key of
    another type)."""
    known = jwt.algorithms.get_default_algorithms()
    for n, key in enumerate(keys):
        for name in algorithms:
            try:
                known[name].prepare_key(key)
                break
            except (jwt.PyJWTError, ValueError, TypeError):
                continue
        else:
            raise InvalidValue(f"key {n} cannot be read as a key for any of {list(algorithms)}: {shown(key)}")


def _algorithms(given: Iterable[str]) -> Tuple[str, ...]:
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise InvalidType(f"algorithms must be a list of algorithm names, got {shown(given)}")
    names = tuple(given)
    known = set(HMAC) | ASYMMETRIC
    unknown = [a for a in names if a not in known]
    if not names or unknown:
        raise InvalidValue(f"algorithms must be some of {sorted(known)} ('none' never), got {shown(list(names))}")
    if any(a in HMAC for a in names) and any(a in ASYMMETRIC for a in names):
        raise InvalidValue(
            f"algorithms must be all HMAC (HS*) or all public-key, not both (a public key must never be read "
            f"as an HMAC secret), got {list(names)}"
        )
    return names


def _keys(given: Union[Key, Sequence[Key]], algorithms: Tuple[str, ...]) -> Tuple[Key, ...]:
    keys = tuple(given) if isinstance(given, (list, tuple)) else (given,)
    if not keys:
        raise InvalidValue("keys must hold at least one key, got none")
    if algorithms[0] not in HMAC:
        return keys
    shortest = max(HMAC[a] for a in algorithms)
    for key in keys:
        if not isinstance(key, (str, bytes)):
            raise InvalidType(f"an HMAC secret must be str or bytes, got {type(key).__name__}")
        raw = key.encode() if isinstance(key, str) else key
        if raw.lstrip().startswith(_PUBLIC_KEY_TEXT):
            raise InvalidValue("an HMAC secret must not be a public key (that is the HS/RS confusion)")
        if len(raw) < shortest:
            raise InvalidValue(
                f"an HMAC secret for {list(algorithms)} must be at least {shortest} bytes, got {len(raw)}"
            )
    return keys


__all__ = ["ASYMMETRIC", "HMAC", "JWTGuard", "Key"]

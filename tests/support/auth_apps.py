"""Guarded broker apps (ASGI and WSGI) and the tokens the auth tests present: HMAC and RSA keys, tokens
signed right, with another key, with ``alg: none``, or HMAC-signed with the RSA public key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, List, Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import sse_fast
from sse_fast.auth import Refused, refusal_asgi, refusal_wsgi
from sse_fast.resume import from_environ, from_scope
from support.broker_apps import topics_of

SECRET = "a-test-secret-of-at-least-32-bytes!"
OTHER_SECRET = "another-secret-of-at-least-32-byte"
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PRIVATE = _RSA.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
RSA_PUBLIC = _RSA.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def claims(subscribe: Optional[List[str]] = None, publish: Optional[List[str]] = None, **extra: Any) -> Dict[str, Any]:
    """Mercure claims, valid for an hour unless ``extra`` says otherwise."""
    mercure: Dict[str, Any] = {}
    if subscribe is not None:
        mercure["subscribe"] = subscribe
    if publish is not None:
        mercure["publish"] = publish
    return {"mercure": mercure, "exp": int(time.time()) + 3600, **extra}


def token(subscribe: Optional[List[str]] = None, publish: Optional[List[str]] = None, **extra: Any) -> str:
    """An HS256 token signed with ``SECRET``."""
    return jwt.encode(claims(subscribe, publish, **extra), SECRET, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(payload: Dict[str, Any], alg: str, key: bytes = b"") -> str:
    """A token built by hand (PyJWT refuses to make these): ``alg`` in its header, HMAC-SHA256 over it
    with ``key`` (or no signature at all for ``none``)."""
    signing = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = b"" if alg == "none" else hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64(signature)


def bearer(value: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def guarded_asgi_app(broker: sse_fast.Broker) -> Any:
    """``GET /?topic=a&topic=b`` follows those topics as the guard allows (credentials and
    ``Last-Event-ID`` from the request); ``POST /publish?topic=t[&private=1]`` publishes the body as that
    client. A refusal is answered with ``refusal_asgi``."""

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        query = scope["query_string"].decode()
        try:
            if scope["method"] == "POST":
                body = (await receive()).get("body", b"")
                private = "private=1" in query.split("&")
                new_id = await broker.publish(topics_of(query)[0], body.decode(), private=private, request=scope)
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": new_id.encode()})
                return
            handler = broker.subscriber(topics_of(query), from_scope(scope), request=scope)
        except Refused as refused:
            await refusal_asgi(refused)(scope, receive, send)
            return
        await sse_fast.ASGIResponse(handler, send_timeout=5)(scope, receive, send)

    return app


def guarded_wsgi_app(broker: sse_fast.Broker) -> Any:
    """``guarded_asgi_app``'s GET, for WSGI."""

    def app(environ: Dict[str, Any], start_response: Any) -> Any:
        try:
            topics = topics_of(environ.get("QUERY_STRING", ""))
            handler = broker.subscriber(topics, from_environ(environ), request=environ)
        except Refused as refused:
            return refusal_wsgi(refused)(environ, start_response)
        return sse_fast.WSGIResponse(handler, send_timeout=5)(environ, start_response)

    return app

"""Who may subscribe to what, over a real uvicorn server with httpx: every attempt to get in is refused
(401 without valid credentials, 403 outside the grant) with no stream and the same bytes whatever the topic;
private events reach only the subscribers whose grant covers their topic; a Last-Event-ID never replays
another topic's history."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import jwt
import pytest
from httpx_sse import aconnect_sse
from support.auth_apps import (
    OTHER_SECRET,
    RSA_PRIVATE,
    RSA_PUBLIC,
    SECRET,
    bearer,
    claims,
    forged,
    guarded_asgi_app,
    guarded_wsgi_app,
    token,
)
from support.broker_clients import in_thread, run_clients, subscribers
from support.redis_server import missing_reason, redis_server
from support.servers import Server, uvicorn_server, waitress_server

import sse_fast
from sse_fast.auth import Credentials, Grant, JWTGuard, Refused
from sse_fast.errors import InvalidType, InvalidValue

Got = List[Tuple[str, str, str]]


@pytest.fixture
def hub() -> Iterator[Tuple[sse_fast.Broker, Server]]:
    """A broker guarded by HS256 tokens (``news`` is public), served by uvicorn."""
    broker = sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"], public=["news"]))
    with uvicorn_server(guarded_asgi_app(broker)) as server:
        yield broker, server
        asyncio.run_coroutine_threadsafe(broker.close(), server.loop).result(10)  # on the loop of its streams


def get(server: Server, topics: List[str], headers: Optional[Dict[str, str]] = None, **params: str) -> httpx.Response:
    """A GET that must end on its own (a refusal); a stream would hit the read timeout."""
    return httpx.get(server.url, params={"topic": topics, **params}, headers=headers or {}, timeout=5)


async def read(
    server: Server, topics: List[str], count: int, headers: Optional[Dict[str, str]] = None, **params: str
) -> Got:
    """The first ``count`` events of a stream that must be granted."""
    got: Got = []
    async with httpx.AsyncClient(timeout=10) as client:
        url = httpx.URL(server.url, params={"topic": topics, **params})
        async with aconnect_sse(client, "GET", str(url), headers=headers or {}) as source:
            assert source.response.status_code == 200
            async for sse in source.aiter_sse():
                got.append((sse.id, sse.event, sse.data))
                if len(got) >= count:
                    break
    return got


def assert_refused(response: httpx.Response, status: int) -> None:
    """A refusal: the status, no stream, the fixed body, nothing else."""
    assert response.status_code == status
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == (b"unauthorized\n" if status == 401 else b"forbidden\n")
    assert ("www-authenticate" in response.headers) == (status == 401)


# -- getting in ---------------------------------------------------------------------------------------


def test_a_token_in_the_header_a_cookie_or_the_query_streams(hub: Tuple[sse_fast.Broker, Server]) -> None:
    broker, server = hub
    good = token(["room"])
    ways: List[Tuple[Dict[str, str], Dict[str, str]]] = [
        (bearer(good), {}),
        ({"Cookie": f"theme=dark; mercureAuthorization={good}"}, {}),
        ({}, {"authorization": good}),
    ]
    clients = in_thread(lambda: run_clients(*(read(server, ["room"], 1, h, **p) for h, p in ways)))
    subscribers(broker, 3)
    new_id = broker.publish_sync("room", "hello")
    assert clients.join() == [[(new_id, "message", "hello")]] * 3


def test_no_token_on_a_topic_that_is_not_public_is_401(hub: Tuple[sse_fast.Broker, Server]) -> None:
    _, server = hub
    assert_refused(get(server, ["room"]), 401)
    assert_refused(get(server, ["room"], {"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    assert_refused(get(server, ["news", "room"]), 401)


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda: forged(claims(["room"]), "none"), id="alg-none"),
        pytest.param(lambda: forged(claims(["room"]), "HS256", b"not the secret"), id="forged-signature"),
        pytest.param(lambda: jwt.encode(claims(["room"]), OTHER_SECRET, algorithm="HS256"), id="another-key"),
        pytest.param(lambda: jwt.encode(claims(["room"]), RSA_PRIVATE, algorithm="RS256"), id="another-algorithm"),
        pytest.param(lambda: token(["room"], exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda: token(["room"], nbf=int(time.time()) + 3600), id="not-yet-valid"),
        pytest.param(lambda: token(["room"])[:-4] + "AAAA", id="tampered"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
        pytest.param(lambda: jwt.encode({"mercure": ["room"]}, SECRET, algorithm="HS256"), id="malformed-claim"),
        pytest.param(lambda: token(["/users/{#x}"]), id="bad-template"),
    ],
)
def test_a_token_that_does_not_hold_is_401_even_on_a_public_topic(
    hub: Tuple[sse_fast.Broker, Server], attempt: Any
) -> None:
    _, server = hub
    bad = attempt()
    assert_refused(get(server, ["room"], bearer(bad)), 401)
    assert_refused(get(server, ["news"], bearer(bad)), 401)
    assert_refused(get(server, ["room"], authorization=bad), 401)


def test_hs_rs_confusion_the_public_key_as_an_hmac_secret_is_refused() -> None:
    """A server on RS256: a token HMAC-signed with its (public) RSA key is refused; a real RS256 token is
    not. And no guard can be configured to allow the confusion."""
    broker = sse_fast.Broker(guard=JWTGuard(RSA_PUBLIC, ["RS256"]))
    confused = forged(claims(["room"]), "HS256", RSA_PUBLIC)
    with uvicorn_server(guarded_asgi_app(broker)) as server:
        assert_refused(get(server, ["room"], bearer(confused)), 401)
        assert_refused(get(server, ["room"], bearer(forged(claims(["room"]), "none"))), 401)
        real = jwt.encode(claims(["room"]), RSA_PRIVATE, algorithm="RS256")
        clients = in_thread(lambda: run_clients(read(server, ["room"], 1, bearer(real))))
        subscribers(broker, 1)
        new_id = broker.publish_sync("room", "signed by the right key")
        assert clients.join() == [[(new_id, "message", "signed by the right key")]]
    asyncio.run(broker.close())
    with pytest.raises(InvalidValue, match="HS/RS confusion"):
        JWTGuard(RSA_PUBLIC, ["HS256"])
    with pytest.raises(InvalidValue, match="all HMAC"):
        JWTGuard(SECRET, ["HS256", "RS256"])
    with pytest.raises(InvalidValue, match="'none' never"):
        JWTGuard(SECRET, ["none"])
    with pytest.raises(InvalidValue, match="at least 32 bytes, got 5"):
        JWTGuard("short", ["HS256"])
    with pytest.raises(InvalidType, match="list of algorithm names"):
        JWTGuard(SECRET, "HS256")
    with pytest.raises(InvalidValue, match=r"key 1 cannot be read as a key for any of \['RS256'\]"):
        JWTGuard([RSA_PUBLIC, "not a PEM key"], ["RS256"])


def test_several_keys_a_rotation_each_verify_and_no_other_does() -> None:
    broker = sse_fast.Broker(guard=JWTGuard([OTHER_SECRET, SECRET], ["HS256"]))
    with uvicorn_server(guarded_asgi_app(broker)) as server:
        third = jwt.encode(claims(["room"]), "a-third-secret-none-of-the-keys-0123", algorithm="HS256")
        assert_refused(get(server, ["room"], bearer(third)), 401)
        signed = [jwt.encode(claims(["room"]), key, algorithm="HS256") for key in (OTHER_SECRET, SECRET)]
        clients = in_thread(lambda: run_clients(*(read(server, ["room"], 1, bearer(t)) for t in signed)))
        subscribers(broker, 2)
        new_id = broker.publish_sync("room", "both keys")
        assert clients.join() == [[(new_id, "message", "both keys")]] * 2
    asyncio.run(broker.close())


def test_a_topic_outside_the_grant_is_403_and_the_same_bytes_whether_it_exists_or_not(
    hub: Tuple[sse_fast.Broker, Server],
) -> None:
    broker, server = hub
    broker.publish_sync("secret", "history that exists")
    answers = [get(server, [topic], bearer(token(["room"]))) for topic in ("secret", "never-published")]
    for answer in answers:
        assert_refused(answer, 403)
    existing, missing = ({k: v for k, v in a.headers.items() if k != "date"} for a in answers)
    assert existing == missing and answers[0].content == answers[1].content
    assert_refused(get(server, ["room", "secret"], bearer(token(["room"]))), 403)
    assert_refused(get(server, ["room"], bearer(token(publish=["room"]))), 403)  # publish rights read nothing


@pytest.mark.parametrize(
    "granted, asked",
    [
        ("/users/{id}", "/users/42/private"),  # a template is no prefix of a longer topic
        ("/users/{id}", "/users/1%2Fadmin"),  # an encoded slash smuggles no segment
        ("/users/{id}", "/users/1%2fadmin"),
        ("/users/{id}", "/users/.."),
        ("/users/{id}", "/users/%2e%2e"),
        ("/users/{id}", "/users/"),
        ("/users/42", "/users/420"),  # a name is no prefix of a longer one
        ("/users/42", "/users/42/"),
        ("/files/{+path}", "/files/a/../secret"),  # {+var} takes slashes, never a dot segment
        ("/files/{+path}", "/files/a/%2E%2E/secret"),
        ("/a.b/{x}", "/aXb/1"),  # the literal part is literal
        ("/users/{id}", "/Users/42"),
        ("/users/{id}", "/users/{id}"),  # asking for the template's own text is asking for that name
    ],
)
def test_template_tricks_are_403(hub: Tuple[sse_fast.Broker, Server], granted: str, asked: str) -> None:
    _, server = hub
    assert_refused(get(server, [asked], bearer(token([granted]))), 403)


def test_templates_and_the_wildcard_grant_what_they_show(hub: Tuple[sse_fast.Broker, Server]) -> None:
    broker, server = hub
    cases = [("/users/{id}", "/users/42"), ("/files/{+path}", "/files/a/b.txt"), ("*", "anything")]
    clients = in_thread(lambda: run_clients(*(read(server, [asked], 1, bearer(token([g]))) for g, asked in cases)))
    subscribers(broker, 3)
    ids = [broker.publish_sync(asked, asked) for _, asked in cases]
    assert clients.join() == [[(i, "message", asked)] for i, (_, asked) in zip(ids, cases)]


def test_an_app_given_callable_guards_the_same_way() -> None:
    def grant_for(credentials: Credentials) -> Optional[Grant]:
        user = credentials.header("x-user")
        return None if user is None else Grant(subscribe=[f"user:{user}"])

    broker = sse_fast.Broker(guard=grant_for)
    with uvicorn_server(guarded_asgi_app(broker)) as server:
        assert_refused(get(server, ["user:1"]), 401)
        assert_refused(get(server, ["user:2"], {"x-user": "1"}), 403)
        clients = in_thread(lambda: run_clients(read(server, ["user:1"], 1, {"x-user": "1"})))
        subscribers(broker, 1)
        new_id = broker.publish_sync("user:1", "yours")
        assert clients.join() == [[(new_id, "message", "yours")]]
    asyncio.run(broker.close())


def test_the_guard_holds_on_wsgi_too() -> None:
    broker = sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"]))
    with waitress_server(guarded_wsgi_app(broker)) as server:
        assert_refused(get(server, ["room"]), 401)
        assert_refused(get(server, ["other"], bearer(token(["room"]))), 403)
        clients = in_thread(lambda: run_clients(read(server, ["room"], 1, bearer(token(["room"])))))
        subscribers(broker, 1)
        new_id = broker.publish_sync("room", "over waitress")
        assert clients.join() == [[(new_id, "message", "over waitress")]]
    asyncio.run(broker.close())


# -- private events ----------------------------------------------------------------------------------


def test_private_events_reach_only_subscribers_whose_grant_covers_the_topic(
    hub: Tuple[sse_fast.Broker, Server],
) -> None:
    broker, server = hub
    readers = [
        read(server, ["news"], 3, bearer(token(["news"]))),  # covered: public and private events
        read(server, ["news"], 2, bearer(token([]))),  # a valid token that covers nothing
        read(server, ["news"], 2),  # no token: news is public
        read(server, ["news", "user:42"], 3, bearer(token(["user:42"]))),  # several topics: only its own private
    ]
    clients = in_thread(lambda: run_clients(*readers))
    subscribers(broker, 4)
    assert broker.stats()["topics"] == 2  # news and user:42; their private halves are no topics of their own
    public1 = broker.publish_sync("news", "public 1")
    private = broker.publish_sync("news", "private news", private=True)
    mine = broker.publish_sync("user:42", "private to 42", private=True)
    public2 = broker.publish_sync("news", "public 2")
    covered, empty, anonymous, several = clients.join()
    assert covered == [
        (public1, "message", "public 1"),
        (private, "message", "private news"),
        (public2, "message", "public 2"),
    ]
    assert empty == anonymous == [(public1, "message", "public 1"), (public2, "message", "public 2")]
    assert several == [
        (public1, "message", "public 1"),
        (mine, "message", "private to 42"),
        (public2, "message", "public 2"),
    ]


def test_a_resume_replays_private_history_only_to_those_it_belongs_to(hub: Tuple[sse_fast.Broker, Server]) -> None:
    broker, server = hub
    start = broker.publish_sync("news", "before")
    private = broker.publish_sync("news", "private", private=True)
    public = broker.publish_sync("news", "public")
    end = broker.publish_sync("news", "end")
    got = run_clients(
        read(server, ["news"], 3, {**bearer(token(["news"])), "Last-Event-ID": start}),
        read(server, ["news"], 2, {"Last-Event-ID": start}),
    )
    assert [e[0] for e in got[0]] == [private, public, end]
    assert [e[0] for e in got[1]] == [public, end]


def test_a_last_event_id_of_another_topic_does_not_leak_its_history(hub: Tuple[sse_fast.Broker, Server]) -> None:
    broker, server = hub
    before = broker.publish_sync("mine", "mine 1")
    broker.publish_sync("secret", "secret 1", id="secret-id")
    broker.publish_sync("secret", "secret 2")
    after = broker.publish_sync("mine", "mine 2")
    mine = bearer(token(["mine"]))
    # the broker's own id of another topic is a point in time: the stream goes on with "mine" only
    resumed = run_clients(read(server, ["mine"], 1, {**mine, "Last-Event-ID": before}))[0]
    assert resumed == [(after, "message", "mine 2")]
    # a caller-given id of the other topic is unknown here: the reset frame, nothing of "secret"
    with httpx.stream("GET", server.url, params={"topic": "mine"}, headers={**mine, "Last-Event-ID": "secret-id"}) as r:
        assert r.status_code == 200
        first = next(r.iter_raw())
    assert b"event: reset\n" in first and b"secret" not in first
    subscribers(broker, 0)
    # and asking for the secret topic itself with that id is refused before anything is looked up
    assert_refused(get(server, ["secret"], {**mine, "Last-Event-ID": "secret-id"}), 403)


# -- publishing --------------------------------------------------------------------------------------


def test_publishing_as_a_client_needs_a_grant_that_covers_the_topic(hub: Tuple[sse_fast.Broker, Server]) -> None:
    broker, server = hub
    url = server.url
    assert_refused(httpx.post(url, params={"topic": "room"}, content="x"), 401)
    assert_refused(httpx.post(url, params={"topic": "room"}, content="x", headers=bearer(token(["room"]))), 403)
    assert_refused(
        httpx.post(url, params={"topic": "other"}, content="x", headers=bearer(token(publish=["room"]))), 403
    )
    assert_refused(
        httpx.post(
            url, params={"topic": "room"}, content="x", headers=bearer(forged(claims(publish=["room"]), "none"))
        ),
        401,
    )
    clients = in_thread(lambda: run_clients(read(server, ["room"], 1, bearer(token(["room"])))))
    subscribers(broker, 1)
    sent = httpx.post(
        url, params={"topic": "room", "private": "1"}, content="by a client", headers=bearer(token(publish=["room"]))
    )
    assert sent.status_code == 200
    assert clients.join() == [[(sent.text, "message", "by a client")]]
    assert broker.stats()["published"] == 1


def test_private_needs_a_guard_and_a_guard_must_return_a_grant() -> None:
    with pytest.raises(InvalidValue, match=r"private=True needs Broker\(guard=...\)"):
        sse_fast.Broker().publish_sync("room", "x", private=True)
    broker = sse_fast.Broker(guard=lambda credentials: "everything")
    with pytest.raises(InvalidType, match="must return a Grant or None, got str"):
        broker.subscriber("room", request={"headers": [], "query_string": b""})
    with pytest.raises(InvalidType, match="request must be an ASGI scope"):
        broker.subscriber("room", request=42)


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_on_redis_private_events_and_their_history_reach_only_covered_subscribers(tmp_path: Any) -> None:
    """The guard sits in the shared broker code: the Redis engine keeps private events apart the same way,
    live and on resume, and refuses the same attempts."""
    with redis_server(str(tmp_path / "redis")) as redis:
        broker = sse_fast.Broker(redis.url, guard=JWTGuard(SECRET, ["HS256"], public=["news"]))
        try:
            with uvicorn_server(guarded_asgi_app(broker)) as server:
                assert_refused(get(server, ["secret"], bearer(token(["news"]))), 403)
                assert_refused(get(server, ["news"], bearer(forged(claims(["news"]), "none"))), 401)
                readers = [read(server, ["news"], 2, bearer(token(["news"]))), read(server, ["news"], 1)]
                clients = in_thread(lambda: run_clients(*readers))
                subscribers(broker, 2)
                private = broker.publish_sync("news", "private", private=True)
                public = broker.publish_sync("news", "public")
                covered, anonymous = clients.join()
                assert covered == [(private, "message", "private"), (public, "message", "public")]
                assert anonymous == [(public, "message", "public")]
                start = broker.publish_sync("news", "start")
                secret = broker.publish_sync("news", "private again", private=True)
                end = broker.publish_sync("news", "end")
                resumed = run_clients(
                    read(server, ["news"], 2, {**bearer(token(["news"])), "Last-Event-ID": start}),
                    read(server, ["news"], 1, {"Last-Event-ID": start}),
                )
                assert [[e[0] for e in got] for got in resumed] == [[secret, end], [end]]
        finally:
            asyncio.run(broker.close())


def test_pyjwt_is_imported_only_by_a_jwt_guard_and_its_absence_names_the_extra() -> None:
    code = (
        "import sys; import sse_fast, sse_fast.auth; assert 'jwt' not in sys.modules, 'imported';"
        "sys.modules['jwt'] = None;"  # as if PyJWT were not installed
        "from sse_fast.auth import JWTGuard\n"
        "try:\n JWTGuard('x' * 32, ['HS256'])\n"
        "except sse_fast.MissingExtra as e:\n print(e)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == (
        'sse_fast.auth.JWTGuard needs jwt, which is not installed: pip install "sse-fast[jwt]"'
        ' (from a checkout: pip install ".[jwt]")'
    )


def test_a_flask_request_gives_its_credentials() -> None:
    """Flask's ``request`` (a proxy to werkzeug's, with ``.environ``), served by waitress."""
    import flask

    from sse_fast.integrations.flask import last_event_id, sse_response

    broker = sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"]))
    app = flask.Flask(__name__)

    @app.get("/")
    def events() -> Any:
        try:
            return sse_response(
                broker.subscriber(flask.request.args.getlist("topic"), last_event_id(), request=flask.request)
            )
        except Refused as refused:
            return flask.Response(refused.body, refused.status, list(refused.headers))

    with waitress_server(app) as server:
        assert_refused(get(server, ["room"], {"Cookie": f"mercureAuthorization={token(['other'])}"}), 403)
        clients = in_thread(
            lambda: run_clients(read(server, ["room"], 1, {"Cookie": f"mercureAuthorization={token(['room'])}"}))
        )
        subscribers(broker, 1)
        new_id = broker.publish_sync("room", "from flask")
        assert clients.join() == [[(new_id, "message", "from flask")]]
    asyncio.run(broker.close())

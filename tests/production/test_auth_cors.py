"""CORS for an ``EventSource`` with credentials, in headless Chromium: the hub of docs/production.md (its code
block, run as written) streams to a page of an allowed origin that sends the hub's cookie, and the browser
refuses the same stream to a page of another origin.

The pages are served from 127.0.0.1 on other ports than the hub's: another origin, the same site, so the
hub's ``SameSite=Lax`` cookie goes along, as it does for ``app.example.com`` and ``hub.example.com``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator

import jwt
import pytest
import uvicorn
from support.broker_clients import subscribers
from support.cdp import Browser, wait_for
from support.ports import free_port
from support.servers import Server, uvicorn_server, wait_until

DOCS = Path(__file__).resolve().parents[2] / "docs" / "production.md"
MARK = "<!-- example: module hub"  # the marker that names the block the suite saves as hub.py
SECRET = "a-secret-for-the-browser-test-of-32+bytes"

if not DOCS.is_file():  # a copy of tests/ run against a wheel: the pages are not beside it
    pytest.skip("docs/production.md is not beside tests/", allow_module_level=True)


def hub_code() -> str:
    """The hub's code block, as the page shows it."""
    lines = DOCS.read_text(encoding="utf-8").split("\n")
    marked = [i for i, line in enumerate(lines) if line.startswith(MARK)]
    assert len(marked) == 1, f"docs/production.md should mark one hub block with {MARK!r}, found {len(marked)}"
    start = marked[0] + 2
    return "\n".join(lines[start : lines.index("```", start)]) + "\n"


def page(hub: str) -> bytes:
    script = f"""
window.result = {{events: [], error: false, state: null}};
const source = new EventSource({json.dumps(hub + "/events?topic=/users/42")}, {{withCredentials: true}});
source.onmessage = (e) => window.result.events.push(e.data);
source.onerror = () => {{ window.result.error = true; window.result.state = source.readyState; }};
"""
    return f"<!doctype html><title>app</title><script>{script}</script>".encode()


def page_app(html: bytes) -> Any:
    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": html})

    return app


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """The documented hub, trusting one page origin; yields (module, hub server, allowed page, other page)."""
    allowed_port = free_port()
    monkeypatch.setenv("HUB_JWT_SECRET", SECRET)
    monkeypatch.setenv("HUB_ORIGINS", f"http://127.0.0.1:{allowed_port}")
    path = tmp_path / "hub.py"
    path.write_text(hub_code(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("docs_production_hub", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with uvicorn_server(module.app) as server:
        html = page(server.url)
        with uvicorn_server(page_app(html)) as other:
            allowed = Server(allowed_port)
            with _serve_on(page_app(html), allowed_port):
                yield module, server, allowed, other
        asyncio.run_coroutine_threadsafe(module.broker.close(), server.loop).result(10)
    sys.modules.pop("docs_production_hub", None)


def _serve_on(app: Any, port: int) -> Any:
    """``uvicorn_server`` on a chosen port (the allowed origin must be known before the hub is imported)."""

    @contextlib.contextmanager
    def serving() -> Iterator[None]:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="critical"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started)
        try:
            yield
        finally:
            server.should_exit = True
            thread.join(10)

    return serving()


def test_an_allowed_origin_streams_with_its_cookie_and_another_is_refused_by_the_browser(
    browser: Browser,  # noqa: F811
    hub: tuple,
) -> None:
    module, server, allowed, other = hub
    token = jwt.encode({"mercure": {"subscribe": ["/users/{id}"]}}, SECRET, algorithm="HS256")
    browser.call("Network.setCookie", url=server.url + "/", name="mercureAuthorization", value=token, sameSite="Lax")

    browser.navigate(other.url + "/")
    wait_for(browser, "window.result && window.result.error", "the browser refusing the other origin's stream")
    assert json.loads(browser.evaluate("JSON.stringify(window.result)")) == {"events": [], "error": True, "state": 2}

    browser.navigate("about:blank")
    subscribers(module.broker, 0)  # the refused stream is gone from the hub too
    browser.navigate(allowed.url + "/")
    subscribers(module.broker, 1)
    module.broker.publish_sync("/users/42", "for user 42")
    wait_for(browser, "window.result.events.length === 1", "the event in the allowed page")
    assert json.loads(browser.evaluate("JSON.stringify(window.result)")) == {
        "events": ["for user 42"],
        "error": False,
        "state": None,
    }

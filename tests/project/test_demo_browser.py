"""``python -m sse_fast demo`` in a real headless Chromium: tokens in order, ``[DONE]``, a moving events/s
counter, heartbeats, a clean Ctrl-C, and a reconnect that resumes after ``Last-Event-ID``.

Chromium is the system's (Debian's ``chromium``, installed by scripts/test.sh); without it this test skips,
or fails under ``SSE_FAST_REQUIRE_BROWSER=1`` (which .ci/run sets).
Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.cdp import Browser, find_chromium, wait_for
from support.ports import free_port

from sse_fast.demo import ANSWER, TOKENS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class Demo:
    """The demo server as a child process, as a user starts it."""

    def __init__(self, port: int, *options: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sse_fast", "demo", "--host", "127.0.0.1", "--port", str(port), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode() if ready else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"the demo did not print its address within 20 s; it printed {line!r}"
        assert int(match.group(1)) == port
        self.url = match.group(0)

    def interrupt(self) -> int:
        """Ctrl-C; the exit code (the demo must stop within 10 s with its streams open)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("the demo did not stop within 10 s of Ctrl-C", pytrace=False)
        finally:
            self.proc.stdout.close()  # a pipe left open warns (ResourceWarning) when collected

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def demo_state(browser: Browser) -> dict:
    return json.loads(browser.evaluate("JSON.stringify(window.demo)"))


def test_demo_in_chromium(browser: Browser) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    port = free_port()
    demo = Demo(port)
    try:
        browser.navigate(demo.url)

        # The chat answer: every token, in order, with ids 1..n, and [DONE] ends it.
        wait_for(browser, "window.demo && window.demo.done", "the chat answer ending with [DONE]")
        state = demo_state(browser)
        assert state["tokens"] == TOKENS
        assert state["ids"] == [str(i) for i in range(1, len(TOKENS) + 1)]
        assert browser.evaluate("document.getElementById('answer').textContent") == ANSWER
        assert "[DONE]" in browser.evaluate("document.getElementById('chat-state').textContent")

        # The events/s counter moves, and keeps moving.
        wait_for(browser, "window.demo.rate > 0", "an events/s figure above zero")
        seen = demo_state(browser)["fastTotal"]
        wait_for(browser, f"window.demo.fastTotal > {seen}", "more fast-stream events")
        assert browser.evaluate("document.getElementById('rate').textContent") != "0 events/s"

        # Heartbeats arrive as named events.
        wait_for(browser, "window.demo.beats >= 1 && window.demo.statusOpen", "a heartbeat")
        browser.screenshot(str(ARTIFACTS / "demo.png"))

        # Ctrl-C ends the server cleanly even with three streams open; the page notices.
        assert demo.interrupt() == 0
        wait_for(browser, "window.demo.statusOpen === false", "the page noticing the server left")
        last_beat = int(demo_state(browser)["lastBeatId"])

        # A new server on the same port: the page reconnects and the server resumes after Last-Event-ID.
        demo = Demo(port)
        wait_for(browser, "window.demo.resumedFrom !== null && window.demo.statusOpen", "a reconnect")
        assert demo_state(browser)["resumedFrom"] == last_beat
        wait_for(browser, f"Number(window.demo.lastBeatId) > {last_beat}", "a heartbeat after the reconnect")
        assert int(demo_state(browser)["lastBeatId"]) == last_beat + 1 or demo_state(browser)["beats"] > 1
        browser.screenshot(str(ARTIFACTS / "demo-reconnected.png"))
    finally:
        demo.kill()


def room(browser: Browser) -> dict:
    return json.loads(browser.evaluate("JSON.stringify(window.room)"))


def say(browser: Browser, text: str) -> None:
    browser.evaluate(
        f"document.getElementById('text').value = {json.dumps(text)}; document.getElementById('send').click()"
    )


def test_room_in_two_chromium_pages(browser: Browser) -> None:
    """Two pages on the room: a message posted in one appears in both with the same id; a page closed and
    reopened resumes from its last id; after a server restart both get the reset frame and reload."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    port = free_port()
    demo = Demo(port)
    other = Browser(find_chromium() or "chromium")
    try:
        for page in (browser, other):
            page.navigate(demo.url + "room")
            wait_for(page, "window.room && window.room.open", "the room page connecting")

        say(browser, "hello")
        for page in (browser, other):
            wait_for(page, "window.room.texts.length === 1", "the first message in both pages")
        first, second = room(browser), room(other)
        assert first["texts"] == second["texts"] == ["hello"]
        assert first["ids"] == second["ids"] and first["ids"][0]

        other.navigate("about:blank")  # the second page is closed...
        wait_for(other, "window.room === undefined", "the second page unloading")
        say(browser, "while you were away")
        wait_for(browser, "window.room.texts.length === 2", "the second message in the first page")
        other.navigate(demo.url + "room")  # ... and reopened: it resumes after its last id
        wait_for(other, "window.room && window.room.texts.length === 1", "the missed message replayed", 10)
        reopened = room(other)
        assert reopened["resumedFrom"] == first["ids"][0]
        assert reopened["texts"] == ["while you were away"] and reopened["ids"] == room(browser)["ids"][1:]
        other.screenshot(str(ARTIFACTS / "room-reopened.png"))

        assert demo.interrupt() == 0  # the server restarts: its history is gone
        demo = Demo(port)
        for page in (browser, other):
            wait_for(page, "window.room.resets === 1 && window.room.open", "the reset frame after the restart")
            assert room(page)["texts"] == []  # the page reloaded its state
        say(other, "after the restart")
        for page in (browser, other):
            wait_for(page, "window.room.texts.length === 1", "a message after the restart in both pages")
            assert room(page)["texts"] == ["after the restart"]
        assert room(browser)["ids"] == room(other)["ids"]
        browser.screenshot(str(ARTIFACTS / "room-after-restart.png"))
    finally:
        other.close()
        demo.kill()

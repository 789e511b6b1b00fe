"""The fault checker can fail: hand-made records with a silent gap, a duplicate, an out-of-order event, a
missing tail or an unserved bad Last-Event-ID are each reported; a gap marked by a reset frame is not.
One run of a ``Recorder`` over a real socket shows it records frames and reconnects with its last id."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
from support.fault_checker import (
    Clients,
    Frame,
    Published,
    Recorder,
    check,
    memory_key,
    redis_key,
)
from support.servers import uvicorn_server, wait_until

pytestmark = [pytest.mark.filterwarnings("error")]

BOOT = "0123456789ab"
KEY = memory_key(BOOT)


def mid(n: int) -> str:
    return f"{BOOT}-{n}"


def truth(*seqs: int, topic: str = "room") -> List[Published]:
    return [Published(mid(n), topic) for n in seqs]


def record(frames: Sequence[Tuple[Optional[str], str]], initial: Optional[Any] = None, conns: int = 1) -> Recorder:
    """A recorder holding ``(id, event)`` frames, spread over ``conns`` connections, never run."""
    recorder = Recorder("http://127.0.0.1:9/never", initial=initial, name="hand-made")
    per = max(1, len(frames) // conns)
    recorder.frames = [Frame(min(i // per, conns - 1), id, event, "") for i, (id, event) in enumerate(frames)]
    return recorder


def events(*seqs: int) -> List[Tuple[Optional[str], str]]:
    return [(mid(n), "message") for n in seqs]


def reset(n: int) -> Tuple[Optional[str], str]:
    return (mid(n), "reset")


def test_everything_in_order_is_no_violation() -> None:
    assert check(truth(1, 2, 3, 4), record(events(1, 2, 3, 4), conns=2), KEY, "room") == []


def test_a_silent_gap_is_reported_with_the_missing_ids() -> None:
    found = check(truth(1, 2, 3, 4, 5), record(events(1, 2, 5)), KEY, "room")
    assert len(found) == 1 and "SILENT GAP" in found[0] and mid(3) in found[0] and mid(4) in found[0], found


def test_a_gap_marked_by_a_reset_frame_is_allowed() -> None:
    assert check(truth(1, 2, 3, 4, 5), record(events(1, 2) + [reset(4)] + events(5)), KEY, "room") == []


def test_events_missing_after_the_reset_id_are_still_a_gap() -> None:
    found = check(truth(1, 2, 3, 4, 5, 6), record(events(1) + [reset(3)] + events(6)), KEY, "room")
    assert len(found) == 1 and "SILENT GAP" in found[0] and mid(4) in found[0] and mid(5) in found[0], found


def test_events_at_or_before_the_reset_id_are_reported() -> None:
    found = check(truth(1, 2, 3, 4), record(events(1) + [reset(3)] + events(2, 3, 4)), KEY, "room")
    assert len(found) == 2 and all("not after the reset frame's id" in v for v in found), found


def test_a_duplicate_is_reported() -> None:
    found = check(truth(1, 2, 3), record(events(1, 2, 2, 3), conns=2), KEY, "room")
    assert len(found) == 1 and "duplicate" in found[0] and mid(2) in found[0], found


def test_an_out_of_order_event_is_reported() -> None:
    found = check(truth(1, 2, 3, 4), record(events(1, 3, 2, 4)), KEY, "room")
    assert any("out of order" in v and mid(2) in v for v in found), found


def test_a_fresh_client_is_owed_everything_from_since() -> None:
    assert check(truth(1, 2, 3), record(events(2, 3)), KEY, "room") == []  # anchored at its first event
    found = check(truth(1, 2, 3), record(events(2, 3)), KEY, "room", since=mid(1))
    assert len(found) == 1 and "before its first event" in found[0] and mid(1) in found[0], found
    assert check(truth(1, 2, 3), record(events(1, 2, 3)), KEY, "room", since=mid(1)) == []
    found = check(truth(1, 2, 3), record([]), KEY, "room", since=mid(2))
    assert len(found) == 1 and "no event at all" in found[0] and mid(1) not in found[0], found


def test_a_missing_tail_is_reported_up_to_the_sentinel() -> None:
    found = check(truth(1, 2, 3, 4, 5), record(events(1, 2, 3)), KEY, "room", sentinel=mid(5))
    assert len(found) == 1 and "MISSING TAIL" in found[0] and mid(4) in found[0] and mid(5) in found[0], found
    assert check(truth(1, 2, 3, 4, 5), record(events(1, 2, 3)), KEY, "room", sentinel=mid(3)) == []


def test_events_of_other_topics_are_not_owed_but_are_reported_when_received() -> None:
    published = truth(1, 3) + truth(2, topic="other")
    assert check(published, record(events(1, 3)), KEY, "room") == []
    found = check(published, record(events(1, 2, 3)), KEY, "room")
    assert len(found) == 1 and "does not follow" in found[0], found
    assert check(published, record(events(1, 2, 3)), KEY, ["room", "other"]) == []


def test_a_resumed_client_is_owed_everything_after_its_initial_id() -> None:
    found = check(truth(1, 2, 3, 4), record(events(3, 4), initial=mid(1)), KEY, "room")
    assert len(found) == 1 and "SILENT GAP" in found[0] and mid(2) in found[0], found
    assert check(truth(1, 2, 3, 4), record(events(2, 3, 4), initial=mid(1)), KEY, "room") == []


@pytest.mark.parametrize("bad", ["garbage", "0123456789ab-\u00b2", "ffffffffffff-3", b"\xff\xfe-1"])
def test_an_unusable_last_event_id_needs_a_reset_frame_first(bad: Any) -> None:
    found = check(truth(1, 2, 3), record(events(2, 3), initial=bad), KEY, "room")
    assert len(found) == 1 and "not a reset frame" in found[0], found
    assert check(truth(1, 2, 3), record([reset(1)] + events(2, 3), initial=bad), KEY, "room") == []
    assert check(truth(1, 2, 3), record([], initial=bad), KEY, "room") != []


def test_an_unacknowledged_event_and_a_reset_with_a_bad_id_are_reported() -> None:
    found = check(truth(1, 3), record(events(1, 2, 3)), KEY, "room")
    assert len(found) == 1 and "acknowledged to no publisher" in found[0], found
    assert check(truth(1, 3), record(events(1, 2, 3)), KEY, "room", unacknowledged_ok=True) == []
    found = check(truth(1, 2), record(events(1) + [("0-0", "reset")] + events(2)), KEY, "room")
    assert any("reset frame with id '0-0'" in v for v in found), found


def test_redis_keys_are_ascii_entry_ids_and_never_0_0() -> None:
    assert redis_key("1700000000000-3") == (1700000000000, 3)
    for bad in ["0-0", "1-\u00b2", "\u0661\u0667-\u0660", "\uff11-\uff10", "1-", "-1", "1-2-3", "x"]:
        assert redis_key(bad) is None, bad
    assert redis_key("9-1") < redis_key("10-0")  # numeric order, not text order


def test_data_is_compared_when_the_truth_holds_it() -> None:
    recorder = record(events(1))
    recorder.frames = [Frame(0, mid(1), "message", "other")]
    found = check([Published(mid(1), "room", "hello")], recorder, KEY, "room")
    assert len(found) == 1 and "carries" in found[0], found


def test_a_recorder_over_a_real_socket_reconnects_with_its_last_id() -> None:
    """A tiny SSE app that ends each response after two frames: the recorder reconnects with the last id."""
    seen: List[Optional[str]] = []
    counter: Dict[str, int] = {"n": 0}

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        seen.append(headers.get(b"last-event-id", b"").decode() or None)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for _ in range(2):
            counter["n"] += 1
            n = counter["n"]
            frame = f"id: {mid(n)}\ndata: {n}\n\n" if n != 3 else f"id: {mid(n)}\nevent: reset\ndata: {{}}\n\n"
            await send({"type": "http.response.body", "body": b": hi\n\n" + frame.encode(), "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    with uvicorn_server(app) as server:
        recorder = Recorder(server.url + "/", name="real")
        with Clients([recorder]):
            wait_until(lambda: len(recorder.frames) >= 6, timeout=20)
    assert seen[:3] == [None, mid(2), mid(4)]
    assert [f.event for f in recorder.frames[:4]] == ["message", "message", "reset", "message"]
    assert all(c.end in ("clean", "stopped") for c in recorder.connections), recorder.connections
    published = truth(*range(1, 7))
    assert check(published, recorder, KEY, "room", sentinel=mid(6)) == []

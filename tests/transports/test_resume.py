"""``last_event_id``: the header first, then the ``lastEventId`` query parameter, validated as an event id."""

from __future__ import annotations

import pytest

from sse_fast.resume import MAX_ID_BYTES, UNREADABLE, from_environ, from_scope, last_event_id, valid_id


@pytest.mark.parametrize(
    "headers",
    [
        {"Last-Event-ID": "evt-7"},
        {"last-event-id": "evt-7"},
        [("Last-Event-Id", "evt-7")],
        [(b"last-event-id", b"evt-7")],
    ],
)
def test_header_in_any_shape(headers: object) -> None:
    assert last_event_id(headers) == "evt-7"  # type: ignore[arg-type]


def test_header_wins_over_query() -> None:
    assert last_event_id({"last-event-id": "h"}, {"lastEventId": "q"}) == "h"


@pytest.mark.parametrize("query", [{"lastEventId": "q-1"}, "a=1&lastEventId=q-1", b"lastEventId=q-1"])
def test_query_when_no_header(query: object) -> None:
    assert last_event_id({}, query) == "q-1"  # type: ignore[arg-type]
    assert last_event_id({"last-event-id": ""}, query) == "q-1"  # type: ignore[arg-type]


def test_absent_is_none() -> None:
    assert last_event_id(None) is None
    assert last_event_id({}, "") is None
    assert last_event_id({"other": "x"}, {"lasteventid": "case matters"}) is None


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "x" * (MAX_ID_BYTES + 1), "\udcff"])
def test_invalid_is_unreadable_and_never_raises(bad: str) -> None:
    assert valid_id(bad) is None
    assert last_event_id({}, {"lastEventId": bad}) == UNREADABLE
    assert valid_id(UNREADABLE) is None  # no event can have it, and it cannot be written back as an id


def test_invalid_header_does_not_fall_back_to_query() -> None:
    assert last_event_id({"last-event-id": "a\x00"}, {"lastEventId": "q"}) == UNREADABLE


def test_length_bound_counts_utf8_bytes() -> None:
    assert valid_id("x" * MAX_ID_BYTES) == "x" * MAX_ID_BYTES
    assert valid_id("é" * (MAX_ID_BYTES // 2)) is not None
    assert valid_id("é" * (MAX_ID_BYTES // 2 + 1)) is None


def test_utf8_header_bytes_and_latin1_decoded_str() -> None:
    raw = "évt-ü".encode()
    assert last_event_id([(b"last-event-id", raw)]) == "évt-ü"
    assert last_event_id({"last-event-id": raw.decode("latin-1")}) == "évt-ü"  # how ASGI/WSGI give it
    assert last_event_id([(b"last-event-id", b"\xff\xfe")]) == UNREADABLE


def test_query_percent_encoding() -> None:
    assert last_event_id({}, "lastEventId=%C3%A9v%20t") == "év t"
    assert last_event_id({}, "lastEventId=%0A") == UNREADABLE
    assert last_event_id({}, "lastEventId=%FF") == UNREADABLE
    assert last_event_id({}, "lastEventId=") is None  # empty: absent


def test_scope_and_environ() -> None:
    scope = {"type": "http", "headers": [(b"last-event-id", b"s-1")], "query_string": b"lastEventId=q"}
    assert from_scope(scope) == "s-1"
    assert from_scope({"type": "http", "headers": [], "query_string": b"lastEventId=q"}) == "q"
    assert from_environ({"HTTP_LAST_EVENT_ID": "w-1", "QUERY_STRING": ""}) == "w-1"
    assert from_environ({"QUERY_STRING": "lastEventId=w-2"}) == "w-2"
    assert from_environ({}) is None

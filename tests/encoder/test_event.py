"""Event: text data as it is, other data as JSON, a comment before the fields, frozen — on both twins."""

from __future__ import annotations

import dataclasses

import pytest

from sse_fast import Event


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        ("raw text", b"data: raw text\n\n"),
        ("a\r\nb", b"data: a\ndata: b\n\n"),
        (b"bytes", b"data: bytes\n\n"),
        (bytearray(b"ba"), b"data: ba\n\n"),
        (memoryview(b"mv"), b"data: mv\n\n"),
        ("", b"data: \n\n"),
    ],
    ids=["str", "str-lines", "bytes", "bytearray", "memoryview", "empty"],
)
def test_encode_writes_text_as_it_is(event_encoder, data, wire):
    assert Event(data=data).encode() == wire


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        ({"value": 100}, b'data: {"value":100}\n\n'),
        ([1, "two"], b'data: [1,"two"]\n\n'),
        (42, b"data: 42\n\n"),
        (1.5, b"data: 1.5\n\n"),
        (True, b"data: true\n\n"),
        ({"s": "a\nb"}, b'data: {"s":"a\\nb"}\n\n'),
    ],
    ids=["dict", "list", "int", "float", "bool", "newline-in-json-string"],
)
def test_encode_writes_other_data_as_json(event_encoder, data, wire):
    assert Event(data=data).encode() == wire


def test_none_data_writes_only_fields(event_encoder):
    assert Event(id="7").encode() == b"id: 7\n\n"
    assert Event().encode() == b"\n"


def test_json_always_encodes_as_json(event_encoder):
    assert Event(data="hello").json() == b'data: "hello"\n\n'
    assert Event(data="a\nb", event="e").json() == b'event: e\ndata: "a\\nb"\n\n'
    assert Event(data=None).json() == b"data: null\n\n"
    assert Event(data={"v": 1}).json() == Event(data={"v": 1}).encode()


def test_default_goes_to_orjson(event_encoder):
    assert Event(data={"c": 1j}).encode(default=str) == b'data: {"c":"1j"}\n\n'
    assert Event(data="s").json(default=str) == b'data: "s"\n\n'
    with pytest.raises(TypeError, match="cannot encode dict as JSON"):
        Event(data={"c": 1j}).encode()


def test_comment_goes_before_the_fields(event_encoder):
    event = Event(data="x", id="1", event="e", retry=5, comment="note\nsecond")
    assert event.encode() == b": note\n: second\nid: 1\nevent: e\nretry: 5\ndata: x\n\n"
    assert Event(data=[1], comment="c").json() == b": c\ndata: [1]\n\n"
    assert Event(comment="only a comment").encode() == b": only a comment\n\n"


def test_refusals_reach_the_caller(event_encoder):
    with pytest.raises(ValueError, match="event must be a single line"):
        Event(data="x", event="a\nb").encode()
    with pytest.raises(ValueError, match="id must not contain NUL"):
        Event(data={"a": 1}, id="\x00").encode()
    with pytest.raises(TypeError, match="comment must be str"):
        Event(data="x", comment=5).encode()


def test_event_is_frozen_and_comparable():
    event = Event(data="x", id="1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert event == Event(data="x", id="1")
    assert event != Event(data="x", id="2")
    assert dataclasses.replace(event, id="2").id == "2"


def test_field_names_and_defaults():
    assert [f.name for f in dataclasses.fields(Event)] == ["data", "event", "id", "retry", "comment"]
    assert Event() == Event(data=None, event=None, id=None, retry=None, comment=None)

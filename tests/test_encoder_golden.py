"""The wire-format table (docs/wire-format.md) as golden bytes, on both twins.

The Writer is not written yet, so each row is the encoder call its Writer method stands for.
"""

from __future__ import annotations

import pytest

from sse_fast import Event

# (Writer call in the wire-format table, the encoder / Event call it maps to, the exact bytes)
WIRE_TABLE = [
    (
        'write_event({"content": "hello"})',
        lambda enc: enc.encode_json({"content": "hello"}),
        b'data: {"content":"hello"}\n\n',
    ),
    ('write_event("hello")', lambda enc: enc.encode_json("hello"), b'data: "hello"\n\n'),
    (
        'write_event_with_name("message", {"text": "hi"})',
        lambda enc: enc.encode_json({"text": "hi"}, event="message"),
        b'event: message\ndata: {"text":"hi"}\n\n',
    ),
    (
        'write_event_with_id("evt-001", {"text": "hi"})',
        lambda enc: enc.encode_json({"text": "hi"}, id="evt-001"),
        b'id: evt-001\ndata: {"text":"hi"}\n\n',
    ),
    (
        'write_full_event(Event(id="evt-001", event="update", data={"value": 100}))',
        lambda enc: Event(id="evt-001", event="update", data={"value": 100}).encode(),
        b'id: evt-001\nevent: update\ndata: {"value":100}\n\n',
    ),
    (
        'write_raw_event("raw text without quotes")',
        lambda enc: enc.encode("raw text without quotes"),
        b"data: raw text without quotes\n\n",
    ),
    ('write_raw_event("a\\nb")', lambda enc: enc.encode("a\nb"), b"data: a\ndata: b\n\n"),
    ("write_done()", lambda enc: enc.encode("[DONE]"), b"data: [DONE]\n\n"),
    (
        'write_error(ValueError("something went wrong"))',
        lambda enc: enc.encode_json({"error": str(ValueError("something went wrong"))}, event="error"),
        b'event: error\ndata: {"error":"something went wrong"}\n\n',
    ),
    ('write_comment("heartbeat")', lambda enc: enc.encode_comment("heartbeat"), b": heartbeat\n\n"),
    ("set_retry(3000)", lambda enc: enc.encode_retry(3000), b"retry: 3000\n\n"),
]


@pytest.mark.parametrize(("call", "make", "wire"), WIRE_TABLE, ids=[row[0] for row in WIRE_TABLE])
def test_wire_table(event_encoder, call, make, wire):
    assert make(event_encoder) == wire


def test_wire_table_through_frame_buffer(encoder):
    buf = encoder.FrameBuffer()
    buf.add_json({"content": "hello"})
    buf.add_json("hello")
    buf.add_json({"text": "hi"}, event="message")
    buf.add_json({"text": "hi"}, id="evt-001")
    buf.add_json({"value": 100}, event="update", id="evt-001")
    buf.add("raw text without quotes")
    buf.add("a\nb")
    buf.add("[DONE]")
    buf.add_json({"error": "something went wrong"}, event="error")
    buf.add_comment("heartbeat")
    buf.add_retry(3000)
    assert buf.take() == b"".join(wire for _, _, wire in WIRE_TABLE)


def test_field_order_is_id_event_retry_data(encoder):
    assert encoder.encode("x", event="e", id="i", retry=5) == b"id: i\nevent: e\nretry: 5\ndata: x\n\n"
    assert encoder.encode("x", retry=5, id="i", event="e") == b"id: i\nevent: e\nretry: 5\ndata: x\n\n"
    assert encoder.encode_json([1], event="e", id="i", retry=5) == b"id: i\nevent: e\nretry: 5\ndata: [1]\n\n"


def test_field_order_in_frame_buffer(encoder):
    buf = encoder.FrameBuffer()
    buf.add("x", "e", "i", 5)
    buf.add_json([1], "e", "i", 5)
    assert buf.take() == b"id: i\nevent: e\nretry: 5\ndata: x\n\nid: i\nevent: e\nretry: 5\ndata: [1]\n\n"


def test_field_order_of_a_full_event_with_a_comment(event_encoder):
    event = Event(data={"v": 1}, event="e", id="i", retry=5, comment="c")
    assert event.encode() == b': c\nid: i\nevent: e\nretry: 5\ndata: {"v":1}\n\n'


def test_encode_json_default_goes_to_orjson(encoder):
    assert encoder.encode_json(frozenset([1]), default=sorted) == b"data: [1]\n\n"
    assert encoder.encode_json({"d": complex(1, 2)}, default=str) == b'data: {"d":"(1+2j)"}\n\n'

"""The wire-format table (tests/support/wire_table.py, docs/wire-format.md) as golden bytes, on both twins: each row
written through a ``Writer`` whose method set encodes with that twin."""

from __future__ import annotations

import pytest
from support.wire_table import TABLE, TABLE_BYTES

from sse_fast import Event, Writer
from sse_fast.testing import ThreadSink


@pytest.mark.parametrize(("method", "args", "wire"), TABLE, ids=[f"{row[0]}-{i}" for i, row in enumerate(TABLE)])
def test_wire_table(writer_encoder, method, args, wire):
    sink = ThreadSink()
    getattr(Writer(sink), method)(*args)
    assert sink.data == wire


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
    assert buf.take() == TABLE_BYTES


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

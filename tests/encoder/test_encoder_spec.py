"""Edge cases of the wire format, each with its exact bytes and what an EventSource reads from them."""

from __future__ import annotations

import sys
from array import array

import orjson
import pytest
from support.sse_parser import Message, parse

# (id, data, exact frame, the data an EventSource receives)
TEXT_CASES = [
    ("empty", "", b"data: \n\n", ""),
    ("lone-cr", "a\rb", b"data: a\ndata: b\n\n", "a\nb"),
    ("crlf", "a\r\nb", b"data: a\ndata: b\n\n", "a\nb"),
    ("lf", "a\nb", b"data: a\ndata: b\n\n", "a\nb"),
    (
        "mixed",
        "a\rb\r\nc\nd\n\re",
        b"data: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n",
        "a\nb\nc\nd\n\ne",
    ),
    ("trailing-lf", "a\n", b"data: a\ndata: \n\n", "a\n"),
    ("trailing-cr", "a\r", b"data: a\ndata: \n\n", "a\n"),
    ("only-crlf", "\r\n", b"data: \ndata: \n\n", "\n"),
    ("cr-cr-lf", "\r\r\n", b"data: \ndata: \ndata: \n\n", "\n\n"),
    ("leading-space", " a", b"data:  a\n\n", " a"),
    ("leading-spaces", "  a\n b", b"data:   a\ndata:  b\n\n", "  a\n b"),
    ("leading-colon", ":a", b"data: :a\n\n", ":a"),
    ("field-lookalike", "id: 7\nevent: x", b"data: id: 7\ndata: event: x\n\n", "id: 7\nevent: x"),
    ("nul", "a\x00b", b"data: a\x00b\n\n", "a\x00b"),
    ("u2028", "a\u2028b", b"data: a\xe2\x80\xa8b\n\n", "a\u2028b"),
    (
        "not-sse-line-breaks",
        "a\x85b\x0bc\x0cd\x1ce\u2029f",
        b"data: a\xc2\x85b\x0bc\x0cd\x1ce\xe2\x80\xa9f\n\n",
        "a\x85b\x0bc\x0cd\x1ce\u2029f",
    ),
    ("emoji", "\U0001f389 ok", b"data: \xf0\x9f\x8e\x89 ok\n\n", "\U0001f389 ok"),
    ("bom-inside", "\ufeffa", b"data: \xef\xbb\xbfa\n\n", "\ufeffa"),
]


@pytest.mark.parametrize(("data", "wire", "received"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_text_data(encoder, data, wire, received):
    assert encoder.encode(data) == wire
    assert parse(wire).events == [Message("message", received, "", None)]


def test_one_mebibyte_single_line(encoder):
    data = "x" * (1 << 20)
    frame = encoder.encode(data)
    assert frame == b"data: " + data.encode() + b"\n\n"
    assert parse(frame).events[0].data == data


def test_ten_thousand_lines(encoder):
    data = "\n".join(str(i) for i in range(10_000))
    frame = encoder.encode(data)
    assert frame == b"".join(b"data: %d\n" % i for i in range(10_000)) + b"\n"
    assert parse(frame).events == [Message("message", data, "", None)]


def test_ten_thousand_crlf_lines(encoder):
    frame = encoder.encode("\r\n".join(["line"] * 10_000))
    assert frame == b"data: line\n" * 10_000 + b"\n"


def test_none_data_writes_only_the_fields(encoder):
    assert encoder.encode(None) == b"\n"
    assert encoder.encode(None, event="e") == b"event: e\n\n"
    assert encoder.encode(None, id="7", retry=10) == b"id: 7\nretry: 10\n\n"
    # an EventSource dispatches nothing for it, but remembers the id and the retry
    assert parse(encoder.encode(None, id="7", retry=10)) == ([], "7", 10)


BINARY = b"one\r\ntwo\rthree\nfour \xe2\x80\xa8"
BINARY_FRAME = b"data: one\ndata: two\ndata: three\ndata: four \xe2\x80\xa8\n\n"


@pytest.mark.parametrize(
    "data",
    [BINARY, bytearray(BINARY), memoryview(BINARY), memoryview(bytearray(BINARY))],
    ids=["bytes", "bytearray", "memoryview", "memoryview-of-bytearray"],
)
def test_binary_data(encoder, data):
    assert encoder.encode(data) == BINARY_FRAME
    assert encoder.encode_comment(data) == BINARY_FRAME.replace(b"data: ", b": ")


def test_memoryview_of_an_int_array_is_its_raw_bytes(encoder):
    # 4-byte items: the frame holds the array's bytes, not len(view) items
    values = array("I", [0x64636261, 0x0A676665, 0x0D0A6968])
    raw = values.tobytes()
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    expected = b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
    if sys.byteorder == "little":  # raw is b"abcdefg\nhi\n\r"
        assert expected == b"data: abcdefg\ndata: hi\ndata: \ndata: \n\n"
    assert encoder.encode(memoryview(values)) == expected
    assert encoder.encode(memoryview(values)) == encoder.encode(raw)


def test_utf8_bytes_pass_as_they_are(encoder):
    text = "é\n\u2028€\U0001f389".encode()
    assert encoder.encode(text) == b"data: \xc3\xa9\ndata: \xe2\x80\xa8\xe2\x82\xac\xf0\x9f\x8e\x89\n\n"
    assert encoder.encode_json(orjson.Fragment(text)) == encoder.encode(text)


def test_comment_with_several_lines(encoder):
    assert encoder.encode_comment("one\ntwo\r\nthree\rfour") == b": one\n: two\n: three\n: four\n\n"
    assert encoder.encode_comment("") == b": \n\n"
    assert encoder.encode_comment("tail\n") == b": tail\n: \n\n"
    assert parse(encoder.encode_comment("one\ntwo")) == ([], "", None)


@pytest.mark.parametrize("ms", [0, 1, 3000, 2**31 - 1])  # 2**31 - 1: the largest retry clients take
def test_retry_values(encoder, ms):
    assert encoder.encode_retry(ms) == b"retry: %d\n\n" % ms
    assert encoder.encode("x", retry=ms) == b"retry: %d\ndata: x\n\n" % ms
    assert parse(encoder.encode_retry(ms)) == ([], "", ms)


def test_empty_id_and_event_are_written(encoder):
    # "id: " resets the browser's last event id; "event: " means the default "message" type
    frame = encoder.encode("x", event="", id="")
    assert frame == b"id: \nevent: \ndata: x\n\n"
    assert parse(b"id: 1\ndata: a\n\n" + frame).events[-1] == Message("message", "x", "", None)


def test_id_and_event_keep_colons_spaces_and_unicode(encoder):
    frame = encoder.encode("x", event=" a:b \u2028", id=":1 \U0001f389\x85")
    assert frame == "id: :1 \U0001f389\x85\nevent:  a:b \u2028\ndata: x\n\n".encode()
    assert parse(frame).events == [Message(" a:b \u2028", "x", ":1 \U0001f389\x85", None)]


def test_nul_is_allowed_in_an_event_name(encoder):
    assert encoder.encode("x", event="a\x00b") == b"event: a\x00b\ndata: x\n\n"


def test_a_json_fragment_with_line_breaks_is_split_like_any_data(encoder):
    fragment = orjson.Fragment(b'{"a":\r\n1,\n"b":2}')
    frame = encoder.encode_json(fragment, id="f")
    assert frame == b'id: f\ndata: {"a":\ndata: 1,\ndata: "b":2}\n\n'
    assert orjson.loads(parse(frame).events[0].data) == {"a": 1, "b": 2}

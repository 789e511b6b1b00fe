"""Input the encoder refuses: the exact error type and message (so both twins agree), and nothing written."""

from __future__ import annotations

import orjson
import pytest

from sse_fast import InvalidType, InvalidUTF8, InvalidValue, NotJSONSerializable, SSEError

ADD = {
    "encode": "add",
    "encode_json": "add_json",
    "encode_comment": "add_comment",
    "encode_retry": "add_retry",
}
HINT = "; pass default= to convert values orjson does not know"
RETRY = "retry must be a non-negative int (milliseconds), got "
TOO_LONG = (
    "retry must be at most 2147483647 ms (2**31 - 1): clients' timers overflow past it and reconnect at once; got "
)


def line_break(what: str, shown: str) -> str:
    return f"{what} must be a single line without '\\r' or '\\n', got {shown}"


def not_utf8(what: str, given: str, problem: str) -> str:
    return (
        f"{what} must be valid UTF-8 (browsers would show U+FFFD, some clients stop reading the stream), "
        f"got {given} with {problem}"
    )


FRAGMENT = "orjson output (an orjson.Fragment)"


def surrogate(what: str, index: int) -> str:
    return f"{what} must be encodable as UTF-8, got a lone surrogate '\\ud800' at index {index}"


def orjson_says(obj, default=None) -> str:
    with pytest.raises(TypeError) as info:
        orjson.dumps(obj, default=default)
    return str(info.value)


def give_up(obj):
    raise TypeError(f"no idea what to do with {obj!r}")


class Opaque:
    pass


class Millis(int):
    pass


class Raw(bytes):
    pass


# (id, function, args, kwargs, error type, exact message)
CASES = [
    ("lf-in-event", "encode", ("x",), {"event": "a\nb"}, InvalidValue, line_break("event", "'a\\nb'")),
    ("cr-in-event", "encode", ("x",), {"event": "a\rb"}, InvalidValue, line_break("event", "'a\\rb'")),
    ("crlf-in-event", "encode_json", (1,), {"event": "\r\n"}, InvalidValue, line_break("event", "'\\r\\n'")),
    ("lf-in-id", "encode", ("x",), {"id": "a\nb"}, InvalidValue, line_break("id", "'a\\nb'")),
    ("cr-in-id", "encode_json", (1,), {"id": "a\r"}, InvalidValue, line_break("id", "'a\\r'")),
    (
        "nul-in-id",
        "encode",
        ("x",),
        {"id": "a\x00b"},
        InvalidValue,
        "id must not contain NUL ('\\x00'), browsers ignore such ids; got 'a\\x00b'",
    ),
    (
        "long-id-shown-short",
        "encode",
        ("x",),
        {"id": "\n" + "a" * 200},
        InvalidValue,
        line_break("id", "'\\n" + "a" * 74 + "..."),
    ),
    ("negative-retry", "encode_retry", (-1,), {}, InvalidValue, RETRY + "-1"),
    ("negative-retry-field", "encode", ("x",), {"retry": -5}, InvalidValue, RETRY + "-5"),
    ("huge-negative-retry", "encode_retry", (-(2**70),), {}, InvalidValue, RETRY + str(-(2**70))),
    ("retry-2**31", "encode_retry", (2**31,), {}, InvalidValue, TOO_LONG + "2147483648"),
    ("retry-2**31-field", "encode", ("x",), {"retry": 2**31}, InvalidValue, TOO_LONG + "2147483648"),
    ("retry-2**32-json-field", "encode_json", (1,), {"retry": 2**32}, InvalidValue, TOO_LONG + "4294967296"),
    ("retry-over-64-bits", "encode_retry", (2**70,), {}, InvalidValue, TOO_LONG + str(2**70)),
    ("retry-int-subclass-2**31", "encode_retry", (Millis(2**31),), {}, InvalidValue, TOO_LONG + "2147483648"),
    ("bool-retry", "encode_retry", (True,), {}, InvalidValue, RETRY + "bool: True"),
    ("bool-retry-field", "encode_json", (1,), {"retry": False}, InvalidValue, RETRY + "bool: False"),
    ("float-retry", "encode_retry", (1.5,), {}, InvalidValue, RETRY + "float: 1.5"),
    ("integral-float-retry", "encode", ("x",), {"retry": 3000.0}, InvalidValue, RETRY + "float: 3000.0"),
    ("str-retry", "encode_retry", ("3000",), {}, InvalidValue, RETRY + "str: '3000'"),
    ("none-retry", "encode_retry", (None,), {}, InvalidValue, RETRY + "NoneType: None"),
    (
        "invalid-utf8-bytes",
        "encode",
        (b"ok\n\xff",),
        {},
        InvalidUTF8,
        not_utf8("data", "bytes", "invalid start byte b'\\xff' at byte 3"),
    ),
    (
        "invalid-utf8-after-64-ascii-bytes",
        "encode",
        (b"a" * 64 + b"\xe9t\xe9",),
        {"id": "1"},
        InvalidUTF8,
        not_utf8("data", "bytes", "invalid continuation byte b'\\xe9' at byte 64"),
    ),
    (
        "invalid-utf8-after-1000-ascii-bytes",
        "encode",
        (b"a" * 1000 + b"\xff" + b"b" * 100,),
        {},
        InvalidUTF8,
        not_utf8("data", "bytes", "invalid start byte b'\\xff' at byte 1000"),
    ),
    (
        "truncated-utf8-bytearray",
        "encode",
        (bytearray(b"caf\xc3"),),
        {},
        InvalidUTF8,
        not_utf8("data", "bytearray", "unexpected end of data b'\\xc3' at byte 3"),
    ),
    (
        "surrogate-in-utf8-memoryview",
        "encode",
        (memoryview(b"\xed\xa0\x80"),),
        {},
        InvalidUTF8,
        not_utf8("data", "memoryview", "invalid continuation byte b'\\xed' at byte 0"),
    ),
    (
        "overlong-utf8-subclass",
        "encode",
        (Raw(b"\xc0\xaf"),),
        {},
        InvalidUTF8,
        not_utf8("data", "Raw", "invalid start byte b'\\xc0' at byte 0"),
    ),
    (
        "past-u10ffff-comment",
        "encode_comment",
        (b"\xf4\x90\x80\x80",),
        {},
        InvalidUTF8,
        not_utf8("comment", "bytes", "invalid continuation byte b'\\xf4' at byte 0"),
    ),
    (
        "invalid-utf8-fragment",
        "encode_json",
        ({"content": orjson.Fragment(b'"caf\xe9"')},),
        {"id": "7"},
        InvalidUTF8,
        not_utf8("JSON data", FRAGMENT, "invalid continuation byte b'\\xe9' at byte 15"),
    ),
    (
        "invalid-utf8-fragment-alone",
        "encode_json",
        (orjson.Fragment(b"\x80"),),
        {},
        InvalidUTF8,
        not_utf8("JSON data", FRAGMENT, "invalid start byte b'\\x80' at byte 0"),
    ),
    (
        "int-data",
        "encode",
        (5,),
        {},
        InvalidType,
        "data must be str, bytes, bytearray or memoryview or None, got int",
    ),
    (
        "list-data",
        "encode",
        ([1],),
        {},
        InvalidType,
        "data must be str, bytes, bytearray or memoryview or None, got list",
    ),
    (
        "dict-data",
        "encode",
        ({"a": 1},),
        {},
        InvalidType,
        "data must be str, bytes, bytearray or memoryview or None, got dict",
    ),
    (
        "none-comment",
        "encode_comment",
        (None,),
        {},
        InvalidType,
        "comment must be str, bytes, bytearray or memoryview, got NoneType",
    ),
    (
        "int-comment",
        "encode_comment",
        (7,),
        {},
        InvalidType,
        "comment must be str, bytes, bytearray or memoryview, got int",
    ),
    ("int-id", "encode", ("x",), {"id": 5}, InvalidType, "id must be str or None, got int: 5"),
    ("bytes-id", "encode_json", (1,), {"id": b"5"}, InvalidType, "id must be str or None, got bytes: b'5'"),
    (
        "bytes-event",
        "encode",
        ("x",),
        {"event": b"e"},
        InvalidType,
        "event must be str or None, got bytes: b'e'",
    ),
    (
        "list-event",
        "encode_json",
        (1,),
        {"event": ["e"]},
        InvalidType,
        "event must be str or None, got list: ['e']",
    ),
    ("surrogate-in-data", "encode", ("a\ud800",), {}, InvalidValue, surrogate("data", 1)),
    ("surrogate-in-id", "encode", ("x",), {"id": "ab\ud800"}, InvalidValue, surrogate("id", 2)),
    ("surrogate-in-event", "encode_json", (1,), {"event": "\ud800"}, InvalidValue, surrogate("event", 0)),
    ("surrogate-in-comment", "encode_comment", ("a\nb\ud800",), {}, InvalidValue, surrogate("comment", 3)),
    ("set", "encode_json", ({1, 2},), {}, NotJSONSerializable, "cannot encode set as JSON: " + orjson_says({1}) + HINT),
    (
        "plain-object",
        "encode_json",
        (object(),),
        {},
        NotJSONSerializable,
        "cannot encode object as JSON: " + orjson_says(object()) + HINT,
    ),
    (
        "object",
        "encode_json",
        (Opaque(),),
        {},
        NotJSONSerializable,
        "cannot encode Opaque as JSON: " + orjson_says(Opaque()) + HINT,
    ),
    (
        "nested-set",
        "encode_json",
        ({"a": [{1}]},),
        {},
        NotJSONSerializable,
        "cannot encode dict as JSON: " + orjson_says({1}) + HINT,
    ),
    (
        "surrogate-in-json",
        "encode_json",
        ("\ud800",),
        {},
        NotJSONSerializable,
        "cannot encode str as JSON: " + orjson_says("\ud800") + HINT,
    ),
    (
        "int-too-big-for-json",
        "encode_json",
        (2**64,),
        {},
        NotJSONSerializable,
        "cannot encode int as JSON: " + orjson_says(2**64) + HINT,
    ),
    (
        "default-gives-up",
        "encode_json",
        ({1},),
        {"default": give_up},
        NotJSONSerializable,
        "cannot encode set as JSON: " + orjson_says({1}, give_up) + HINT,
    ),
    # checks run in wire order: id, event, retry, then data
    ("id-before-event", "encode", ("x",), {"id": "\n", "event": "\n"}, InvalidValue, line_break("id", "'\\n'")),
    (
        "event-before-retry",
        "encode",
        ("x",),
        {"event": 1, "retry": -1},
        InvalidType,
        "event must be str or None, got int: 1",
    ),
    ("retry-before-data", "encode", (1,), {"retry": -1}, InvalidValue, RETRY + "-1"),
    ("fields-before-json", "encode_json", ({1},), {"id": 1}, InvalidType, "id must be str or None, got int: 1"),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("function", "args", "kwargs", "error", "message"), [c[1:] for c in CASES], ids=IDS)
def test_refused_with_exact_error(encoder, function, args, kwargs, error, message):
    with pytest.raises(error) as info:
        getattr(encoder, function)(*args, **kwargs)
    assert type(info.value) is error
    assert str(info.value) == message


BUILTIN = {InvalidValue: ValueError, InvalidUTF8: ValueError, InvalidType: TypeError, NotJSONSerializable: TypeError}


@pytest.mark.parametrize(("function", "args", "kwargs", "error"), [c[1:5] for c in CASES], ids=IDS)
def test_each_refusal_is_still_caught_as_the_builtin_it_was(encoder, function, args, kwargs, error):
    with pytest.raises(BUILTIN[error]) as info:
        getattr(encoder, function)(*args, **kwargs)
    assert isinstance(info.value, SSEError)


@pytest.mark.parametrize(("function", "args", "kwargs"), [c[1:4] for c in CASES], ids=IDS)
def test_both_twins_refuse_alike(twins, function, args, kwargs):
    errors = []
    for twin in twins:
        with pytest.raises(Exception) as info:
            getattr(twin, function)(*args, **kwargs)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


@pytest.mark.parametrize(("function", "args", "kwargs", "error"), [c[1:5] for c in CASES], ids=IDS)
def test_failed_add_leaves_the_buffer_unchanged(encoder, function, args, kwargs, error):
    buf = encoder.FrameBuffer()
    buf.add("before", id="1")
    buf.add_json({"big": "x" * 5000})  # past any small initial capacity
    before = len(buf)
    with pytest.raises(error):
        getattr(buf, ADD[function])(*args, **kwargs)
    assert len(buf) == before
    buf.add_comment("after")
    assert buf.take() == (encoder.encode("before", id="1") + encoder.encode_json({"big": "x" * 5000}) + b": after\n\n")


def test_failed_add_on_an_empty_buffer_leaves_it_empty(encoder):
    buf = encoder.FrameBuffer()
    with pytest.raises(ValueError):
        buf.add("x" * 100_000, id="a\nb")
    with pytest.raises(TypeError):
        buf.add_json(["x" * 100_000, {1}])
    with pytest.raises(ValueError):
        buf.add("x" * 100_000 + "\ud800")
    assert len(buf) == 0
    assert buf.take() == b""


def test_wrong_arguments_are_type_errors(encoder):
    # the messages come from the interpreter and differ between the twins; the type must not
    for call in [
        lambda: encoder.encode(),
        lambda: encoder.encode("x", None, None, None, None),
        lambda: encoder.encode("x", colour="red"),
        lambda: encoder.encode_retry(),
        lambda: encoder.FrameBuffer(1),
        lambda: encoder.FrameBuffer().add(),
        lambda: encoder.FrameBuffer().take(1),
    ]:
        with pytest.raises(TypeError):
            call()

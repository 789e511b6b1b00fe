"""sse_fast.compat.sse_starlette's event classes against the real sse-starlette (a test-only reference).

Valid input must give sse-starlette's bytes exactly; the deliberate differences (README "compat") are
tested one by one below.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import sse_starlette.event as reference
from hypothesis import given
from hypothesis import strategies as st
from support.sse_parser import parse

from sse_fast import Event, InvalidType, InvalidValue
from sse_fast.compat.sse_starlette import JSONServerSentEvent, ServerSentEvent, ensure_bytes

SEPS = ["\r\n", "\r", "\n"]

# Text heavy in the characters that matter to the wire format: line breaks, colons, spaces, NUL, non-ASCII.
wire_text = st.text(
    st.one_of(st.sampled_from("\r\n: \x00\t\u2028\x85é€😀"), st.characters(exclude_categories=["Cs"])),
    max_size=40,
)
single_line = wire_text.map(lambda s: s.replace("\r", "").replace("\n", ""))
ids = single_line.map(lambda s: s.replace("\x00", ""))
plain_data = st.one_of(st.none(), wire_text, st.integers(), st.floats(allow_nan=False), st.booleans())
event_fields = st.fixed_dictionaries(
    {},
    optional={
        "event": st.one_of(st.none(), single_line),
        "id": st.one_of(st.none(), ids),
        "retry": st.one_of(st.none(), st.integers(min_value=0, max_value=2**31 - 1)),
        "comment": st.one_of(st.none(), wire_text),
        "sep": st.one_of(st.none(), st.sampled_from(SEPS)),
    },
)


def both(cls: str, data: Any = None, **fields: Any) -> tuple:
    """(sse_fast's bytes, sse-starlette's bytes) for the same constructor call."""
    ours = {"ServerSentEvent": ServerSentEvent, "JSONServerSentEvent": JSONServerSentEvent}[cls]
    return ours(data, **fields).encode(), getattr(reference, cls)(data, **fields).encode()


# --- documented bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ServerSentEvent("hello"), b"data: hello\r\n\r\n"),
        (ServerSentEvent(), b"\r\n"),
        (ServerSentEvent(""), b"data: \r\n\r\n"),
        (ServerSentEvent(42), b"data: 42\r\n\r\n"),
        (ServerSentEvent("a\nb\r\nc\rd"), b"data: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n"),
        (
            ServerSentEvent("x", event="update", id="7", retry=3000, comment="hi"),
            b": hi\r\nid: 7\r\nevent: update\r\ndata: x\r\nretry: 3000\r\n\r\n",
        ),
        (ServerSentEvent(comment="ping"), b": ping\r\n\r\n"),
        (ServerSentEvent(comment="a\nb"), b": a\r\n: b\r\n\r\n"),
        (ServerSentEvent(retry=0), b"retry: 0\r\n\r\n"),
        (ServerSentEvent("x", sep="\n"), b"data: x\n\n"),
        (ServerSentEvent("x", id="1", sep="\r"), b"id: 1\rdata: x\r\r"),
        (JSONServerSentEvent({"a": 1, "b": [True, None]}), b'data: {"a":1,"b":[true,null]}\r\n\r\n'),
        (JSONServerSentEvent("é"), 'data: "é"\r\n\r\n'.encode()),
        (JSONServerSentEvent("a\nb", sep="\n"), b'data: "a\\nb"\n\n'),
        (JSONServerSentEvent(), b"\r\n"),
    ],
)
def test_documented_bytes(event: ServerSentEvent, expected: bytes) -> None:
    assert event.encode() == expected
    ref_cls = getattr(reference, type(event).__name__)
    data = event.data if type(event) is ServerSentEvent else json.loads(event.data or "null")
    fields = {k: getattr(event, k) for k in ("event", "id", "retry", "comment")}
    assert ref_cls(data, sep=event._sep, **fields).encode() == expected


def test_default_separator_is_crlf() -> None:
    assert ServerSentEvent.DEFAULT_SEPARATOR == reference.ServerSentEvent.DEFAULT_SEPARATOR == "\r\n"


# --- byte identity on valid input -----------------------------------------------------------------


@given(data=plain_data, fields=event_fields)
def test_server_sent_event_matches_sse_starlette(data: Any, fields: dict) -> None:
    ours, theirs = both("ServerSentEvent", data, **fields)
    assert ours == theirs


@given(data=wire_text, sep=st.sampled_from(SEPS))
def test_every_line_break_in_data_is_a_data_line(data: str, sep: str) -> None:
    frame = ServerSentEvent(data, sep=sep).encode()
    (message,) = parse(frame).events
    assert message.data == data.replace("\r\n", "\n").replace("\r", "\n")


def _not_in_exponent_form(value: float) -> bool:
    """orjson may spell a float that ``repr`` writes with an exponent differently (README; tested below)."""
    return "e" not in repr(value)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False).filter(_not_in_exponent_form),
    wire_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(wire_text, inner, max_size=4)),
    max_leaves=12,
)


@given(data=json_values, fields=event_fields)
def test_json_server_sent_event_matches_sse_starlette(data: Any, fields: dict) -> None:
    ours, theirs = both("JSONServerSentEvent", data, **fields)
    assert ours == theirs


def test_json_data_attribute_is_the_json_text_like_sse_starlette() -> None:
    assert JSONServerSentEvent({"a": [1, "é"]}).data == reference.JSONServerSentEvent({"a": [1, "é"]}).data


@pytest.mark.parametrize("data", [{1: "int key", None: 0, 1.5: True}, {"big": 2**80}, [-(2**70)]])
def test_json_orjson_refuses_but_stdlib_writes_matches_sse_starlette(data: Any) -> None:
    ours, theirs = both("JSONServerSentEvent", data)
    assert ours == theirs


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4))
def test_json_floats_in_exponent_form_have_the_same_value(values: list) -> None:
    ours, theirs = both("JSONServerSentEvent", values, sep="\n")
    assert json.loads(ours[6:-2]) == json.loads(theirs[6:-2]) == values


@pytest.mark.parametrize(("value", "spelled"), [(1e-5, b"0.00001"), (1.5e-7, b"1.5e-7")])
def test_json_float_spelling_differs_from_sse_starlette(value: float, spelled: bytes) -> None:
    assert both("JSONServerSentEvent", value, sep="\n") == (
        b"data: " + spelled + b"\n\n",
        b"data: %r\n\n" % value,
    )


def test_json_nan_is_null_where_sse_starlette_refuses() -> None:
    with pytest.raises(ValueError):
        reference.JSONServerSentEvent(math.nan)
    assert JSONServerSentEvent([math.nan, math.inf]).encode() == b"data: [null,null]\r\n\r\n"


def test_json_refuses_what_neither_encoder_can_write() -> None:
    with pytest.raises(TypeError, match="cannot encode dict as JSON"):
        JSONServerSentEvent({"x": object()})
    with pytest.raises(TypeError, match="cannot encode str as JSON"):
        JSONServerSentEvent("\ud800")


def test_json_is_made_when_the_event_is_made() -> None:
    payload = {"n": 1}
    event = JSONServerSentEvent(payload)
    payload["n"] = 2
    assert event.encode() == b'data: {"n":1}\r\n\r\n'


def test_fields_can_be_changed_after_construction() -> None:
    event = ServerSentEvent("x")
    event.data, event.id, event.event, event.retry, event.comment = "y", "2", "e", 5, "c"
    assert event.encode() == b": c\r\nid: 2\r\nevent: e\r\ndata: y\r\nretry: 5\r\n\r\n"


# --- deliberate differences -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected", "sse_starlette_writes"),
    [
        ({"a": 1, "b": "é"}, '{"a":1,"b":"é"}', "{'a': 1, 'b': 'é'}"),
        ([1, "x", None], '[1,"x",null]', "[1, 'x', None]"),
        ((1, 2), "[1,2]", "(1, 2)"),
        ({1: "a"}, '{"1":"a"}', "{1: 'a'}"),
        (b"raw\nbytes", "raw\ndata: bytes", "b'raw\\nbytes'"),
        (bytearray(b"ba"), "ba", "bytearray(b'ba')"),
        (memoryview(b"mv"), "mv", "<memory at"),
    ],
)
def test_containers_are_json_and_bytes_are_raw(data: Any, expected: str, sse_starlette_writes: str) -> None:
    assert ServerSentEvent(data, sep="\n").encode() == f"data: {expected}\n\n".encode()
    assert reference.ServerSentEvent(data, sep="\n").encode().decode().startswith(f"data: {sse_starlette_writes}")


@pytest.mark.parametrize("field", ["id", "event"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nb", "\n"])
def test_line_break_in_id_or_event_is_refused(field: str, value: str) -> None:
    stripped = reference.ServerSentEvent("x", sep="\n", **{field: value}).encode()  # silently joined
    assert stripped.count(b"\n") == 3
    with pytest.raises(ValueError, match=f"{field} must be a single line"):
        ServerSentEvent("x", **{field: value}).encode()


def test_nul_in_id_is_refused() -> None:
    assert reference.ServerSentEvent("x", id="a\x00b").encode().startswith(b"id: a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        ServerSentEvent("x", id="a\x00b").encode()


@pytest.mark.parametrize("retry", [-1, True, 2**31])
def test_negative_bool_or_too_long_retry_is_refused(retry: Any) -> None:
    reference.ServerSentEvent(retry=retry).encode()  # writes "retry: -1" / "retry: True" / "retry: 2147483648"
    with pytest.raises(ValueError, match="retry must be (a non-negative int|at most 2147483647 ms)"):
        ServerSentEvent(retry=retry).encode()


@pytest.mark.parametrize("retry", [1.5, "100"])
def test_non_int_retry_is_a_type_error_like_sse_starlette(retry: Any) -> None:
    with pytest.raises(TypeError) as theirs:
        reference.ServerSentEvent(retry=retry).encode()
    with pytest.raises(TypeError) as info:
        ServerSentEvent(retry=retry).encode()
    assert type(info.value) is InvalidType
    assert str(info.value) == str(theirs.value) == "retry argument must be int"  # sse-starlette's tests compare it


@pytest.mark.parametrize("field", ["id", "event"])
def test_non_str_id_or_event_is_a_type_error_like_sse_starlette(field: str) -> None:
    with pytest.raises(TypeError):
        reference.ServerSentEvent("x", **{field: 5}).encode()
    with pytest.raises(TypeError, match=f"{field} must be str"):
        ServerSentEvent("x", **{field: 5}).encode()


@pytest.mark.parametrize("sep", ["", "\n\n", "abc", "\r\n\r\n"])
def test_separator_other_than_cr_lf_crlf_is_refused(sep: str) -> None:
    reference.ServerSentEvent("x", sep=sep).encode()  # sse-starlette writes a broken stream
    with pytest.raises(ValueError, match="sep must be one of") as info:
        ServerSentEvent("x", sep=sep)
    assert type(info.value) is InvalidValue


def test_lone_surrogate_is_refused_as_by_sse_starlette() -> None:
    with pytest.raises(ValueError):
        reference.ServerSentEvent("\ud800").encode()
    with pytest.raises(ValueError):
        ServerSentEvent("\ud800").encode()


# --- ensure_bytes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        b"verbatim\n",
        "text\nlines",
        42,
        {"data": "d", "event": "e", "id": "1", "retry": 10, "comment": "c"},
        {"data": "d", "sep": "\r"},
        {},
    ],
)
@pytest.mark.parametrize("sep", SEPS)
def test_ensure_bytes_matches_sse_starlette(item: Any, sep: str) -> None:
    assert ensure_bytes(item, sep) == reference.ensure_bytes(item, sep)


@pytest.mark.parametrize("sep", SEPS)
def test_ensure_bytes_keeps_an_events_own_separator(sep: str) -> None:
    ours = ensure_bytes(ServerSentEvent("x"), sep)
    assert ours == reference.ensure_bytes(reference.ServerSentEvent("x"), sep) == b"data: x\r\n\r\n"


def test_ensure_bytes_does_not_change_the_callers_dict() -> None:
    item = {"data": "d", "sep": "\r"}
    ensure_bytes(item, "\n")
    assert item == {"data": "d", "sep": "\r"}


def test_ensure_bytes_unknown_key_is_a_type_error_like_sse_starlette() -> None:
    with pytest.raises(TypeError):
        reference.ensure_bytes({"data": "d", "colour": "red"}, "\n")
    with pytest.raises(TypeError, match="colour"):
        ensure_bytes({"data": "d", "colour": "red"}, "\n")


def test_ensure_bytes_takes_a_left_over_sse_starlette_event_and_an_sse_fast_event() -> None:
    assert ensure_bytes(reference.ServerSentEvent("x", id="1"), "\n") == b"id: 1\r\ndata: x\r\n\r\n"
    assert ensure_bytes(Event(data={"v": 1}, event="e"), "\r\n") == b'event: e\ndata: {"v":1}\n\n'


def test_ensure_bytes_memoryview_is_raw() -> None:
    assert ensure_bytes(memoryview(b"mv"), "\n") == b"mv"  # as sse-starlette >= 3.7


def test_ensure_bytes_bytearray_is_raw() -> None:
    assert reference.ensure_bytes(bytearray(b"ba"), "\n") == b"data: bytearray(b'ba')\n\n"
    assert ensure_bytes(bytearray(b"ba"), "\n") == b"ba"


def test_ensure_bytes_list_is_json() -> None:
    assert reference.ensure_bytes([1, "a"], "\n") == b"data: [1, 'a']\n\n"
    assert ensure_bytes([1, "a"], "\n") == b'data: [1,"a"]\n\n'


@given(data=plain_data, fields=event_fields, sep=st.sampled_from(SEPS))
def test_ensure_bytes_dict_matches_sse_starlette(data: Any, fields: dict, sep: str) -> None:
    item = {"data": data, **fields}
    assert ensure_bytes(item, sep) == reference.ensure_bytes(item, sep)

"""The two ``EventParser`` twins: the same events and state for every stream and every way of cutting it,
checked against each other and against the tests' own WHATWG parser (tests/support/sse_parser.py)."""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.sse_parser import parse as spec_parse
from support.twins import PROFILE, TWIN_EXAMPLES

BOM = b"\xef\xbb\xbf"

# -- generated streams ----------------------------------------------------------------------------------

values = st.text(alphabet=st.sampled_from(["a", "b", " ", ":", "0", "7", "\x00", "é", "€", "😀", "{", '"']), max_size=8)
field_names = st.sampled_from(["data", "data", "data", "event", "id", "retry", "", "dat", "Data", "other"])
line_ends = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def lines(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "field", "blank", "blank", "no colon", "digits", "bad utf-8"]))
    if kind == "blank":
        body = b""
    elif kind == "no colon":
        body = draw(field_names).encode()
    elif kind == "digits":
        body = b"retry:" + draw(st.sampled_from([b" ", b"", b"  "])) + str(draw(st.integers(0, 10**6))).encode()
    elif kind == "bad utf-8":
        body = (
            draw(field_names).encode()
            + b": "
            + draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc3", b"\xed\xa0\x80", b"\x80a"]))
        )
    else:
        sep = draw(st.sampled_from([b":", b": ", b":  "]))
        body = draw(field_names).encode() + sep + draw(values).encode()
    return body + draw(line_ends)


@st.composite
def streams(draw: Any) -> bytes:
    raw = b"".join(draw(st.lists(lines(), max_size=30)))
    if draw(st.booleans()):
        raw = BOM + raw
    if draw(st.booleans()):
        raw += draw(st.binary(max_size=6))  # an unterminated tail, perhaps a cut UTF-8 sequence
    return raw


def any_streams() -> Any:
    return st.one_of(streams(), st.binary(max_size=200), st.binary(max_size=40).map(lambda b: BOM[: len(b) % 4] + b))


@st.composite
def cuts(draw: Any, raw: bytes) -> List[bytes]:
    """``raw`` cut into chunks at random places (empty chunks included)."""
    points = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    bounds = [0, *points, len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:])]


Seen = Tuple[List[tuple], str, Any]


def read(parser_class: type, chunks: List[bytes], **kwargs: Any) -> Seen:
    parser = parser_class(**kwargs)
    got: List[tuple] = []
    for chunk in chunks:
        got += [tuple(event) for event in parser.feed(chunk)]
    return got, parser.last_event_id, parser.retry


def spec(raw: bytes) -> Seen:
    stream = spec_parse(raw)
    return [tuple(m) for m in stream.events], stream.last_event_id, stream.retry


# -- every chunking gives what the spec parser gives, on both twins ------------------------------------------


@settings(max_examples=TWIN_EXAMPLES[PROFILE])
@given(st.data())
def test_twins_agree_with_each_other_and_the_spec_in_any_chunking(parser_twins, data):
    raw = data.draw(any_streams())
    chunks = data.draw(cuts(raw))
    compiled, python = parser_twins
    expected = spec(raw)
    assert read(compiled, chunks) == expected
    assert read(python, chunks) == expected


@given(st.data())
def test_state_after_each_chunk_is_the_same_in_both_twins(parser_twins, data):
    raw = data.draw(streams())
    chunks = data.draw(cuts(raw))
    parsers = [twin() for twin in parser_twins]
    for chunk in chunks:
        events = [parser.feed(chunk) for parser in parsers]
        assert events[0] == events[1]
        assert [type(e) for e in events[0]] == [type(e) for e in events[1]]
        assert parsers[0].last_event_id == parsers[1].last_event_id
        assert parsers[0].retry == parsers[1].retry


@given(streams())
def test_one_byte_at_a_time(parser, raw):
    assert read(parser, [raw[i : i + 1] for i in range(len(raw))]) == spec(raw)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_chunks(parser, kind):
    assert parser().feed(kind(b"data: x\n\n")) == [("message", "x", "", None)]


# -- the cases the generator must not be trusted to find ------------------------------------------------------


def test_crlf_split_between_chunks_is_one_line_end(parser):
    p = parser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\n\r") == [("message", "a", "", None)]
    assert p.feed(b"\ndata: b\n\n") == [("message", "b", "", None)]


def test_cr_then_cr_is_two_line_ends_across_chunks(parser):
    p = parser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\r") == [("message", "a", "", None)]


@pytest.mark.parametrize("split", [0, 1, 2, 3, 4])
def test_bom_split_anywhere_is_dropped_once(parser, split):
    raw = BOM + b"data: x\n\n"
    assert read(parser, [raw[:split], raw[split:]]) == ([("message", "x", "", None)], "", None)
    twice = BOM + BOM + b"data: x\n\n"  # the second BOM is part of the first field name
    assert read(parser, [twice[:split], twice[split:]]) == ([], "", None)


@pytest.mark.parametrize("start", [b"\xef", b"\xef\xbb", b"\xefX", b"\xef\xbbX"])
def test_a_bom_prefix_that_is_not_a_bom_starts_the_first_line(parser, start):
    raw = start + b": c\ndata: y\n\n"
    for split in range(len(raw) + 1):
        assert read(parser, [raw[:split], raw[split:]]) == spec(raw)


def test_bad_utf8_cut_between_chunks_is_replaced(parser):
    raw = b"data: \xe2\x82\n\ndata: \xe2\x82\xac\n\n"
    for split in range(len(raw) + 1):
        assert read(parser, [raw[:split], raw[split:]])[0] == [
            ("message", "\ufffd", "", None),
            ("message", "€", "", None),
        ]


def test_reconnection_state_is_carried_in(parser):
    p = parser(last_event_id="41", retry=2500)
    assert (p.last_event_id, p.retry) == ("41", 2500)
    assert p.feed(b"data: a\n\nid: 42\ndata: b\n\n") == [("message", "a", "41", 2500), ("message", "b", "42", 2500)]
    assert parser(last_event_id=None).last_event_id == ""


def test_events_are_server_sent_events_with_json(parser):
    from sse_fast.parse import ServerSentEvent

    (event,) = parser().feed(b'event: chunk\nid: 7\ndata: {"a": [1, 2]}\n\n')
    assert type(event) is ServerSentEvent
    assert (event.event, event.id, event.json()) == ("chunk", "7", {"a": [1, 2]})

"""The parser's bounds and refusals: typed errors, the same type and message from both twins, nothing lost."""

from __future__ import annotations

from typing import Any, List

import pytest

from sse_fast import InvalidType, InvalidValue, SSEError
from sse_fast.errors import EventTooLarge, LineTooLong, StreamTooLarge
from sse_fast.parse import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE


def outcome(parser_class: type, chunks: List[Any], **kwargs: Any) -> tuple:
    """What feeding ``chunks`` ends in: the events, then the error's type, message and events if one is raised."""
    parser = parser_class(**kwargs)
    got: list = []
    for chunk in chunks:
        try:
            got += parser.feed(chunk)
        except Exception as exc:  # compared between the twins below
            return got, type(exc), str(exc), getattr(exc, "events", None)
    return got, None, None, None


def test_defaults(parser):
    p = parser()
    assert (p.max_line, p.max_event) == (DEFAULT_MAX_LINE, DEFAULT_MAX_EVENT) == (1 << 20, 16 << 20)


CASES = {
    "a complete line too long": ([b"data: a\n\ndata: " + b"x" * 100 + b"\n\n"], {"max_line": 64}),
    "a line too long cut over chunks": ([b"data: a\n\n", b"data: " + b"x" * 40, b"x" * 40, b"\n\n"], {"max_line": 64}),
    "a line too long with no end yet": ([b"data: a\n\ndata: ", b"x" * 100], {"max_line": 64}),
    "an event too large": ([b"data: a\n\n" + b"data: 0123456789\n" * 10 + b"\n"], {"max_event": 64}),
    "an event too large over chunks": ([b"data: a\n\n"] + [b"data: 0123456789\n"] * 10 + [b"\n"], {"max_event": 64}),
    "a BOM start then a long line": ([b"\xef\xbb", b": c\rdata: a\r\r" + b"X" * 70 + b"\n"], {"max_line": 64}),
    "a BOM-like start in a long line": ([b"\xef\xbb", b"X" * 70 + b"\n\ndata: a\n\n"], {"max_line": 64}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_limits_raise_the_same_error_from_both_twins_and_keep_the_events_before_it(parser_twins, case):
    chunks, limits = CASES[case]
    compiled, python = (outcome(twin, chunks, **limits) for twin in parser_twins)
    assert compiled == python
    got, error, message, events = compiled
    assert error in (LineTooLong, EventTooLarge)
    assert issubclass(error, StreamTooLarge) and issubclass(error, SSEError) and issubclass(error, ValueError)
    assert ("max_line=64" if error is LineTooLong else "max_event=64") in message
    before = [] if case == "a BOM-like start in a long line" else [("message", "a", "", None)]
    assert got + events == before  # the event completed before the bound is not lost


def test_a_hostile_endless_line_is_refused_once_it_passes_the_bound(parser):
    p = parser(max_line=1 << 16)
    for _ in range(16):  # 64 KiB in 4 KiB chunks: still allowed
        assert p.feed(b"x" * 4096) == []
    with pytest.raises(LineTooLong, match=r"reached 69632 bytes, over max_line=65536"):
        p.feed(b"x" * 4096)


def test_events_at_the_bounds_pass(parser):
    assert parser(max_line=8).feed(b"data: ab\n\n") == [("message", "ab", "", None)]
    assert parser(max_event=3).feed(b"data: ab\n\n") == [("message", "ab", "", None)]  # "ab" and its line end
    with pytest.raises(EventTooLarge, match="reached 4 bytes, over max_event=3"):
        parser(max_event=3).feed(b"data: abc\n\n")


REFUSED = [
    ({"max_line": 0}, InvalidValue, "max_line must be a positive int (bytes), got int: 0"),
    ({"max_event": True}, InvalidValue, "max_event must be a positive int (bytes), got bool: True"),
    ({"max_line": 1.5}, InvalidValue, "max_line must be a positive int (bytes), got float: 1.5"),
    ({"last_event_id": 5}, InvalidType, "last_event_id must be str or None, got int: 5"),
    ({"retry": -1}, InvalidValue, "retry must be a non-negative int (milliseconds), got -1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), REFUSED)
def test_bad_arguments_are_refused_alike(parser, kwargs, error, message):
    with pytest.raises(error) as info:
        parser(**kwargs)
    assert type(info.value) is error
    assert str(info.value) == message


@pytest.mark.parametrize("chunk", ["data: x\n\n", None, 5, [b"data"]])
def test_feeding_anything_but_bytes_is_refused_alike(parser, chunk):
    with pytest.raises(TypeError) as info:  # what callers caught before InvalidType: still caught
        parser().feed(chunk)
    assert type(info.value) is InvalidType
    assert str(info.value) == f"chunk must be bytes, bytearray or memoryview, got {type(chunk).__name__}"

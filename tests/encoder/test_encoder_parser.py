"""The tests' own spec parser, checked on hand-made streams from the WHATWG event-stream rules."""

from __future__ import annotations

from support.sse_parser import Message, Stream, parse


def test_spec_example_data_lines_join_with_lf():
    # the spec's "YHOO / +2 / 10" example: three data lines, one event
    assert parse(b"data: YHOO\ndata: +2\ndata: 10\n\n").events == [Message("message", "YHOO\n+2\n10", "", None)]


def test_spec_example_comment_and_ids():
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    assert parse(stream).events == [
        Message("message", "first event", "1", None),
        Message("message", "second event", "", None),  # "id" alone resets the last event id
        Message("message", " third event", "", None),  # only one leading space is removed
    ]


def test_spec_example_empty_data_fields():
    # "data" then blank: one event with empty data; "data\ndata" then blank: one event "\n"
    assert parse(b"data\n\ndata\ndata\n\ndata:\n").events == [
        Message("message", "", "", None),
        Message("message", "\n", "", None),
    ]


def test_spec_example_field_with_or_without_space_is_the_same():
    assert parse(b"data:test\n\ndata: test\n\n").events == [Message("message", "test", "", None)] * 2


def test_line_endings_cr_crlf_lf_and_bom():
    stream = b"\xef\xbb\xbfevent: a\rdata: 1\r\n\r\nevent: b\ndata: 2\n\r"
    assert parse(stream).events == [Message("a", "1", "", None), Message("b", "2", "", None)]
    # only one BOM is stripped; a second one is part of the first field name
    assert parse(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n").events == []


def test_no_data_no_event_but_the_id_is_kept():
    assert parse(b"event: e\nid: 5\n\n") == Stream([], "5", None)


def test_event_type_is_reset_after_dispatch():
    assert [m.type for m in parse(b"event: e\ndata: 1\n\ndata: 2\n\n").events] == ["e", "message"]


def test_ids_with_nul_are_ignored():
    assert parse(b"id: 1\nid: a\x00b\ndata: x\n\n").events == [Message("message", "x", "1", None)]


def test_retry_only_when_all_ascii_digits():
    assert parse(b"retry: 100\n\n").retry == 100
    for bad in [b"retry: 1.5\n\n", b"retry: -1\n\n", b"retry: 10a\n\n", b"retry:\n\n", b"retry:  10\n\n"]:
        assert parse(bad).retry is None, bad
    assert parse("retry: \u0661\n\n".encode()).retry is None  # a non-ASCII digit


def test_unknown_fields_and_field_without_colon_are_ignored():
    assert parse(b"foo: bar\nDATA: x\nevent\ndata: y\n\n").events == [Message("message", "y", "", None)]


def test_unterminated_event_is_discarded():
    assert parse(b"data: a\n\ndata: b\n").events == [Message("message", "a", "", None)]
    assert parse(b"data: a\n\ndata: b").events == [Message("message", "a", "", None)]


def test_invalid_utf8_becomes_replacement_characters():
    assert parse(b"data: \xff\n\n").events == [Message("message", "\ufffd", "", None)]


def test_retry_is_the_reconnection_time_at_dispatch():
    assert [m.retry for m in parse(b"data: a\n\nretry: 7\n\ndata: b\n\n").events] == [None, 7]

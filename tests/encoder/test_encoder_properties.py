"""Property tests: what goes in comes back out of a spec parser, and the twins never disagree.

Example counts come from the Hypothesis profile (conftest.py): ``ci`` by default,
``HYPOTHESIS_PROFILE=thorough`` for the long run.
"""

from __future__ import annotations

import enum
from array import array
from functools import partial
from typing import Any, Callable

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.sse_parser import Message, normalise, parse
from support.twins import PROFILE, TWIN_EXAMPLES

from sse_fast import InvalidUTF8

# ---- well-formed input ----

BREAKS = ["\r", "\n", "\r\n", "\n\r", "\r\r\n"]
AWKWARD = ["\x00", " ", ":", "\u2028", "\u2029", "\x85", "\x0b", "\ufeff", "\u00e9", "\U0001f389", "data: "]

chars = st.characters(codec="utf-8")  # every code point but surrogates
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.lists(st.one_of(st.text(chars, max_size=8), st.sampled_from(BREAKS + AWKWARD)), max_size=12).map("".join)
event_names = st.lists(
    st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=6), st.sampled_from(AWKWARD)),
    max_size=4,
).map("".join)
ids = event_names.filter(lambda s: "\x00" not in s)
retries = st.one_of(st.integers(min_value=0, max_value=2**31 - 1), st.integers(2**31 - 4, 2**31 - 1))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        texts,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def expected(data: str, event: Any, id: Any, retry: Any) -> Message:
    return Message(event or "message", data, "" if id is None else id, retry)


@given(texts, st.none() | event_names, st.none() | ids, st.none() | retries)
def test_encode_round_trips(encoder, data, event, id, retry):
    stream = parse(encoder.encode(data, event=event, id=id, retry=retry))
    assert stream.events == [expected(normalise(data), event, id, retry)]


@given(texts.map(str.encode), st.none() | ids)
def test_encode_bytes_round_trips(encoder, raw, id):
    frame = encoder.encode(raw, id=id)
    assert frame == encoder.encode(bytearray(raw), id=id) == encoder.encode(memoryview(raw), id=id)
    assert frame == encoder.encode(raw.decode(), id=id)
    assert parse(frame).events == [expected(normalise(raw.decode()), None, id, None)]


# bytes around the 8-, 16- and 64-byte steps of the compiled twin's UTF-8 check (and its AVX2 loop, from 512
# bytes on): ASCII runs around any bytes
ascii_runs = st.one_of(st.integers(0, 140), st.sampled_from([511, 512, 575, 576, 577, 1000, 4096]))
binaries = st.tuples(ascii_runs, st.binary(max_size=8), st.integers(0, 70)).map(
    lambda t: b"a" * t[0] + t[1] + b"z" * t[2]
)


@given(st.one_of(st.binary(max_size=64), binaries, texts.map(str.encode)))
def test_bytes_are_refused_exactly_when_they_are_not_utf8(encoder, raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        for call in (encoder.encode, encoder.encode_comment, lambda b: encoder.encode_json(orjson.Fragment(b))):
            with pytest.raises(InvalidUTF8):
                call(raw)
    else:
        assert encoder.encode(raw) == encoder.encode(raw.decode())
        assert encoder.encode_comment(raw) == encoder.encode_comment(raw.decode())
        assert encoder.encode_json(orjson.Fragment(raw)) == encoder.encode(raw)


@given(json_values, st.none() | event_names, st.none() | ids, st.none() | retries)
def test_encode_json_round_trips(encoder, obj, event, id, retry):
    stream = parse(encoder.encode_json(obj, event=event, id=id, retry=retry))
    assert len(stream.events) == 1
    message = stream.events[0]
    assert message._replace(data="") == expected("", event, id, retry)
    assert orjson.loads(message.data) == obj
    assert message.data == orjson.dumps(obj).decode()


@given(texts)
def test_a_comment_is_invisible_and_every_line_is_a_comment(encoder, text):
    frame = encoder.encode_comment(text)
    assert parse(frame) == ([], "", None)
    *lines, last, after = frame.split(b"\n")
    assert (last, after) == (b"", b"")
    assert [line.startswith(b": ") for line in lines] == [True] * len(lines)
    assert b"\r" not in frame
    assert b"\n".join(line[2:] for line in lines).decode() == normalise(text)


@given(retries)
def test_encode_retry_round_trips(encoder, ms):
    assert parse(encoder.encode_retry(ms)) == ([], "", ms)


@given(st.lists(st.tuples(texts, st.none() | event_names, st.none() | ids), max_size=8))
def test_a_stream_of_frames_round_trips(encoder, frames):
    buf = encoder.FrameBuffer()
    for data, event, id in frames:
        buf.add(data, event=event, id=id)
        buf.add_comment(data)
    out = buf.take()
    assert out == b"".join(encoder.encode(*f) + encoder.encode_comment(f[0]) for f in frames)
    messages, last_id = [], ""
    for data, event, id in frames:
        last_id = last_id if id is None else id
        messages.append(Message(event or "message", normalise(data), last_id, None))
    assert parse(out).events == messages


# ---- long bodies: the compiled core writes lines 32 bytes at a time, so lengths cross its blocks ----

long_lines = st.text(st.sampled_from("ab é\u2028\U0001f389:"), max_size=100)
long_texts = st.tuples(st.lists(long_lines, min_size=2, max_size=80), st.sampled_from(["\n", "\n", "\r\n"])).map(
    lambda lines_and_break: lines_and_break[1].join(lines_and_break[0])
)


@given(long_texts, st.none() | ids)
def test_long_multi_line_text_round_trips(encoder, data, id):
    frame = encoder.encode(data, id=id)
    assert frame == encoder.encode(data.encode(), id=id)
    assert parse(frame).events == [expected(normalise(data), None, id, None)]
    buf = encoder.FrameBuffer()
    buf.add(data)
    buf.add_comment(data)
    assert buf.take() == encoder.encode(data) + encoder.encode_comment(data)


def test_twins_agree_on_line_breaks_at_every_offset_of_a_block(twins):
    compiled, python = twins
    for n in range(0, 140):
        for gap in (1, 2, 5, 31, 32, 33, 63, 64, 65, 97, n + 1):
            body = "".join("\n" if (i + 1) % gap == 0 else chr(97 + i % 26) for i in range(n))
            for data in (body, body.encode(), "\n" + body, body + "\n"):
                assert compiled.encode(data) == python.encode(data), (n, gap, data)
                assert compiled.encode_comment(data) == python.encode_comment(data), (n, gap, data)


# ---- any input at all: both twins must agree on bytes, or on error type and message ----


class Text(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"overridden"


class Raw(bytes):
    pass


class Millis(int):
    pass


class Level(enum.IntEnum):
    LOW = 5


class Opaque:
    pass


def give_up(obj: Any) -> Any:
    raise TypeError(f"no idea what to do with {type(obj).__name__}")


bad_texts = st.lists(st.one_of(texts, st.text(surrogates, min_size=1, max_size=2)), max_size=3).map("".join)
anything = st.deferred(
    lambda: st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-10, max_value=10),
        st.floats(),
        st.complex_numbers(),
        texts,
        bad_texts,
        st.binary(max_size=16),
        st.binary(max_size=16).map(bytearray),
        st.binary(max_size=16).map(memoryview),
        st.binary(max_size=16).map(lambda b: memoryview(b)[::2]),
        st.lists(st.integers(0, 2**32 - 1), max_size=4).map(lambda v: memoryview(array("I", v))),
        texts.map(Text),
        st.binary(max_size=8).map(Raw),
        st.integers(0, 10**6).map(Millis),
        st.integers(2**31 - 2, 2**31 + 2).map(Millis),
        st.just(Level.LOW),
        st.binary(max_size=16).map(orjson.Fragment),
        texts.map(orjson.Fragment),
        st.builds(Opaque),
        st.lists(anything, max_size=3),
        st.lists(anything, max_size=3).map(tuple),
        st.frozensets(st.integers(), max_size=3),
        st.dictionaries(st.one_of(texts, st.integers()), anything, max_size=3),
    )
)


def weighted(*choices: tuple) -> st.SearchStrategy:
    """One of the strategies, picked in proportion to its weight: mostly good input, some bad."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


fields = weighted((4, st.none()), (4, ids), (1, event_names), (1, texts), (1, bad_texts), (1, anything))
too_long = st.one_of(st.integers(min_value=2**31), st.integers(2**31, 2**31 + 4), st.integers(2**63 - 2, 2**64 + 2))
retry_values = weighted((5, st.none()), (3, retries), (1, too_long), (1, st.integers()), (1, anything))
payloads = weighted(
    (4, texts), (1, bad_texts), (1, st.binary(max_size=16)), (1, binaries), (1, st.none()), (2, anything)
)
json_payloads = weighted((4, json_values), (2, anything))
defaults = st.sampled_from([None, None, None, str, repr, give_up, 5])
calls = st.one_of(
    st.tuples(st.just("encode"), st.tuples(payloads, fields, fields, retry_values)),
    st.tuples(st.just("encode_json"), st.tuples(json_payloads, fields, fields, retry_values, defaults)),
    st.tuples(st.just("encode_comment"), st.tuples(payloads)),
    st.tuples(st.just("encode_retry"), st.tuples(retry_values)),
)
ADD = {
    "encode": "add",
    "encode_json": "add_json",
    "encode_comment": "add_comment",
    "encode_retry": "add_retry",
}


def outcome(call: Callable[[], Any]) -> tuple:
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome to compare
        return (type(exc), str(exc))


def run(twin: Any, batch: list) -> list:
    """Every call of ``batch`` as a function, then all of them again into one FrameBuffer."""
    results = [outcome(partial(getattr(twin, name), *args)) for name, args in batch]
    buf = twin.FrameBuffer()
    for name, args in batch:
        results.append(outcome(partial(getattr(buf, ADD[name]), *args)))
        results.append(len(buf))
    results.append(buf.take())
    results.append(len(buf))
    return results


@settings(max_examples=TWIN_EXAMPLES.get(PROFILE, settings.default.max_examples))
@given(st.lists(calls, min_size=1, max_size=4))
def test_twins_agree_on_any_input(twins, batch):
    compiled, python = twins
    assert run(compiled, batch) == run(python, batch)

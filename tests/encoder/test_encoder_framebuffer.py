"""FrameBuffer: frames gathered for one write are the concatenation of single encodes."""

from __future__ import annotations

from support.sse_parser import Message, parse


def fill(buf) -> None:
    buf.add("one")
    buf.add("two\nlines", event="e", id="1", retry=10)
    buf.add(b"bytes\r\n", id="2")
    buf.add(None, id="3")
    buf.add_json({"k": [1, 2]}, event="j")
    buf.add_json(complex(1, 1), default=str)
    buf.add_comment("ping\npong")
    buf.add_retry(2500)


def singles(enc) -> bytes:
    return b"".join(
        [
            enc.encode("one"),
            enc.encode("two\nlines", event="e", id="1", retry=10),
            enc.encode(b"bytes\r\n", id="2"),
            enc.encode(None, id="3"),
            enc.encode_json({"k": [1, 2]}, event="j"),
            enc.encode_json(complex(1, 1), default=str),
            enc.encode_comment("ping\npong"),
            enc.encode_retry(2500),
        ]
    )


def test_take_is_the_concatenation_of_single_encodes(encoder):
    buf = encoder.FrameBuffer()
    fill(buf)
    expected = singles(encoder)
    assert len(buf) == len(expected)
    assert buf.take() == expected
    assert parse(expected).events == [
        Message("message", "one", "", None),
        Message("e", "two\nlines", "1", 10),
        Message("message", "bytes\n", "2", 10),
        Message("j", '{"k":[1,2]}', "3", 10),
        Message("message", '"(1+1j)"', "3", 10),
    ]


def test_len_tracks_bytes_not_characters(encoder):
    buf = encoder.FrameBuffer()
    assert len(buf) == 0
    sizes = []
    for data in ["a", "\u00e9", "\U0001f389\n\U0001f389", ""]:
        buf.add(data)
        sizes.append(len(encoder.encode(data)))
        assert len(buf) == sum(sizes)
    assert len(buf) == len(b"data: a\n\n") + len("data: \u00e9\n\n".encode()) + 23 + len(b"data: \n\n")


def test_take_empties_the_buffer(encoder):
    buf = encoder.FrameBuffer()
    buf.add("x")
    assert buf.take() == b"data: x\n\n"
    assert len(buf) == 0
    assert buf.take() == b""
    assert isinstance(buf.take(), bytes)


def test_reuse_after_take(encoder):
    buf = encoder.FrameBuffer()
    big = "y" * 100_000
    buf.add(big)
    first = buf.take()
    assert first == encoder.encode(big)
    buf.add("small")
    second = buf.take()
    assert second == b"data: small\n\n"
    assert first == encoder.encode(big)  # an earlier take() is not changed by reuse
    for round_ in range(5):
        buf.add_json(round_)
        buf.add_comment(str(round_))
        assert buf.take() == encoder.encode_json(round_) + encoder.encode_comment(str(round_))


def test_a_burst_of_a_thousand_chunks(encoder):
    buf = encoder.FrameBuffer()
    chunks = [{"token": f"t{i}", "i": i} for i in range(1_000)]
    for i, chunk in enumerate(chunks):
        buf.add_json(chunk, id=str(i))
    out = buf.take()
    assert out == b"".join(encoder.encode_json(c, id=str(i)) for i, c in enumerate(chunks))
    events = parse(out).events
    assert len(events) == 1_000
    assert events[999] == Message("message", '{"token":"t999","i":999}', "999", None)


def test_buffers_are_independent(encoder):
    a, b = encoder.FrameBuffer(), encoder.FrameBuffer()
    a.add("a")
    b.add("b")
    assert a.take() == b"data: a\n\n"
    assert b.take() == b"data: b\n\n"

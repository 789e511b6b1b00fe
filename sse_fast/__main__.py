"""``python -m sse_fast``: encode sample events and show the bytes and the encoder in use."""

from __future__ import annotations

import sys

from . import IMPLEMENTATION, Event, encode, encode_comment, encode_json, encode_retry

SAMPLES = [
    ('encode_json({"content": "hello"})', lambda: encode_json({"content": "hello"})),
    ('encode_json({"text": "hi"}, event="message")', lambda: encode_json({"text": "hi"}, event="message")),
    ('encode_json({"text": "hi"}, id="evt-001")', lambda: encode_json({"text": "hi"}, id="evt-001")),
    ('encode("a\\nb")', lambda: encode("a\nb")),
    ('encode("[DONE]")', lambda: encode("[DONE]")),
    ('encode_comment("heartbeat")', lambda: encode_comment("heartbeat")),
    ("encode_retry(3000)", lambda: encode_retry(3000)),
    (
        'Event(id="evt-001", event="update", data={"value": 100}).encode()',
        lambda: Event(id="evt-001", event="update", data={"value": 100}).encode(),
    ),
]


def show_samples() -> None:
    print(f"sse_fast encoder in use: {IMPLEMENTATION!r}")
    for call, make in SAMPLES:
        print(f"\n{call}\n  -> {make()!r}")


def main(argv: list) -> int:
    show_samples()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

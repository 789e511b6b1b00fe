"""Instructions of one ``encode_json(chat_chunk)`` against one ``orjson.dumps(chat_chunk)``, under callgrind.

    valgrind --tool=callgrind python bench/callgrind_chat_chunk.py sse 20000     # and 40000; then orjson
    (per call: the difference of the two counts over 20,000)

Issue 21 asks the encoder to stay within 1.25x of ``orjson.dumps`` on a chat chunk after the UTF-8 checks of
bytes and ``orjson.Fragment`` data; the count is steady on a loaded machine where timings are not.
"""

import sys

import orjson

from sse_fast import encode_json

CHUNK = {
    "id": "chatcmpl-9x8y7z",
    "object": "chat.completion.chunk",
    "created": 1733580000,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_0123456789",
    "choices": [{"index": 0, "delta": {"content": " hello"}, "logprobs": None, "finish_reason": None}],
}

if __name__ == "__main__":
    which, n = sys.argv[1], int(sys.argv[2])
    encode = encode_json if which == "sse" else orjson.dumps
    for _ in range(n):
        encode(CHUNK)

"""The wire-format table (docs/wire-format.md): each writer call, then the exact bytes it must write.

One copy, used by the golden-bytes test (every row on both twins) and by the transport tests (every row
over every transport).
"""

from __future__ import annotations

from sse_fast import Event

TABLE = [
    ("write_event", ({"content": "hello"},), b'data: {"content":"hello"}\n\n'),
    ("write_event", ("hello",), b'data: "hello"\n\n'),
    ("write_event_with_name", ("message", {"text": "hi"}), b'event: message\ndata: {"text":"hi"}\n\n'),
    ("write_event_with_id", ("evt-001", {"text": "hi"}), b'id: evt-001\ndata: {"text":"hi"}\n\n'),
    (
        "write_full_event",
        (Event(id="evt-001", event="update", data={"value": 100}),),
        b'id: evt-001\nevent: update\ndata: {"value":100}\n\n',
    ),
    ("write_raw_event", ("raw text without quotes",), b"data: raw text without quotes\n\n"),
    ("write_raw_event", ("a\nb",), b"data: a\ndata: b\n\n"),
    ("write_done", (), b"data: [DONE]\n\n"),
    (
        "write_error",
        (ValueError("something went wrong"),),
        b'event: error\ndata: {"error":"something went wrong"}\n\n',
    ),
    ("write_comment", ("heartbeat",), b": heartbeat\n\n"),
    ("set_retry", (3000,), b"retry: 3000\n\n"),
]
TABLE_BYTES = b"".join(expected for _, _, expected in TABLE)

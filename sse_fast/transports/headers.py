"""The response headers every transport sends, built in one place (docs/writer.md, "Opening a writer")."""

from __future__ import annotations

from typing import Iterable, List, Mapping, Optional, Tuple, Union

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

BASE = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
)


def sse_headers(http_version: Optional[str], extra: Headers = None, hop_by_hop: bool = True) -> List[Tuple[str, str]]:
    """The SSE headers, ``Connection: keep-alive`` on HTTP/1.x only, then ``extra`` merged over them.

    An ``extra`` header replaces a default of the same name (case-insensitive). ``hop_by_hop=False``
    leaves ``Connection`` out, for WSGI, where PEP 3333 gives that header to the server.
    """
    headers = list(BASE)
    if hop_by_hop and (http_version or "1.1").startswith("1"):
        headers.append(("Connection", "keep-alive"))
    pairs = list(extra.items() if isinstance(extra, Mapping) else extra or ())
    replaced = {name.lower() for name, _ in pairs}
    return [(n, v) for n, v in headers if n.lower() not in replaced] + [(str(n), str(v)) for n, v in pairs]

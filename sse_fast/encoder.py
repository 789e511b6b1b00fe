"""Picks the core (encoder and parser): the compiled one when it imports, else the pure-Python twins.

``SSE_FAST_NO_EXTENSIONS=1`` forces the twin. This is the only module that chooses; the rest of the
package imports the encoder from here, and ``sse_fast.IMPLEMENTATION`` says which one it got.
"""

from __future__ import annotations

import os
from typing import Literal

IMPLEMENTATION: Literal["c", "python"]

if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1":
    from . import _encoder_py as _impl
    from . import _parser_py as _reader

    IMPLEMENTATION = "python"
else:
    try:
        from . import _encoder as _impl  # type: ignore[no-redef]
        from . import _parser as _reader  # type: ignore[no-redef]

        IMPLEMENTATION = "c"
    except ImportError:
        from . import _encoder_py as _impl
        from . import _parser_py as _reader

        IMPLEMENTATION = "python"

encode = _impl.encode
encode_json = _impl.encode_json
encode_comment = _impl.encode_comment
encode_retry = _impl.encode_retry
FrameBuffer = _impl.FrameBuffer
EventParser = _reader.EventParser

__all__ = ["IMPLEMENTATION", "EventParser", "FrameBuffer", "encode", "encode_comment", "encode_json", "encode_retry"]

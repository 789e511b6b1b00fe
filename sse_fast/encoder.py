"""Picks the encoder: the compiled core when it imports, else the pure-Python twin.

``SSE_FAST_NO_EXTENSIONS=1`` forces the twin. This is the only module that chooses; the rest of the
package imports the encoder from here, and ``sse_fast.IMPLEMENTATION`` says which one it got.
"""

from __future__ import annotations

import os
from typing import Literal

IMPLEMENTATION: Literal["c", "python"]

if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1":
    from . import _encoder_py as _impl

    IMPLEMENTATION = "python"
else:
    try:
        from . import _encoder as _impl  # type: ignore[no-redef]

        IMPLEMENTATION = "c"
    except ImportError:
        from . import _encoder_py as _impl

        IMPLEMENTATION = "python"

encode = _impl.encode
encode_json = _impl.encode_json
encode_comment = _impl.encode_comment
encode_retry = _impl.encode_retry
FrameBuffer = _impl.FrameBuffer

__all__ = ["IMPLEMENTATION", "FrameBuffer", "encode", "encode_comment", "encode_json", "encode_retry"]

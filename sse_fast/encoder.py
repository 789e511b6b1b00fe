"""The encoder: the compiled ``_encoder`` when the core is built, else its pure-Python twin ``_encoder_py``.

``sse_fast._compiled`` decides which (``sse_fast.IMPLEMENTATION``); the rest of the package imports the
encoder from here. Type checkers see the stub (``_encoder.pyi``) that both twins satisfy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compiled import IMPLEMENTATION, load

if TYPE_CHECKING:
    from ._encoder import FrameBuffer, encode, encode_comment, encode_json, encode_retry
else:
    _unit = load("sse_fast._encoder")
    encode = _unit.encode
    encode_json = _unit.encode_json
    encode_comment = _unit.encode_comment
    encode_retry = _unit.encode_retry
    FrameBuffer = _unit.FrameBuffer

__all__ = ["IMPLEMENTATION", "FrameBuffer", "encode", "encode_comment", "encode_json", "encode_retry"]

"""Picks the core (encoder and parser): the compiled one when it imports, else the pure-Python twins.

``SSE_FAST_NO_EXTENSIONS=1`` forces the twin, and so does an interpreter other than CPython (the compiled
core uses CPython internals: ``Py_REFCNT``, ``_PyBytes_Resize``). This is the only module that chooses;
the rest of the package imports the encoder from here, and ``sse_fast.IMPLEMENTATION`` says which one it
got (``sse_fast.writer.sender`` takes the compiled write path, ``src/_sender.pyx``, with the compiled core).
Type checkers see the stubs (``_encoder.pyi``, ``_parser.pyi``) that both twins satisfy.
"""

from __future__ import annotations

import os
import platform
from types import ModuleType
from typing import TYPE_CHECKING, Literal, Tuple


def _load() -> Tuple[ModuleType, ModuleType, Literal["c", "python"]]:
    """The encoder and parser modules to use, and which kind they are."""
    if os.environ.get("SSE_FAST_NO_EXTENSIONS") != "1" and platform.python_implementation() == "CPython":
        try:
            from . import _encoder, _parser

            return _encoder, _parser, "c"
        except ImportError:
            pass
    from . import _encoder_py, _parser_py

    return _encoder_py, _parser_py, "python"


_impl, _reader, IMPLEMENTATION = _load()

if TYPE_CHECKING:
    from ._encoder import FrameBuffer, encode, encode_comment, encode_json, encode_retry
    from ._parser import EventParser
else:
    encode = _impl.encode
    encode_json = _impl.encode_json
    encode_comment = _impl.encode_comment
    encode_retry = _impl.encode_retry
    FrameBuffer = _impl.FrameBuffer
    EventParser = _reader.EventParser

__all__ = ["IMPLEMENTATION", "EventParser", "FrameBuffer", "encode", "encode_comment", "encode_json", "encode_retry"]

"""Which twin of the write path an ``AsyncWriter`` uses: its ``Sender``, ``write`` and ``write_event``.

The compiled ``_sender`` or its pure-Python twin ``_sender_py`` (the same behaviour and errors; its
docstrings say how the write path works), as ``sse_fast._compiled`` decides for every unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._compiled import load
from ._sender_common import HIGH_WATER, MARK_EVERY, uncancel

if TYPE_CHECKING:
    from ._sender_py import Sender, write, write_event
else:
    _unit = load("sse_fast.writer._sender")  # sse_fast._compiled decides, as for the encoder and the parser
    Sender, write, write_event = _unit.Sender, _unit.write, _unit.write_event

__all__ = ["HIGH_WATER", "MARK_EVERY", "Sender", "uncancel", "write", "write_event"]

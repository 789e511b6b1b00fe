"""Which twin of the write path an ``AsyncWriter`` uses: its ``Sender`` and ``write_event``.

The compiled ``_sender`` where ``sse_fast.encoder`` chose the compiled core, else the pure-Python
``_sender_py`` (the same behaviour and errors; its docstrings say how the write path works). A compiled
encoder without a compiled write path is half a core, and refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..encoder import IMPLEMENTATION
from ._sender_common import HIGH_WATER, MARK_EVERY, uncancel

if TYPE_CHECKING or IMPLEMENTATION != "c":
    from ._sender_py import Sender, write_event
else:
    try:
        from ._sender import Sender, write_event
    except ImportError as exc:  # a build from before the compiled write path existed: half a core
        raise ImportError(
            "sse_fast's compiled core is incomplete: the encoder is built but sse_fast.writer._sender is not; "
            "rebuild it (pip install -e ., or python setup.py build_ext --inplace) or set SSE_FAST_NO_EXTENSIONS=1"
        ) from exc

__all__ = ["HIGH_WATER", "MARK_EVERY", "Sender", "uncancel", "write_event"]

"""Which build is in use, decided once for every compiled unit: ``IMPLEMENTATION`` and ``load``.

Each compiled unit sits beside its pure-Python twin (``_encoder.pyx`` beside ``_encoder_py.py``) and both
give the same results and errors. The compiled units are used when every one of them is built: ``"c"``.
None built (no compiler, an sdist built with ``SSE_FAST_NO_EXTENSIONS=1``) falls back to the twins:
``"python"``. ``SSE_FAST_NO_EXTENSIONS=1`` at run time forces the twins, and so does an interpreter other
than CPython (the compiled core uses CPython internals: ``Py_REFCNT``, ``_PyBytes_Resize``). Some built and
some not is half a core, refused with ``ImportError`` whichever unit is imported first.

The decision looks for the built files and imports no unit, so this module sits at the bottom of the package:
each layer loads its own unit through ``load`` (the encoder in ``encoder``, the parser in ``parse``, the
write path in ``writer.sender``) and nothing reaches up.
"""

from __future__ import annotations

import importlib
import os
import platform
from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType
from typing import Dict, Literal

# Every compiled unit and its pure-Python twin. A new unit is one line here.
UNITS: Dict[str, str] = {
    "sse_fast._encoder": "sse_fast._encoder_py",
    "sse_fast._parser": "sse_fast._parser_py",
    "sse_fast.writer._sender": "sse_fast.writer._sender_py",
}

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def built(unit: str) -> bool:
    """True if the compiled ``unit`` (a module name under ``sse_fast``) has its extension file in place."""
    path = os.path.join(_PACKAGE, *unit.split(".")[1:])
    return any(os.path.isfile(path + suffix) for suffix in EXTENSION_SUFFIXES)


def _decide() -> Literal["c", "python"]:
    if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1" or platform.python_implementation() != "CPython":
        return "python"
    missing = [unit for unit in UNITS if not built(unit)]
    if not missing:
        return "c"
    if len(missing) == len(UNITS):
        return "python"
    raise ImportError(
        f"sse_fast's compiled core is incomplete: {', '.join(u for u in UNITS if u not in missing)} built, "
        f"{', '.join(missing)} not; rebuild it (pip install -e ., or python setup.py build_ext --inplace) "
        "or set SSE_FAST_NO_EXTENSIONS=1"
    )


IMPLEMENTATION: Literal["c", "python"] = _decide()
"""``"c"`` when the compiled units are in use, ``"python"`` when their pure-Python twins are."""


def load(unit: str) -> ModuleType:
    """The compiled ``unit`` (a key of ``UNITS``) when ``IMPLEMENTATION`` is ``"c"``, else its twin."""
    return importlib.import_module(unit if IMPLEMENTATION == "c" else UNITS[unit])

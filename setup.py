"""Builds sse_fast, with the compiled core: ``sse_fast._encoder`` and ``sse_fast._parser`` from ``src/``.

``SSE_FAST_NO_EXTENSIONS=1`` asks for the pure-Python build on purpose. A build that cannot compile
the core falls back to the pure-Python twin, and says so loudly either way.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def announce(message: str) -> None:
    bar = "=" * 78
    print(f"\n{bar}\nsse_fast: {message}\n{bar}\n", file=sys.stderr, flush=True)


class BuildCore(build_ext):
    """build_ext that reports which build it made and falls back to pure Python on failure."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a missing compiler or headers: the twin still works
            announce(f"could not build the compiled core ({exc}); this is the PURE-PYTHON build")
            return
        announce(f"built the compiled core {' and '.join(CORE)}: IMPLEMENTATION will be 'c'")


CORE = {"sse_fast._encoder": "src/_encoder.pyx", "sse_fast._parser": "src/_parser.pyx"}


def extensions() -> list:
    if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1":
        announce("SSE_FAST_NO_EXTENSIONS=1: this is the PURE-PYTHON build, on purpose")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        announce("Cython is not installed; this is the PURE-PYTHON build")
        return []
    core = [Extension(name, [source], extra_compile_args=["-O3"]) for name, source in CORE.items()]
    try:
        return cythonize(core, language_level=3, include_path=["src"], compiler_directives={"binding": False})
    except Exception as exc:  # Cython could not translate the core: the twins still work
        announce(f"Cython could not translate the core in src/ ({exc}); this is the PURE-PYTHON build")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildCore})

"""Builds sse_fast, with the compiled core: ``sse_fast._encoder``, ``sse_fast._parser`` and
``sse_fast.writer._sender``, each from the ``.pyx`` beside its pure-Python twin.

``SSE_FAST_NO_EXTENSIONS=1`` asks for the pure-Python build on purpose. A build that cannot compile
the core falls back to the pure-Python twin. Either way the wheel is then ``py3-none-any`` (never a
platform tag without the core), which is what pip's default output shows ("Created wheel for sse-fast:
filename=sse_fast-...-py3-none-any.whl"); pip hides a successful build's own output, so the banner
printed here is seen only with ``pip -v`` or a direct ``python -m build``.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

CORE = {
    "sse_fast._encoder": "sse_fast/_encoder.pyx",
    "sse_fast._parser": "sse_fast/_parser.pyx",
    "sse_fast.writer._sender": "sse_fast/writer/_sender.pyx",
}


def announce(message: str) -> None:
    bar = "=" * 78
    print(f"\n{bar}\nsse_fast: {message}\n{bar}\n", file=sys.stderr, flush=True)


class BuildCore(build_ext):
    """build_ext with each compiler's flags, falling back to pure Python (and no core at all) on failure.

    The modules are linked without debug information (Python's own CFLAGS carry ``-g``: 1.97 MB of core
    against 0.31 MB); their symbol table stays, so profilers and callgrind still name the functions.
    """

    def build_extensions(self) -> None:
        msvc = self.compiler.compiler_type == "msvc"
        flags = ["/O2"] if msvc else ["-O3"]
        link = [] if msvc else ["-Wl,-S"] if sys.platform == "darwin" else ["-Wl,--strip-debug"]
        for ext in self.extensions:
            ext.extra_compile_args = flags
            ext.extra_link_args = link
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a missing compiler or headers: the twin still works
            for ext in self.extensions:  # half a core (one module built, one not) would be worse than none
                if os.path.exists(self.get_ext_fullpath(ext.name)):
                    os.remove(self.get_ext_fullpath(ext.name))
            self.distribution.ext_modules = []
            announce(f"could not build the compiled core ({exc}); this is the PURE-PYTHON build")
            return
        announce(f"built the compiled core {' and '.join(CORE)}: IMPLEMENTATION will be 'c'")


class TagByCore(bdist_wheel):
    """Decides the wheel's tag after the build: ``py3-none-any`` when the core was not built."""

    def run(self) -> None:
        if not self.skip_build:
            self.run_command("build")  # the later run_command("build") in bdist_wheel.run is then a no-op
        self.root_is_pure = not self.distribution.has_ext_modules()
        super().run()


def extensions() -> list:
    if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1":
        announce("SSE_FAST_NO_EXTENSIONS=1: this is the PURE-PYTHON build, on purpose")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        announce("Cython is not installed; this is the PURE-PYTHON build")
        return []
    core = [Extension(name, [source]) for name, source in CORE.items()]
    try:
        return cythonize(core, language_level=3, include_path=["."], compiler_directives={"binding": False})
    except Exception as exc:  # Cython could not translate the core: the twins still work
        announce(f"Cython could not translate the core ({exc}); this is the PURE-PYTHON build")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildCore, "bdist_wheel": TagByCore})

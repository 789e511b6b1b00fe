"""The selector: the compiled core is what `import sse_fast` uses, unless SSE_FAST_NO_EXTENSIONS=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.twins import NO_EXTENSIONS, compiled_encoder

import sse_fast
import sse_fast.encoder

FUNCTIONS = ["encode", "encode_json", "encode_comment", "encode_retry", "FrameBuffer"]


def run(code: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this one) with ``env`` over a copy of os.environ."""
    environ = {k: v for k, v in os.environ.items() if k != "SSE_FAST_NO_EXTENSIONS"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def run_python(code: str, **env: str) -> str:
    """``run``'s output; the interpreter must exit with 0."""
    done = run(code, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_compiled_core_really_loaded():
    if NO_EXTENSIONS:
        assert sse_fast.IMPLEMENTATION == "python"
        for name in FUNCTIONS:
            assert getattr(sse_fast.encoder, name) is getattr(sse_fast._encoder_py, name)
        return
    core = compiled_encoder()
    assert sse_fast.IMPLEMENTATION == "c"
    assert sse_fast.encoder.encode is core.encode
    for name in FUNCTIONS:
        assert getattr(sse_fast.encoder, name) is getattr(core, name)
        assert getattr(sse_fast, name) is getattr(core, name)


def test_implementation_is_exported_from_the_selector():
    import sse_fast._compiled

    assert sse_fast.IMPLEMENTATION is sse_fast._compiled.IMPLEMENTATION is sse_fast.encoder.IMPLEMENTATION
    assert sse_fast.IMPLEMENTATION in ("c", "python")


UNITS = (
    "import sse_fast, sse_fast.writer.sender as s; "
    "print(sse_fast.IMPLEMENTATION, sse_fast.encode.__module__, sse_fast.EventParser.__module__, "
    "s.Sender.__module__)"
)


def test_every_compiled_unit_follows_the_one_decision():
    assert run_python(UNITS, SSE_FAST_NO_EXTENSIONS="1").split() == [
        "python",
        "sse_fast._encoder_py",
        "sse_fast._parser_py",
        "sse_fast.writer._sender_py",
    ]
    if NO_EXTENSIONS:
        return
    compiled_encoder()
    assert run_python(UNITS).split() == ["c", "sse_fast._encoder", "sse_fast._parser", "sse_fast.writer._sender"]


def copy_of_the_package(tmp_path: Path, drop: str) -> Path:
    """A copy of the installed package in ``tmp_path`` without its extension files matching ``drop``."""
    shutil.copytree(Path(sse_fast.__file__).parent, tmp_path / "sse_fast", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (tmp_path / "sse_fast").rglob(drop):
        path.unlink()
    return tmp_path


WHERE = "import sse_fast; print(sse_fast.__file__, sse_fast.IMPLEMENTATION)"


def test_a_partial_build_is_refused_whichever_unit_is_missing(tmp_path: Path):
    if NO_EXTENSIONS:
        pytest.skip("SSE_FAST_NO_EXTENSIONS=1: the compiled core need not be built")
    compiled_encoder()
    for unit, pattern in [("sse_fast.writer._sender", "_sender.*.so"), ("sse_fast._parser", "_parser.*.so")]:
        root = copy_of_the_package(tmp_path / unit, pattern)
        done = run(WHERE, cwd=root)
        assert done.returncode != 0
        assert "ImportError: sse_fast's compiled core is incomplete" in done.stderr
        assert f"{unit} not; rebuild it" in done.stderr
        assert run(WHERE, cwd=root, SSE_FAST_NO_EXTENSIONS="1").stdout.split()[1] == "python"


def test_a_build_without_any_compiled_unit_falls_back_to_the_twins(tmp_path: Path):
    root = copy_of_the_package(tmp_path, "*.so")
    where, implementation = run(WHERE, cwd=root).stdout.split()
    assert where == str(root / "sse_fast" / "__init__.py")
    assert implementation == "python"


REPORT = "import sse_fast; print(sse_fast.IMPLEMENTATION, sse_fast.encode.__module__, sse_fast.FrameBuffer.__module__)"


def test_no_extensions_forces_the_python_twin():
    assert run_python(REPORT, SSE_FAST_NO_EXTENSIONS="1").split() == [
        "python",
        "sse_fast._encoder_py",
        "sse_fast._encoder_py",
    ]


def test_without_the_variable_the_compiled_core_is_chosen():
    if NO_EXTENSIONS:
        pytest.skip("SSE_FAST_NO_EXTENSIONS=1: the compiled core need not be built")
    compiled_encoder()
    assert run_python(REPORT).split() == ["c", "sse_fast._encoder", "sse_fast._encoder"]


def test_no_extensions_forces_the_python_twin_for_event_too():
    code = "from sse_fast import Event; import sse_fast.event as m; print(m.encode.__module__)"
    assert run_python(code, SSE_FAST_NO_EXTENSIONS="1").strip() == "sse_fast._encoder_py"


def test_import_sse_fast_loads_no_framework():
    code = (
        "import sys, sse_fast; "
        "print(sorted(m for m in ('httpx', 'starlette', 'fastapi', 'flask', 'django', 'aiohttp', "
        "'uvicorn', 'waitress', 'redis', 'anyio') if m in sys.modules))"
    )
    assert run_python(code).strip() == "[]"
    assert run_python(code, SSE_FAST_NO_EXTENSIONS="1").strip() == "[]"


def test_the_write_path_is_selected_with_the_encoder():
    from sse_fast.writer import AsyncWriter, sender

    compiled = sse_fast.IMPLEMENTATION == "c"
    assert (sender.Sender.__module__ == "sse_fast.writer._sender") is compiled
    assert (sender.write_event.__module__ == "sse_fast.writer._sender") is compiled
    assert (sender.write.__module__ == "sse_fast.writer._sender") is compiled
    assert AsyncWriter.write_event is sender.write_event and AsyncWriter._send is sender.write


def test_the_parser_is_selected_with_the_encoder():
    import sse_fast.parse

    expected = "sse_fast._parser" if sse_fast.IMPLEMENTATION == "c" else "sse_fast._parser_py"
    assert sse_fast.parse.EventParser.__module__ == expected
    code = "import sse_fast.parse as p; print(p.EventParser.__module__)"
    assert run_python(code, SSE_FAST_NO_EXTENSIONS="1").strip() == "sse_fast._parser_py"


def test_another_interpreter_gets_the_python_twin():
    # the compiled core uses CPython internals (Py_REFCNT, _PyBytes_Resize): elsewhere the twin is chosen
    code = "import platform; platform.python_implementation = lambda: 'PyPy'; " + REPORT
    assert run_python(code).split() == ["python", "sse_fast._encoder_py", "sse_fast._encoder_py"]

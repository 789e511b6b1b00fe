"""The types ``py.typed`` promises hold: the package is ``mypy --strict`` clean, a user's typed code written as
the README writes it type-checks, the stubs of the compiled core match what it really is (stubtest), and
pyright finds the public API's types complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.twins import compiled_module

import sse_fast

pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra: pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[2]
USER_CODE = Path(__file__).resolve().parent / "typing" / "user_code.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m <args>`` from the repository root (where pyproject.toml configures mypy)."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_the_package_is_mypy_strict_clean() -> None:
    done = run("mypy", "--strict", "-p", "sse_fast")
    assert_clean(done)
    assert "Success: no issues found" in done.stdout


def test_a_users_typed_code_checks_under_strict() -> None:
    done = run("mypy", "--strict", str(USER_CODE))
    assert_clean(done)
    assert "Success: no issues found in 1 source file" in done.stdout


def test_a_wrong_call_is_caught(tmp_path: Path) -> None:
    # the check above can fail: the same checker refuses a WSGI pair awaited as if it were ASGI's
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from sse_fast.types import Environ, StartResponse\n"
        "from sse_fast import new_writer\n"
        "async def view(environ: Environ, start_response: StartResponse) -> None:\n"
        "    writer, ctx = await new_writer(environ, start_response)\n"
    )
    done = run("mypy", "--strict", str(wrong))
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'wrong.py:4: error: Incompatible types in "await"' in done.stdout, done.stdout


def test_the_stubs_match_the_compiled_core() -> None:
    for name in ("sse_fast._encoder", "sse_fast._parser"):
        compiled_module(name)
    done = run("mypy.stubtest", "sse_fast._encoder", "sse_fast._parser")
    assert_clean(done)
    assert "Success: no issues found in 2 modules" in done.stdout


MIN_TYPE_COMPLETENESS = 0.98


@pytest.mark.skipif(
    Path(sse_fast.__file__).resolve().parent == ROOT / "sse_fast",
    reason="pyright --verifytypes cannot see an editable install; the suites on the installed wheels run this",
)
def test_the_public_api_is_type_complete(tmp_path: Path) -> None:
    # what a user's type checker sees of the installed package: every exported symbol's type known
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--verifytypes", "sse_fast", "--ignoreexternal", "--outputjson"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},  # its python
    )  # fmt: skip
    report = json.loads(done.stdout)["typeCompleteness"]
    unknown = [symbol["name"] for symbol in report["symbols"] if symbol["isExported"] and not symbol["isTypeKnown"]]
    assert report["packageRootDirectory"].startswith(str(Path(sse_fast.__file__).parent))
    assert report["completenessScore"] >= MIN_TYPE_COMPLETENESS, unknown


def test_a_write_left_unawaited_is_caught(tmp_path: Path) -> None:
    """The writes are typed as coroutines, so the checker reports one whose ``await`` was forgotten."""
    forgot = tmp_path / "forgot.py"
    forgot.write_text(
        "from sse_fast import AsyncWriter\n"
        "async def handler(writer: AsyncWriter) -> None:\n"
        "    writer.write_event({'n': 1})\n"
        "    await writer.write_done()\n"
    )
    done = run("mypy", "--strict", str(forgot))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "forgot.py:3: error: Value of type" in done.stdout and "[unused-coroutine]" in done.stdout, done.stdout

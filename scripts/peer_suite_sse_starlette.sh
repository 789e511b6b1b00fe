#!/usr/bin/env bash
# sse-starlette's own test suite, run on sse_fast.compat.sse_starlette: the tests come from sse-starlette's
# newest sdist on PyPI that carries them (3.7.1), with the conftest.py and anyio_compat.py they need taken
# from 3.4.5's sdist (3.7.1 ships the tests without them); both pinned by hash, nothing of theirs is kept in
# this repository. Their imports are changed the way a user switching changes them (`from sse_starlette...
# import` -> `from sse_fast.compat.sse_starlette import`, and so the targets their tests patch), and pytest
# runs them, warnings as errors, once on the compiled core and once on the pure-Python twin
# (SSE_FAST_NO_EXTENSIONS=1). The real sse_starlette is made unimportable during the run, so a test that
# still reached it would fail. Exits non-zero if any test fails, or if a test listed below as known to fail
# passes (or is no longer there): each of those is documented in docs/migration.md ("sse-starlette's own
# tests").
#
#   bash scripts/peer_suite_sse_starlette.sh            # with .venv/bin/python (the test extra installed)
#   PYTHON=/path/to/python bash scripts/peer_suite_sse_starlette.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v "${PYTHON:-.venv/bin/python}")
case $python in /*) ;; *) python=$PWD/$python ;; esac
version=3.7.1
sdist_sha256=9a8256e3e80a0fdc8d1dec14f2bb0b3f304c99f23a6d4d26c61ff50145761597
helpers_version=3.4.5
helpers_sha256=83072538bc211a2f68b7b0422226c4af3e9b62e106e07034664b832ca019842a

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

printf 'sse-starlette==%s --hash=sha256:%s\n' "$version" "$sdist_sha256" >"$work/sdist.txt"
printf 'sse-starlette==%s --hash=sha256:%s\n' "$helpers_version" "$helpers_sha256" >"$work/helpers.txt"
"$python" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$work/sdist.txt" -d "$work"
"$python" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$work/helpers.txt" -d "$work"
# what their tests use beyond the test extra (their dev group): it goes into the run's own folder, not into
# the environment
cat >"$work/plugins.txt" <<'EOF'
pytest-asyncio==1.4.0 --hash=sha256:933ca923a23075a87fb7070c0ec272a6848489824d887c85c812670932835aa1
asgi-lifespan==2.1.0 --hash=sha256:ed840706680e28428c01e14afb3875d7d76d3206f3d5b2f2294e059b5c23804f
httpx2==2.17.0 --hash=sha256:4345a932391496a082b65929f72260dbc9ce5cd2d21bcb28d00f0569935a6eb1
httpcore2==2.17.0 --hash=sha256:72e3674317e5d6bdfc4ca5ea52e4b05302b0b185f95eecfb7dd9399230c51a6f
truststore==0.10.5 --hash=sha256:9aaaedaefaf06d8b206278cf8b5012bc897f485a874503501e12d776df78951c
sniffio==1.3.1 --hash=sha256:2f6da418d1f1e0fddd844478f41680e794e6051915791a034ff65e5f100525a2
EOF
"$python" -m pip install -q --no-deps --only-binary :all: --require-hashes -r "$work/plugins.txt" --target "$work/site"

tar xzf "$work/sse_starlette-$version.tar.gz" -C "$work"
tar xzf "$work/sse_starlette-$helpers_version.tar.gz" -C "$work"
src=$work/sse_starlette-$version
[ -f "$src/tests/test_sse.py" ] || { echo "peer suite: sse-starlette $version's sdist has no tests/" >&2; exit 1; }
helpers=$work/sse_starlette-$helpers_version/tests
cp "$helpers/__init__.py" "$helpers/conftest.py" "$src/tests/"
# their conftest also resets sse-starlette's private shutdown watcher (`_thread_state`), which the drop-in
# has not
sed -i -E -e 's/^(\s*from sse_starlette\.sse import AppStatus), _thread_state$/\1/' \
    -e 's/hasattr\(_thread_state, "shutdown_state"\)/False/' "$src/tests/conftest.py"
# 3.4.5's anyio_compat.py re-exports sse-starlette's private copy of Starlette's `collapse_excgroups` (gone
# from Starlette since); this is that helper as sse-starlette 3.7.1's `_utils` has it
cat >"$src/tests/anyio_compat.py" <<'EOF'
from contextlib import contextmanager

try:
    BaseExceptionGroup
except NameError:  # Python < 3.11
    from exceptiongroup import BaseExceptionGroup


@contextmanager
def collapse_excgroups():
    try:
        yield
    except BaseException as exc:
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        raise exc
EOF
sed -i -E -e 's/^(\s*)from sse_starlette(\.sse|\.event)? import/\1from sse_fast.compat.sse_starlette import/' \
    -e 's/^(\s*)import sse_starlette\.sse as /\1import sse_fast.compat.sse_starlette as /' \
    -e 's/"sse_starlette\.sse\./"sse_fast.compat.sse_starlette./g' "$src"/tests/*.py
if grep -nE '^\s*(from|import) sse_starlette|"sse_starlette\.(sse|event)\.' "$src"/tests/*.py; then
    echo "peer suite: a use of sse_starlette was left unchanged (above)" >&2
    exit 1
fi

# The tests that fail on the drop-in on purpose, by name, with why; they run as strict xfails.
cat >"$work/site/peer_known.py" <<'EOF'
import os
import sys

import pytest

import sse_fast

sys.modules["sse_starlette"] = None  # the real sse-starlette: any import of it now fails

# whole modules left out: what they test is sse-starlette's private shutdown watcher, or is not in the sdist
LEFT_OUT = {
    "test_issue132.py": (
        "_get_uvicorn_server, _shutdown_watcher, _get_shutdown_state: sse-starlette's watcher that polls uvicorn's "
        "should_exit; the drop-in chains signal handlers instead (its drain of a uvicorn stopped from code is "
        "tested in sse_fast's tests/compat/test_compat_sse_starlette_parity.py)"
    ),
    "test_issue152.py": "_ensure_watcher_started_on_this_loop, _shutdown_watcher: the watcher's one-per-thread task",
    "test_multi_loop.py": (
        "_get_shutdown_state, _listen_for_exit_signal: the per-thread state of sse-starlette's watcher; the "
        "drop-in has no watcher (AppStatus.should_exit drains at once, from any thread)"
    ),
    "test_broadcasting_example.py": "it loads examples/02_broadcasting.py, which the sdist does not carry",
}
EXIT_HOOK = (
    "replaces the private _listen_for_exit_signal on the response to pick when shutdown comes; the drop-in "
    "has no such method (sse_fast's tests/compat/test_compat_sse_starlette_behaviour.py checks the same behaviours "
    "against sse-starlette itself)"
)
# tests known to fail, by test function (every parameter), with why
KNOWN = {
    "tests/test_issue217.py::test_send_whenInterruptedAndCleanupStuck_thenDeadlineCancelsCleanup": EXIT_HOOK,
    "tests/test_issue217.py::test_closingFrame_whenSendStalls_thenInterruptionEndsResponse": EXIT_HOOK,
    "tests/test_sse.py::TestEventSourceResponse::test_send_whenInterrupted_thenClosesSuspendedGenerator": EXIT_HOOK,
    "tests/test_sse.py::TestEventSourceResponse::test_ping_whenTimerTicks_thenSendsOneMessagePerTick": (
        "patches sse_starlette.sse.anyio.sleep and calls the private _ping(send); the drop-in's pings go "
        "through its writer"
    ),
    "tests/test_sse.py::TestEventSourceResponse::test_ping_whenSendTimesOut_thenRaisesSendTimeoutError": (
        "calls the private _ping(send); a ping's send timeout is tested in sse_fast's "
        "tests/compat/test_compat_sse_starlette.py::test_send_timeout_on_a_ping"
    ),
    "tests/test_sse.py::TestEventSourceResponse::test_ping_whenConcurrentWithEvents_thenRespectsLocking": (
        "expects a ping sent beside a pending send (its send raises WouldBlock when entered twice); the "
        "drop-in sends one ASGI message at a time, the ping after the pending send (docs/migration.md)"
    ),
    "tests/test_streaming_parity.py::test_call_whenWebsocketScope_thenSendIsWrappedForDenial": (
        "a websocket scope raises sse_fast.NotHTTP: SSE is HTTP (docs/migration.md)"
    ),
}


def pytest_ignore_collect(collection_path, config):
    return collection_path.name in LEFT_OUT or None


def pytest_configure(config):
    want = "python" if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1" else "c"
    if sse_fast.IMPLEMENTATION != want:
        raise pytest.UsageError(f"sse_fast runs its {sse_fast.IMPLEMENTATION!r} core here, not {want!r}")


def pytest_collection_modifyitems(items):
    seen = set()
    for item in items:
        test = item.nodeid.split("[")[0]
        if test in KNOWN:
            seen.add(test)
            item.add_marker(pytest.mark.xfail(strict=True, reason=KNOWN[test]))
    if seen != set(KNOWN):
        raise pytest.UsageError(f"known failures not collected: {sorted(set(KNOWN) - seen)}")
EOF
cat >"$work/pytest.ini" <<'EOF'
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
xfail_strict = true
markers =
    integration: marks tests as integration tests
    experimentation: marks tests as experimental tests, not to be run in CICD
EOF

# Warnings are errors, but one: their memory-channel tests leave the channel's receiving end unclosed, and
# anyio warns when it is collected (on sse-starlette itself too, wherever the collection happens to fall)
run() {
    (cd "$src" && env PYTHONPATH="$work/site:$src" "$@" "$python" -m pytest -q -rxX -p no:cacheprovider \
        -p peer_known -W error -W "ignore:Unclosed <MemoryObjectReceiveStream:ResourceWarning" -c "$work/pytest.ini" --rootdir "$src" tests)
}
echo "sse-starlette $version's tests on sse_fast.compat.sse_starlette, compiled core:"
run SSE_FAST_NO_EXTENSIONS=0
echo "sse-starlette $version's tests on sse_fast.compat.sse_starlette, pure-Python twin:"
run SSE_FAST_NO_EXTENSIONS=1

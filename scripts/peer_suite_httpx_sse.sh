#!/usr/bin/env bash
# httpx-sse's own test suite, run on sse_fast.compat.httpx_sse: the tests come from httpx-sse's sdist on PyPI
# (pinned by hash; nothing of theirs is kept in this repository), their imports are changed the way a user
# switching changes them (`from httpx_sse... import` -> `from sse_fast.compat.httpx_sse... import`), and
# pytest runs them, warnings as errors, once on the compiled core and once on the pure-Python twin
# (SSE_FAST_NO_EXTENSIONS=1). The real httpx_sse is made unimportable during the run, so a test that still
# reached it would fail. Exits non-zero if any test fails, or if a test listed below as known to fail passes
# (or is no longer there): each of those is a documented difference (docs/migration-httpx-sse.md).
#
#   bash scripts/peer_suite_httpx_sse.sh            # with .venv/bin/python (the test extra installed)
#   PYTHON=/path/to/python bash scripts/peer_suite_httpx_sse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v "${PYTHON:-.venv/bin/python}")
case $python in /*) ;; *) python=$PWD/$python ;; esac
version=0.4.3
sdist_sha256=9b1ed0127459a66014aec3c56bebd93da3c1bc8bb6618c8082039a44889a755d
# their async tests need pytest-asyncio; it goes into the run's own folder, not into the environment
asyncio_version=1.4.0
asyncio_sha256=933ca923a23075a87fb7070c0ec272a6848489824d887c85c812670932835aa1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

printf 'httpx-sse==%s --hash=sha256:%s\n' "$version" "$sdist_sha256" >"$work/sdist.txt"
"$python" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$work/sdist.txt" -d "$work"
printf 'pytest-asyncio==%s --hash=sha256:%s\n' "$asyncio_version" "$asyncio_sha256" >"$work/plugin.txt"
"$python" -m pip install -q --no-deps --only-binary :all: --require-hashes -r "$work/plugin.txt" --target "$work/site"

tar xzf "$work/httpx_sse-$version.tar.gz" -C "$work"
src=$work/httpx_sse-$version
[ -f "$src/tests/test_api.py" ] || { echo "peer suite: httpx-sse $version's sdist has no tests/" >&2; exit 1; }
sed -i -E -e 's/^from httpx_sse([. ])/from sse_fast.compat.httpx_sse\1/' \
    -e 's/^import httpx_sse$/from sse_fast.compat import httpx_sse/' "$src"/tests/*.py
if grep -nE '^\s*(from|import) httpx_sse' "$src"/tests/*.py; then
    echo "peer suite: an import of httpx_sse was left unchanged (above)" >&2
    exit 1
fi

# The tests that fail on the drop-in on purpose, by name, with why; they run as strict xfails.
cat >"$src/tests/conftest.py" <<'EOF'
import os
import sys

import pytest

import sse_fast

sys.modules["httpx_sse"] = None  # the real httpx-sse: any import of it now fails

KNOWN = {
    "tests/test_event_source.py::test_iter_sse_id_retry": (
        "a frame with a retry: line and no data dispatches no event (WHATWG: an event without data is "
        "not dispatched; the retry time is kept in EventSource.retry and on the next events)"
    ),
}


def pytest_configure(config):
    want = "python" if os.environ.get("SSE_FAST_NO_EXTENSIONS") == "1" else "c"
    if sse_fast.IMPLEMENTATION != want:
        raise pytest.UsageError(f"sse_fast runs its {sse_fast.IMPLEMENTATION!r} core here, not {want!r}")


def pytest_collection_modifyitems(items):
    seen = set()
    for item in items:
        if item.nodeid in KNOWN:
            seen.add(item.nodeid)
            item.add_marker(pytest.mark.xfail(strict=True, reason=KNOWN[item.nodeid]))
    if seen != set(KNOWN):
        raise pytest.UsageError(f"known failures not collected: {sorted(set(KNOWN) - seen)}")
EOF
printf '[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\nxfail_strict = true\n' >"$work/pytest.ini"

run() {
    (cd "$src" && env PYTHONPATH="$work/site" "$@" "$python" -m pytest -q -rxX -p no:cacheprovider -W error \
        -c "$work/pytest.ini" --rootdir "$src" tests)
}
echo "httpx-sse $version's tests on sse_fast.compat.httpx_sse, compiled core:"
run SSE_FAST_NO_EXTENSIONS=0
echo "httpx-sse $version's tests on sse_fast.compat.httpx_sse, pure-Python twin:"
run SSE_FAST_NO_EXTENSIONS=1

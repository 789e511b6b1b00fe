#!/usr/bin/env bash
# The test command: on a fresh machine, installs what the suite needs (Debian's Chromium for the
# browser test, Debian's redis-server for the Redis broker tests, Debian's nginx for docs/nginx.md's config,
# a venv with the test extra), then runs pytest with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x /usr/bin/redis-server ] || missing="$missing redis-server"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
    # the tests start their own redis-server and nginx; the Debian services are not needed
    if [ -n "$(command -v systemctl)" ]; then
        for service in redis-server nginx; do
            if [[ "$missing" == *"$service"* ]]; then
                $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
            fi
        done
    fi
fi
python3 -m venv .venv
.venv/bin/pip install -q -U pip
.venv/bin/pip install -q -e ".[test]"
exec .venv/bin/pytest "$@"

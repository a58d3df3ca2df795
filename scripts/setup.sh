#!/usr/bin/env bash
# Installs what the appliance and its tests need on a Debian 12 machine with the Rust
# toolchain, Python 3 and Node 20. Idempotent: each step is skipped when already done.
#   scripts/setup.sh run    what `make run` needs
#   scripts/setup.sh test   what `make test` needs (SMTP server, browser, npm packages)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-run}"

say() { printf '\033[1;35m==>\033[0m %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

if [ "$what" = "test" ]; then
    if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
        say "installing the test SMTP server (aiosmtpd)"
        python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    fi
    apt_install chromium
    if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/oidc-provider ]; then
        say "installing npm packages for the browser tests"
        npm ci --no-audit --no-fund --silent
    fi
fi

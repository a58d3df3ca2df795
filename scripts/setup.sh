#!/usr/bin/env bash
# Installs what the appliance and its tests need on a Debian 12 machine with the Rust
# toolchain, Python 3 and Node 20. Idempotent: each step is skipped when already done.
#   scripts/setup.sh run    what `make run` needs (ONNX Runtime beside the binaries)
#   scripts/setup.sh test   that, plus what `make test` needs (SMTP server, browser, npm
#                           packages, the 3D validators admesh, PrusaSlicer, gltf-validator)
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

# ONNX Runtime for image generation: the shared library from the onnxruntime wheel on
# PyPI (its version matches the `api-31` feature of the `ort` crate), unpacked into
# .tools/ and linked beside the debug and release binaries, where `stratamake` looks.
ORT_VERSION=1.31.1
ort_dir=".tools/onnxruntime-$ORT_VERSION"
if [ ! -f "$ort_dir/libonnxruntime.so.$ORT_VERSION" ]; then
    say "fetching ONNX Runtime $ORT_VERSION (the onnxruntime wheel from PyPI)"
    wheels="$(mktemp -d)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --dest "$wheels" "onnxruntime==$ORT_VERSION"
    mkdir -p "$ort_dir"
    python3 - "$ort_dir" "$wheels"/onnxruntime-*.whl <<'PY'
import os, sys, zipfile
target, wheel = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with z.open(name) as src, open(os.path.join(target, base), "wb") as dst:
                dst.write(src.read())
PY
    rm -rf "$wheels"
fi
for dir in target/debug target/release; do
    mkdir -p "$dir"
    ln -sfn "$PWD/$ort_dir/libonnxruntime.so.$ORT_VERSION" "$dir/libonnxruntime.so"
done

if [ "$what" = "test" ]; then
    if ! python3 -c 'import aiosmtpd, jsonschema' 2>/dev/null; then
        say "installing the test SMTP server (aiosmtpd) and the JSON Schema validator"
        python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    fi
    # The browser for UI tests; admesh and PrusaSlicer check that 3D outputs are closed
    # and slice.
    apt_install chromium admesh prusa-slicer
    if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/oidc-provider ] \
        || [ ! -d node_modules/gltf-validator ]; then
        say "installing npm packages for the browser tests and the glTF validator"
        npm ci --no-audit --no-fund --silent
    fi
fi

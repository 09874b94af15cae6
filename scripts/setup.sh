#!/usr/bin/env bash
# Idempotent set-up for building, running and testing Migru on a fresh Debian/Ubuntu machine.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (does nothing when done).
#   - Debian packages the Rust build needs (D-Bus headers for btleplug).
#   - The ONNX Runtime shared library (from the PyPI wheel) for the on-device model; exported as
#     ORT_DYLIB_PATH. Nothing is downloaded by build scripts.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    local sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Build outputs and downloads are cached outside the clone, so a fresh clone (CI) reuses them;
# a cold machine simply fills the cache.
cache_root="${MIGRU_CACHE_DIR:-$HOME/.cache/migru}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache_root/target}"
export ORT_CACHE_DIR="${ORT_CACHE_DIR:-$cache_root/onnxruntime}"

command -v cargo >/dev/null || { echo "setup: Rust is needed (https://rustup.rs), then run this again" >&2; exit 1; }
apt_install pkg-config libdbus-1-dev
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$("$repo_root/scripts/fetch-onnxruntime.sh")}"

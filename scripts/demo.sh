#!/usr/bin/env bash
# The README's main job: set-up, then `migru demo` end to end on generated sample data
# (in a temporary folder; your own database is never touched). Extra arguments go to `migru demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
cargo run --release --locked -p migru-core --bin migru -- demo "$@"

#!/usr/bin/env bash
# The README's main job: set-up, then `migru demo` end to end on generated sample data
# (in a temporary folder; your own database is never touched). Extra arguments go to `migru demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# Both binaries: the demo starts migru-server on loopback for its family step.
cargo build --release --locked -p migru-core --bin migru -p migru-server --bin migru-server
exec "$CARGO_TARGET_DIR/release/migru" demo "$@"

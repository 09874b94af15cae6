#!/usr/bin/env bash
# Runs every test on a fresh machine (the README's test command; `.ci/run` calls exactly this):
# set-up, then the Rust workspace (SQLite and a real PostgreSQL), then the Kotlin tests of the
# generated bindings on the JVM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export MIGRU_REQUIRE_ORT=1  # the model tests fail, not skip, without the runtime
export MIGRU_TEST_POSTGRES_URL="${MIGRU_TEST_POSTGRES_URL:-$(server/scripts/start-postgres.sh)}"
cargo test --workspace --locked
cargo xtask kotlin-test

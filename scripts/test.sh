#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then formatting, lints and
# every test (unit, simulator, SDK, Prometheus rules, Alertmanager routes, dashboards, status page
# in Chromium, deployment renders, end to end against real Prometheus and Alertmanager).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
# Tests that drive Python tools (the Gemini SDK, schema checkers) use this interpreter.
export BATCHPROBE_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
mkdir -p target
set +e
cargo test --locked 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e

# One closing line over every test binary: cargo's own last line is the doc-tests' count.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' \
  target/test-output.log
exit "$status"

#!/usr/bin/env bash
# The one test command: build, unit and integration tests, then the end-to-end suite
# (tests/e2e: the anthropic SDK and the real Claude Code against conduit + the Kiro simulator).
#
#   scripts/test.sh                 everything
#   scripts/test.sh --e2e-only ...  skip the cargo steps; further arguments go to pytest
#
# Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e_only=0
if [[ "${1:-}" == "--e2e-only" ]]; then e2e_only=1; shift; fi

started=$SECONDS
step() {
    local name=$1; shift
    local t=$SECONDS
    echo "==> $name" >&2
    "$@"
    echo "==> $name: ok ($((SECONDS - t)) s)" >&2
}

if [[ $e2e_only == 0 ]]; then
    # Debug builds: `cargo test` needs the debug profile anyway, so a release build would only
    # add a second full compile.
    step "cargo build" cargo build --workspace --all-targets
    if cargo nextest --version >/dev/null 2>&1; then
        step "cargo nextest" cargo nextest run --workspace --no-tests=pass
        step "cargo doctests" cargo test --workspace --doc
    else
        step "cargo test" cargo test --workspace
    fi
fi

step "e2e setup" scripts/setup-e2e.sh

echo "==> pytest tests/e2e" >&2
t=$SECONDS
status=0
.venv/bin/python -m pytest tests/e2e "$@" || status=$?
echo "==> pytest tests/e2e: exit $status ($((SECONDS - t)) s); total $((SECONDS - started)) s" >&2
exit $status

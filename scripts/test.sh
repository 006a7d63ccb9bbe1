#!/usr/bin/env bash
# The one test command: build, unit and integration tests, then the end-to-end suite
# (tests/e2e: the anthropic and openai SDKs and the real Claude Code against conduit + the Kiro
# simulator).
#
#   scripts/test.sh                   everything (cargo tests, fuzz smoke, e2e)
#   scripts/test.sh --e2e-only ...    skip the cargo steps; further arguments go to pytest
#
# A failed build stops at once; failed test steps are reported at the end, after every test step
# has run, and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e_only=0
if [[ "${1:-}" == "--e2e-only" ]]; then e2e_only=1; shift; fi

# A Postgres for the team store's tests (crates/conduit-store, the team e2e stories): the one on
# 127.0.0.1:5432, else a throwaway cluster stopped when this script exits. Exports
# CONDUIT_TEST_PG_URL for cargo and pytest.
source scripts/postgres.sh
# A Redis for the rate-limit tests: the one on 127.0.0.1:6379, else a throwaway one. Exports
# REDIS_URL.
source scripts/redis.sh

started=$SECONDS
failed=()
step() {
    local name=$1; shift
    local t=$SECONDS status=0
    echo "==> $name" >&2
    "$@" || status=$?
    if [[ $status == 0 ]]; then
        echo "==> $name: ok ($((SECONDS - t)) s)" >&2
    else
        echo "==> $name: FAILED, exit $status ($((SECONDS - t)) s)" >&2
        failed+=("$name")
    fi
    return 0
}

if [[ $e2e_only == 0 ]]; then
    # Debug builds: the tests need the debug profile anyway, so a release build would only add
    # a second full compile. --all-targets compiles the test binaries here, once.
    echo "==> cargo build" >&2
    t=$SECONDS
    cargo build --workspace --all-targets
    echo "==> cargo build: ok ($((SECONDS - t)) s)" >&2
    if cargo nextest --version >/dev/null 2>&1; then
        step "cargo nextest" cargo nextest run --workspace --no-fail-fast --no-tests=pass
        step "cargo doctests" cargo test --workspace --doc
    else
        step "cargo test" cargo test --workspace --no-fail-fast
    fi
    # A short coverage-guided run of every fuzz target (docs/fuzzing.md has the long run).
    step "fuzz smoke" env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/fuzz-smoke.sh
fi

echo "==> e2e setup" >&2
scripts/setup-e2e.sh
step "pytest tests/e2e" .venv/bin/python -m pytest tests/e2e "$@"

echo "==> total $((SECONDS - started)) s" >&2
if (( ${#failed[@]} )); then
    echo "==> FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "==> all passed" >&2

#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/fuzz_targets), for CI: ~25 s each by default.
# Installs cargo-fuzz if it is missing. Exits non-zero if any target crashes; the input that
# crashed it is left in fuzz/artifacts/<target>/ (docs/fuzzing.md: turning it into a test).
#
#   scripts/fuzz-smoke.sh              every target, FUZZ_SECONDS (default 25) each
#   scripts/fuzz-smoke.sh TARGET...    only these
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# `-s none`: our crates forbid unsafe code, so AddressSanitizer would only slow the run down;
# `-a`: debug assertions and overflow checks stay on, so arithmetic bugs crash too.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never
seconds=${FUZZ_SECONDS:-25}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (cargo install --locked cargo-fuzz)" >&2
    cargo install --locked cargo-fuzz
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

flags=(-s none -a)
t=$SECONDS
echo "==> cargo fuzz build" >&2
cargo fuzz build "${flags[@]}"
echo "==> cargo fuzz build: ok ($((SECONDS - t)) s)" >&2

# New inputs libFuzzer finds go to a scratch directory, so the committed seeds stay as they are.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "==> fuzz $target (${seconds} s)" >&2
    if ! cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        2> >(grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' >&2); then
        failed+=("$target")
        echo "==> fuzz $target: CRASH (input in fuzz/artifacts/$target/)" >&2
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "==> fuzz smoke: failed: ${failed[*]}" >&2
    exit 1
fi
echo "==> fuzz smoke: ok (${#targets[@]} targets, $((SECONDS - t)) s)" >&2

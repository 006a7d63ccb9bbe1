#!/usr/bin/env bash
# Instructions per streamed request in conduit, counted by callgrind (repeatable whatever else
# the machine is doing): two runs of `conduit-bench --calls N` with conduit under callgrind,
# N apart; the difference of their totals divided by the difference of N leaves out start-up
# and shut-down. Usage: scripts/bench-instructions.sh [LOW HIGH] (default 20 120).
# Keeps both runs' callgrind files as bench-results/callgrind.{LOW,HIGH}.<pid> for
# `callgrind_annotate` (scripts/callgrind-diff.py prints the per-function difference).
set -euo pipefail
cd "$(dirname "$0")/.."
low=${1:-20}
high=${2:-120}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p conduit -p conduit-sim -p conduit-bench
mkdir -p bench-results
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wrapper="$work/conduit-callgrind"
cat >"$wrapper" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$work/out.\$CALLS.%p" $PWD/target/release/conduit "\$@"
WRAP
chmod +x "$wrapper"
total() {
  # The "totals:" (or "summary:") line of the one callgrind file of that run.
  awk '/^(totals|summary):/ {print $2; exit}' "$work"/out."$1".*
}
for n in "$low" "$high"; do
  CALLS=$n BENCH_CONDUIT_BIN="$wrapper" ./target/release/conduit-bench --calls "$n" >/dev/null
done
a=$(total "$low"); b=$(total "$high")
rm -f bench-results/callgrind.*
for f in "$work"/out.*; do cp "$f" "bench-results/callgrind.${f##*/out.}"; done
python3 - "$a" "$b" "$low" "$high" <<PY
import sys
a, b, lo, hi = map(int, sys.argv[1:])
print(f"instructions: {a} after {lo} calls, {b} after {hi} calls")
print(f"per streamed request: {(b - a) / (hi - lo) / 1e6:.3f} M")
PY

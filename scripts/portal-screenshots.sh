#!/usr/bin/env bash
# Regenerates docs/portal/*.png: a full-page screenshot of every portal page (sign-in, overview,
# keys, key created, users, teams, identity providers, discovery, budgets, spend, audit,
# connect), taken by the admin story of tests/e2e/test_portal.py in headless Chromium against a
# real team gateway, with SCREENSHOT_DIR pointing here. Prints the files it wrote.
#
#   scripts/portal-screenshots.sh             build (cargo build -p conduit -p conduit-sim), then shoot
#   SKIP_BUILD=1 scripts/portal-screenshots.sh   use the binaries already in target/debug
#
# Needs what scripts/setup-e2e.sh installs (run here first; it is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

out="$PWD/docs/portal"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "portal-screenshots: cargo build -p conduit -p conduit-sim" >&2
    cargo build -p conduit -p conduit-sim
fi
bash scripts/setup-e2e.sh

mkdir -p "$out"
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
SCREENSHOT_DIR="$out" .venv/bin/python -m pytest tests/e2e/test_portal.py -k test_admin_story -q

written=$(find "$out" -maxdepth 1 -name '*.png' -newer "$marker" | sort)
if [[ -z "$written" ]]; then
    echo "portal-screenshots: no screenshot was written to $out" >&2
    exit 1
fi
echo "portal-screenshots: wrote" >&2
for f in $written; do
    echo "${f#"$PWD"/} ($(stat -c %s "$f") bytes)"
done

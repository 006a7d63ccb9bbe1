#!/usr/bin/env bash
# Installs what the end-to-end tests need: a venv at .venv with tests/e2e/requirements.txt, and
# the npm packages of tests/e2e/node (Claude Code, Codex, playwright-core, oidc-provider).
# Idempotent: each part is reinstalled only when its pin file changed, so a re-run costs a second.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_ok() { [[ -f "$2" ]] && [[ "$(cat "$2")" == "$(sha256sum "$1" | cut -d' ' -f1)" ]]; }
write_stamp() { sha256sum "$1" | cut -d' ' -f1 >"$2"; }

req=tests/e2e/requirements.txt
if ! .venv/bin/python -c "" 2>/dev/null; then
    echo "setup-e2e: creating .venv" >&2
    rm -f .venv/.e2e-stamp
    # Debian's system python lacks ensurepip unless python3-venv is installed; virtualenv
    # from PyPI does the same job.
    python3 -m venv --clear .venv 2>/dev/null \
        || { python3 -m pip install --quiet virtualenv && python3 -m virtualenv --clear .venv; }
fi
if ! stamp_ok "$req" .venv/.e2e-stamp; then
    echo "setup-e2e: installing Python test dependencies into .venv" >&2
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
    write_stamp "$req" .venv/.e2e-stamp
fi

# The /login page test drives Debian's chromium through playwright-core (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    echo "setup-e2e: installing chromium (apt)" >&2
    if ! apt-get install -y --no-install-recommends chromium >/dev/null; then
        apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null
    fi
fi

# The interactive Claude Code test drives `claude` in a tmux pane.
if ! command -v tmux >/dev/null 2>&1; then
    echo "setup-e2e: installing tmux (apt)" >&2
    if ! apt-get install -y --no-install-recommends tmux >/dev/null; then
        apt-get update >/dev/null && apt-get install -y --no-install-recommends tmux >/dev/null
    fi
fi

# The team session-expiry test moves the gateway's wall clock with libfaketime.
if [[ ! -f /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ]]; then
    echo "setup-e2e: installing libfaketime (apt)" >&2
    if ! apt-get install -y --no-install-recommends libfaketime >/dev/null; then
        apt-get update >/dev/null && apt-get install -y --no-install-recommends libfaketime >/dev/null
    fi
fi

# The metrics test checks /metrics with promtool, from Debian's prometheus package. Only the
# tool is wanted: a policy-rc.d (Docker images ship one) keeps the package from starting the
# server, and on a systemd host it is not left enabled either.
if ! command -v promtool >/dev/null 2>&1; then
    echo "setup-e2e: installing prometheus for promtool (apt; the service is not started)" >&2
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    if ! apt-get install -y --no-install-recommends prometheus >/dev/null; then
        apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null
    fi
    if [[ -n $own_policy ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi

# The `conduit token` stories keep tokens in a real Secret Service: gnome-keyring-daemon on a
# private D-Bus session bus (dbus-daemon), inspected with secret-tool.
keyring_pkgs=()
command -v gnome-keyring-daemon >/dev/null 2>&1 || keyring_pkgs+=(gnome-keyring)
command -v secret-tool >/dev/null 2>&1 || keyring_pkgs+=(libsecret-tools)
# (Debian's dbus depends on dbus-daemon and dbus-bin: dbus-send, dbus-monitor, dbus-run-session.)
{ command -v dbus-daemon && command -v dbus-send && command -v dbus-monitor && command -v dbus-run-session; } >/dev/null 2>&1 \
    || keyring_pkgs+=(dbus)
if (( ${#keyring_pkgs[@]} )); then
    echo "setup-e2e: installing ${keyring_pkgs[*]} (apt)" >&2
    if ! apt-get install -y --no-install-recommends "${keyring_pkgs[@]}" >/dev/null; then
        apt-get update >/dev/null && apt-get install -y --no-install-recommends "${keyring_pkgs[@]}" >/dev/null
    fi
fi

lock=tests/e2e/node/package-lock.json
node_dir=tests/e2e/node
if ! stamp_ok "$lock" "$node_dir/node_modules/.e2e-stamp"; then
    echo "setup-e2e: installing npm clients (Claude Code) into $node_dir/node_modules" >&2
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    write_stamp "$lock" "$node_dir/node_modules/.e2e-stamp"
fi

# The package's postinstall copies the native binary into place; if npm skipped install
# scripts, run it ourselves, and fail here rather than in a test.
claude="$node_dir/node_modules/.bin/claude"
if ! "$claude" --version >/dev/null 2>&1; then
    (cd "$node_dir/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2 || true
fi
if ! "$claude" --version >/dev/null 2>&1; then
    echo "setup-e2e: $node_dir/node_modules/.bin/claude does not run; remove $node_dir/node_modules and retry" >&2
    exit 1
fi

# The SSO tests run a real OpenID Provider (oidc-provider, ESM) from tests/e2e/node/idp.mjs.
if ! (cd "$node_dir" && node --input-type=module -e "await import('oidc-provider')") >/dev/null 2>&1; then
    echo "setup-e2e: oidc-provider does not load from $node_dir/node_modules; remove it and retry" >&2
    exit 1
fi

# Codex ships its native binary as an optional dependency (@openai/codex-linux-x64); npm skips
# it under --omit=optional or on another platform.
# A throwaway CODEX_HOME: even --version writes helper files there.
codex="$node_dir/node_modules/.bin/codex"
codex_home=$(mktemp -d)
codex_ok=0
CODEX_HOME="$codex_home" "$codex" --version >/dev/null 2>&1 && codex_ok=1
rm -rf "$codex_home"
if [[ $codex_ok == 0 ]]; then
    echo "setup-e2e: $codex does not run (missing optional dependency @openai/codex-<platform>?); remove $node_dir/node_modules and retry" >&2
    exit 1
fi

#!/bin/sh
# conduit token helper: prints a session token for the gateway below on stdout and nothing
# else (Claude Code's apiKeyHelper; any program's token command). Served by the gateway at
# /auth/setup/token-script. A cached token with more than 60 s left is printed at once; else
# a browser sign-in (/auth/cli/login) is started and polled. Diagnostics go to stderr.
set -u
GATEWAY='__CONDUIT_GATEWAY__'
umask 077

say() { printf 'conduit-token: %s\n' "$*" >&2; }
now() { date +%s; }
is_number() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

slug=$(printf '%s' "$GATEWAY" | sed -e 's#^[A-Za-z]*://##' -e 's#[^A-Za-z0-9._-]#_#g')
dir="${XDG_CACHE_HOME:-$HOME/.cache}/conduit"
file="$dir/token-$slug"
fail="$file.fail"
lock="$file.lock"
mkdir -p "$dir" || { say "cannot create $dir"; exit 1; }

# Print the cached token when it has more than 60 s left (line 1 token, line 2 expiry).
cached() {
    [ -f "$file" ] || return 1
    tok=$(sed -n '1p' "$file")
    exp=$(sed -n '2p' "$file")
    [ -n "$tok" ] && is_number "$exp" || return 1
    [ "$exp" -gt $(($(now) + 60)) ] || return 1
    printf '%s\n' "$tok"
}

cached && exit 0

# A sign-in failed less than 30 s ago: no new browser window (Claude Code retries quickly).
if [ -f "$fail" ]; then
    at=$(cat "$fail" 2>/dev/null || true)
    is_number "$at" || at=0
    if [ $(($(now) - at)) -lt 30 ]; then
        say "the last sign-in failed less than 30 s ago; try again shortly"
        exit 1
    fi
fi

failed() {
    now >"$fail"
    say "$*"
    exit 1
}

# One sign-in at a time: the lock is a directory (mkdir is atomic); a lock older than
# 330 s is left over from a run that died.
if ! mkdir "$lock" 2>/dev/null; then
    at=$(cat "$lock/at" 2>/dev/null || true)
    is_number "$at" || at=0
    if [ $(($(now) - at)) -gt 330 ]; then
        rm -rf "$lock"
        mkdir "$lock" 2>/dev/null || { say "another sign-in is running"; exit 1; }
    else
        i=0
        while [ $i -lt 150 ] && [ -d "$lock" ]; do
            sleep 2
            i=$((i + 1))
        done
        cached && exit 0
        say "another sign-in is running or failed"
        exit 1
    fi
fi
now >"$lock/at"
trap 'rm -rf "$lock"' EXIT
trap 'exit 1' HUP INT TERM

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        printf '%s' "$1" | sha256sum | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1
    elif command -v openssl >/dev/null 2>&1; then
        printf '%s' "$1" | openssl dgst -sha256 | sed 's/^.*= *//'
    else
        return 1
    fi
}

command -v curl >/dev/null 2>&1 || failed "curl is needed to sign in"
verifier=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
[ ${#verifier} -eq 64 ] || failed "cannot read /dev/urandom"
challenge=$(sha256 "$verifier") || failed "no sha256sum, shasum or openssl to hash with"
[ ${#challenge} -eq 64 ] || failed "hashing failed"

url="$GATEWAY/auth/cli/login?challenge=$challenge"
opener=
if [ -n "${BROWSER:-}" ]; then
    opener=$BROWSER
else
    for o in xdg-open open wslview; do
        if command -v "$o" >/dev/null 2>&1; then
            opener=$o
            break
        fi
    done
fi
if [ -n "$opener" ]; then
    "$opener" "$url" </dev/null >/dev/null 2>&1 &
    say "sign in in your browser; if none opened, visit: $url"
else
    say "open this address in a browser to sign in: $url"
fi

# Poll every 2 s for up to 300 s. The verifier goes in a header read from stdin, never on
# the command line.
i=0
while [ $i -lt 150 ]; do
    sleep 2
    i=$((i + 1))
    body=$(printf 'header = "x-conduit-cli-verifier: %s"\n' "$verifier" |
        curl -fsS --max-time 10 -K - "$GATEWAY/auth/cli/poll?challenge=$challenge" 2>/dev/null) ||
        continue
    status=$(printf '%s' "$body" | sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p')
    case $status in
    pending) ;;
    complete)
        tok=$(printf '%s' "$body" | sed -n 's/.*"token":"\([A-Za-z0-9_.-]*\)".*/\1/p')
        exp=$(printf '%s' "$body" | sed -n 's/.*"expires_at":\([0-9]*\).*/\1/p')
        [ -n "$tok" ] && is_number "$exp" || failed "the gateway's answer had no token"
        printf '%s\n%s\n' "$tok" "$exp" >"$file.tmp" && mv "$file.tmp" "$file" ||
            say "could not cache the token in $file"
        rm -f "$fail"
        printf '%s\n' "$tok"
        exit 0
        ;;
    *) failed "sign-in ended: ${status:-unexpected answer from the gateway}" ;;
    esac
done
failed "sign-in timed out after 300 s"

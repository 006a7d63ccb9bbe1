#!/bin/sh
# conduit setup for Claude Code: installs the gateway's token helper as
# ~/.claude/conduit-token.sh and points ~/.claude/settings.json at the gateway below
# (apiKeyHelper, ANTHROPIC_BASE_URL, the helper's TTL), removing the settings that would send
# traffic around it. The old settings file is backed up first. Served at /auth/setup.
set -eu
GATEWAY='__CONDUIT_GATEWAY__'
TTL_MS='__CONDUIT_TTL_MS__'
umask 077

say() { printf 'conduit setup: %s\n' "$*" >&2; }

dir="$HOME/.claude"
helper="$dir/conduit-token.sh"
settings="$dir/settings.json"
helper_cmd='sh ~/.claude/conduit-token.sh'
# Env settings that bypass the gateway (their own keys, other providers).
bypass='ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_OAUTH_TOKEN CLAUDE_CODE_USE_BEDROCK
CLAUDE_CODE_USE_VERTEX CLAUDE_CODE_USE_FOUNDRY ANTHROPIC_BEDROCK_BASE_URL
ANTHROPIC_VERTEX_BASE_URL ANTHROPIC_FOUNDRY_BASE_URL ANTHROPIC_FOUNDRY_RESOURCE
ANTHROPIC_FOUNDRY_API_KEY CLAUDE_CODE_SKIP_BEDROCK_AUTH CLAUDE_CODE_SKIP_VERTEX_AUTH
CLAUDE_CODE_SKIP_FOUNDRY_AUTH AWS_BEARER_TOKEN_BEDROCK'

command -v curl >/dev/null 2>&1 || { say "curl is needed"; exit 1; }
mkdir -p "$dir"
curl -fsS "$GATEWAY/auth/setup/token-script" -o "$helper.tmp" || {
    rm -f "$helper.tmp"
    say "could not download the token helper from $GATEWAY"
    exit 1
}
mv "$helper.tmp" "$helper"
chmod 700 "$helper"
say "installed $helper"

if [ -f "$settings" ]; then
    backup="$settings.bak.$(date +%Y%m%d%H%M%S)"
    cp -p "$settings" "$backup"
    say "backed up $settings to $backup"
fi

if command -v jq >/dev/null 2>&1; then
    drop=$(printf '%s\n' $bypass | jq -R . | jq -s -c .)
    if [ -f "$settings" ]; then src=$settings; else src=/dev/null; fi
    jq -n --arg gw "$GATEWAY" --arg ttl "$TTL_MS" --arg helper "$helper_cmd" \
        --argjson drop "$drop" --slurpfile cur "$src" '
        ($cur[0] // {}) as $s
        | $s + {apiKeyHelper: $helper,
                env: ((($s.env // {}) | with_entries(select(.key as $k
                        | ($drop | any(. == $k)) | not)))
                      + {ANTHROPIC_BASE_URL: $gw, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: $ttl})}' \
        >"$settings.tmp"
elif command -v python3 >/dev/null 2>&1; then
    CONDUIT_GW=$GATEWAY CONDUIT_TTL=$TTL_MS CONDUIT_HELPER=$helper_cmd CONDUIT_DROP=$bypass \
        CONDUIT_SETTINGS=$settings python3 -c '
import json, os
path = os.environ["CONDUIT_SETTINGS"]
s = {}
if os.path.exists(path):
    with open(path) as f:
        s = json.load(f)
env = {k: v for k, v in (s.get("env") or {}).items() if k not in os.environ["CONDUIT_DROP"].split()}
env["ANTHROPIC_BASE_URL"] = os.environ["CONDUIT_GW"]
env["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] = os.environ["CONDUIT_TTL"]
s["env"] = env
s["apiKeyHelper"] = os.environ["CONDUIT_HELPER"]
with open(path + ".tmp", "w") as f:
    json.dump(s, f, indent=2)
    f.write("\n")
'
elif [ ! -f "$settings" ]; then
    printf '{\n  "apiKeyHelper": "%s",\n  "env": {\n    "ANTHROPIC_BASE_URL": "%s",\n    "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": "%s"\n  }\n}\n' \
        "$helper_cmd" "$GATEWAY" "$TTL_MS" >"$settings.tmp"
else
    say "$settings exists and neither jq nor python3 is here to merge into it. Add by hand:"
    say "  \"apiKeyHelper\": \"$helper_cmd\","
    say "  \"env\": {\"ANTHROPIC_BASE_URL\": \"$GATEWAY\", \"CLAUDE_CODE_API_KEY_HELPER_TTL_MS\": \"$TTL_MS\"}"
    say "and remove from env: $(printf '%s ' $bypass)"
    exit 1
fi
mv "$settings.tmp" "$settings"
say "updated $settings: Claude Code now signs in through $GATEWAY"

#!/usr/bin/env bash
# A reachable Redis for the rate-limit tests (crates/conduit/tests/team_limits.rs): the one on
# 127.0.0.1:6379 when it answers PING, else a throwaway `redis-server` (Debian's redis-server
# package, installed here when missing and we are root) on 127.0.0.1 and a free port, keeping
# nothing on disk, stopped when the sourcing shell exits.
#
#   source scripts/redis.sh     ensure one and export REDIS_URL in this shell. A REDIS_URL
#                               already set (non-empty) is kept as it is. An EXIT trap already
#                               set (scripts/postgres.sh's) still runs: the stop is added to it.

_conduit_redis_ping() { # port
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

_conduit_redis_ensure() {
    if [[ -n "${REDIS_URL:-}" ]]; then
        return 0
    fi
    if _conduit_redis_ping 6379; then
        export REDIS_URL="redis://127.0.0.1:6379"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        if [[ $EUID == 0 ]] && command -v apt-get >/dev/null 2>&1; then
            echo "redis.sh: installing redis-server" >&2
            # Installed to run here only: the package's own service is not started.
            local policy=/usr/sbin/policy-rc.d made=0
            if [[ ! -e $policy ]]; then
                printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made=1
            fi
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                redis-server >&2 || true
            [[ $made == 1 ]] && rm -f "$policy"
        fi
        if ! command -v redis-server >/dev/null 2>&1; then
            echo "redis.sh: no Redis on 127.0.0.1:6379 and no redis-server to start" \
                "(apt-get install redis-server)" >&2
            return 1
        fi
    fi
    local dir port
    dir=$(mktemp -d /tmp/conduit-redis.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" --dir "$dir" >&2
    local i
    for i in $(seq 1 50); do
        _conduit_redis_ping "$port" && break
        sleep 0.1
    done
    if ! _conduit_redis_ping "$port"; then
        echo "redis.sh: the throwaway redis-server did not answer; its log:" >&2
        cat "$dir/log" >&2 || true
        return 1
    fi
    export REDIS_URL="redis://127.0.0.1:$port"
    echo "redis.sh: a throwaway Redis on $REDIS_URL (stopped at exit)" >&2
    local previous
    previous=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
    # shellcheck disable=SC2064 # expand now: the directory is this call's
    trap "kill \$(cat '$dir/pid' 2>/dev/null) 2>/dev/null; rm -rf '$dir'; ${previous:-:}" EXIT
}

_conduit_redis_ensure

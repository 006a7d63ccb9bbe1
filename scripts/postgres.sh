#!/usr/bin/env bash
# A reachable Postgres for the tests: the one on 127.0.0.1:5432 when it answers, else a
# throwaway cluster from Debian's `postgresql` package (/usr/lib/postgresql/*/bin), trust auth,
# on 127.0.0.1 and a free port, its data under a temp dir (as user `postgres` when run as root).
#
#   source scripts/postgres.sh          ensure one and export CONDUIT_TEST_PG_URL in this shell;
#                                       a cluster started here is stopped when the shell exits
#                                       (an EXIT trap; it replaces any EXIT trap already set).
#   eval "$(scripts/postgres.sh)"       the same, but a cluster started here keeps running: the
#                                       command that stops it is printed on stderr.
#   scripts/postgres.sh throwaway DIR   start an EXTRA cluster in DIR (created if missing), print
#                                       its URL (postgres://postgres@127.0.0.1:PORT/postgres) on
#                                       stdout and leave it running. For tests that stop and
#                                       restart a server (tests/e2e):
#   scripts/postgres.sh stop DIR        stop it (pg_ctl stop -m fast); the data stays;
#   scripts/postgres.sh start DIR       start it again, on the same port;
#   scripts/postgres.sh url DIR         print its URL again;
#   scripts/postgres.sh remove DIR      stop it and delete its data.
#
# CONDUIT_TEST_PG_URL already set (non-empty) is kept as it is. The cluster's files: DIR/url,
# DIR/port, DIR/log, and DIR/data (the data directory, or a link to it under /tmp when
# DIR's parents are closed to the `postgres` user).

_conduit_pg_default_url="postgres://postgres@127.0.0.1:5432/postgres"

_conduit_pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
        echo "postgres.sh: no Postgres server binaries under /usr/lib/postgresql/*/bin" \
            "(apt-get install postgresql)" >&2
        return 1
    fi
    echo "$bin"
}

# Run a Postgres server binary: as user `postgres` when we are root (initdb and the server
# refuse root), as ourselves otherwise.
_conduit_pg_as() {
    if [[ $EUID == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_conduit_pg_free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "postgres.sh: no free port in 54320-54420" >&2
    return 1
}

_conduit_pg_ready() { # host port
    local bin
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$1" -p "$2"
    elif bin=$(_conduit_pg_bin 2>/dev/null); then
        "$bin/pg_isready" -q -h "$1" -p "$2"
    else
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}

# The real data directory of the cluster in DIR.
_conduit_pg_data() {
    readlink -f "$1/data"
}

_conduit_pg_throwaway() { # DIR -> prints the URL
    local dir=$1 bin port data
    bin=$(_conduit_pg_bin) || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    if [[ -e "$dir/data" ]]; then
        echo "postgres.sh: $dir/data exists; use 'start $dir' or 'remove $dir'" >&2
        return 1
    fi
    port=$(_conduit_pg_free_port) || return 1
    if [[ $EUID == 0 ]] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
        # DIR's parents are closed to `postgres` (a 0700 temp dir of root's): keep the data
        # under /tmp and link it from DIR.
        data=$(mktemp -d /tmp/conduit-pg.XXXXXX) || return 1
        ln -s "$data" "$dir/data"
    else
        data="$dir/data"
        mkdir -p "$data"
    fi
    if [[ $EUID == 0 ]]; then
        chown postgres: "$data" && chmod 0700 "$data" || return 1
        touch "$dir/log" && chown postgres: "$dir/log" || return 1
        if ! runuser -u postgres -- test -w "$dir/log" 2>/dev/null; then
            ln -sf "$data/server.log" "$dir/log" 2>/dev/null || true
        fi
    fi
    _conduit_pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust --no-locale -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "postgres.sh: initdb failed, see $dir/initdb.log" >&2
        return 1
    }
    cat >>"$data/postgresql.conf" <<EOF
# conduit throwaway test cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
fsync = off
synchronous_commit = off
max_connections = 300
EOF
    echo "$port" >"$dir/port"
    echo "postgres://postgres@127.0.0.1:$port/postgres" >"$dir/url"
    _conduit_pg_start "$dir" || return 1
    cat "$dir/url"
}

_conduit_pg_logfile() { # DIR -> a log path the server user can write
    if [[ $EUID == 0 ]] && ! runuser -u postgres -- test -w "$1/log" 2>/dev/null; then
        echo "$(_conduit_pg_data "$1")/server.log"
    else
        echo "$1/log"
    fi
}

_conduit_pg_start() { # DIR
    local bin
    bin=$(_conduit_pg_bin) || return 1
    _conduit_pg_as "$bin/pg_ctl" -D "$(_conduit_pg_data "$1")" -l "$(_conduit_pg_logfile "$1")" \
        -w -t 30 start >/dev/null || {
        echo "postgres.sh: the cluster in $1 did not start, see $(_conduit_pg_logfile "$1")" >&2
        return 1
    }
}

_conduit_pg_stop() { # DIR
    local bin
    bin=$(_conduit_pg_bin) || return 1
    _conduit_pg_as "$bin/pg_ctl" -D "$(_conduit_pg_data "$1")" -m fast -w -t 30 stop >/dev/null
}

_conduit_pg_remove() { # DIR
    local data
    data=$(_conduit_pg_data "$1")
    _conduit_pg_stop "$1" 2>/dev/null || true
    rm -rf -- "$data"
    rm -f -- "$1/data"
}

# Ensure a Postgres; sets CONDUIT_TEST_PG_URL, and _conduit_pg_started to the cluster dir when
# it started one.
_conduit_pg_ensure() {
    _conduit_pg_started=""
    if [[ -n "${CONDUIT_TEST_PG_URL:-}" ]]; then
        return 0
    fi
    if _conduit_pg_ready 127.0.0.1 5432; then
        CONDUIT_TEST_PG_URL=$_conduit_pg_default_url
        return 0
    fi
    local dir
    dir=$(mktemp -d /tmp/conduit-pg-run.XXXXXX) || return 1
    chmod 0755 "$dir"
    echo "postgres.sh: nothing answers on 127.0.0.1:5432; starting a throwaway cluster in $dir" >&2
    CONDUIT_TEST_PG_URL=$(_conduit_pg_throwaway "$dir") || return 1
    _conduit_pg_started=$dir
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: export into the caller's shell; stop a cluster we started when it exits.
    if _conduit_pg_ensure; then
        export CONDUIT_TEST_PG_URL
        if [[ -n "$_conduit_pg_started" ]]; then
            # shellcheck disable=SC2064
            trap "_conduit_pg_remove '$_conduit_pg_started'; rm -rf -- '$_conduit_pg_started'" EXIT
        fi
        echo "postgres.sh: CONDUIT_TEST_PG_URL=$CONDUIT_TEST_PG_URL" >&2
    else
        echo "postgres.sh: no Postgres for the tests" >&2
        return 1
    fi
else
    set -euo pipefail
    case "${1:-}" in
    "")
        _conduit_pg_ensure
        if [[ -n "$_conduit_pg_started" ]]; then
            echo "postgres.sh: stop it with: $0 remove $_conduit_pg_started" >&2
        fi
        printf 'export CONDUIT_TEST_PG_URL=%q\n' "$CONDUIT_TEST_PG_URL"
        ;;
    throwaway) _conduit_pg_throwaway "${2:?usage: $0 throwaway DIR}" ;;
    start) _conduit_pg_start "${2:?usage: $0 start DIR}" ;;
    stop) _conduit_pg_stop "${2:?usage: $0 stop DIR}" ;;
    url) cat "${2:?usage: $0 url DIR}/url" ;;
    remove) _conduit_pg_remove "${2:?usage: $0 remove DIR}" ;;
    *)
        sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
fi

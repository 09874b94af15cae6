#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for migru-server's tests and prints its URL on stdout.
#
# Usage: server/scripts/start-postgres.sh [DATA_DIR] [PORT]
#   export MIGRU_TEST_POSTGRES_URL="$(server/scripts/start-postgres.sh)"
# Installs the Debian `postgresql` package when no server binaries are found (needs root).
# Runs the cluster as the `postgres` user when started as root (initdb refuses root).
set -euo pipefail

data_dir="${1:-/tmp/migru-pg}"
port="${2:-55432}"
user=migru
db=migru_test

find_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bindir="$(find_bindir)"
if [[ -z "$bindir" ]]; then
    echo "installing postgresql with apt-get" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    bindir="$(find_bindir)"
fi

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

mkdir -p "$data_dir"
if [[ "$(id -u)" == 0 ]]; then chown postgres "$data_dir"; fi

if [[ ! -f "$data_dir/PG_VERSION" ]]; then
    as_owner "$bindir/initdb" -D "$data_dir" -U postgres --auth=trust -E UTF8 >&2
fi

if ! as_owner "$bindir/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w \
        -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >&2
fi

psql_admin() {
    "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
}
if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" ]]; then
    psql_admin -c "CREATE ROLE $user LOGIN PASSWORD '$user'" >&2
fi
if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
    psql_admin -c "CREATE DATABASE $db OWNER $user" >&2
fi

echo "postgres://$user:$user@127.0.0.1:$port/$db"

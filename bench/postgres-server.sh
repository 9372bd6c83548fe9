#!/usr/bin/env bash
# A local PostgreSQL 15 for the store benchmark, durable like a real one
# (fsync and synchronous_commit on; unlike the tests' throwaway server):
#   bash bench/postgres-server.sh start DIR PORT   -> prints the store URL
#   bash bench/postgres-server.sh stop DIR
# As root it runs the server as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail
cmd="${1:?start|stop}"; dir="${2:?a directory}"
bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/pg_ctl" ]; then
  echo "bench/postgres-server.sh: no $bin/pg_ctl: install postgresql-15 (scripts/install-deps.sh)" >&2; exit 1
fi
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    port="${3:?a port}"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -d "$dir/data" ]; then
      as_server "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log"
    fi
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=50" \
      start >/dev/null
    PGOPTIONS="-c client_min_messages=warning" as_server "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc \
      "DROP DATABASE IF EXISTS annals_bench" postgres
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop) as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac

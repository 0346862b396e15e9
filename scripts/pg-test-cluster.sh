#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb into a temporary folder, listening on its own
# port on 127.0.0.1 only, password authentication, fsync off. Nothing of the system's own
# clusters is used or touched. Needs Debian's postgresql package (scripts/install-deps.sh).
#
#   scripts/pg-test-cluster.sh start [DIR]   start (or find running) and print its URL on stdout
#   scripts/pg-test-cluster.sh url [DIR]     print the URL of the running cluster
#   scripts/pg-test-cluster.sh stop [DIR]    stop it and delete DIR
#   scripts/pg-test-cluster.sh restart [DIR] restart the server (every connection drops), same port
#   scripts/pg-test-cluster.sh run CMD...    start a fresh cluster, run CMD with
#                                            CAMPAIGND_TEST_PG_URL (and CAMPAIGND_TEST_PG_DIR) set, stop
#                                            and clean up; CMD's exit code
#
# DIR defaults to $CAMPAIGND_PG_DIR or /tmp/campaignd-pg-test. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

is_running() { [ -f "$1/data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$1/data" status >/dev/null 2>&1; }

start() {
  local dir=$1
  if is_running "$dir"; then
    cat "$dir/url"
    return 0
  fi
  [ -e "$dir" ] && rm -rf "$dir"
  mkdir -p "$dir"
  chmod 700 "$dir"
  local port password
  port=${CAMPAIGND_PG_PORT:-$(free_port)}
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
  printf '%s\n' "$password" >"$dir/pwfile"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U campaignd --pwfile="$dir/pwfile" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pwfile"
  # Loopback only, its own socket folder, durability off: this cluster holds nothing of value.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" start >/dev/null ||
    { cat "$dir/server.log" >&2; die "server did not start"; }
  PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U campaignd campaignd ||
    die "createdb failed"
  local url="postgresql://campaignd:${password}@127.0.0.1:${port}/campaignd"
  printf '%s\n' "$url" >"$dir/url"
  chmod 600 "$dir/url"
  echo "$url"
}

stop() {
  local dir=$1
  if [ -d "$dir/data" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: $0 start|url|stop|restart [DIR] | run CMD..."
shift
case "$cmd" in
  start) start "${1:-${CAMPAIGND_PG_DIR:-/tmp/campaignd-pg-test}}" ;;
  url)
    dir=${1:-${CAMPAIGND_PG_DIR:-/tmp/campaignd-pg-test}}
    is_running "$dir" || die "no cluster running in $dir"
    cat "$dir/url"
    ;;
  stop) stop "${1:-${CAMPAIGND_PG_DIR:-/tmp/campaignd-pg-test}}" ;;
  restart)
    dir=${1:-${CAMPAIGND_PG_DIR:-/tmp/campaignd-pg-test}}
    is_running "$dir" || die "no cluster running in $dir"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null ||
      { cat "$dir/server.log" >&2; die "server did not restart"; }
    ;;
  run)
    [ $# -gt 0 ] || die "run needs a command"
    dir=$(mktemp -d /tmp/campaignd-pg-run.XXXXXX)
    trap 'stop "$dir"' EXIT
    CAMPAIGND_TEST_PG_URL=$(start "$dir")
    CAMPAIGND_TEST_PG_DIR=$dir
    export CAMPAIGND_TEST_PG_URL CAMPAIGND_TEST_PG_DIR
    set +e
    "$@"
    status=$?
    set -e
    exit $status
    ;;
  *) die "unknown command '$cmd' (start, url, stop, restart, run)" ;;
esac

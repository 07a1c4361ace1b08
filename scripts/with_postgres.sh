#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster, then stop and delete the cluster.
#
#   scripts/with_postgres.sh COMMAND [ARGS...]
#
# initdb + pg_ctl in a temporary folder, listening on 127.0.0.1 and a free port only, trust
# authentication for the local superuser `postgres`. The command runs with
#   VERTEBRO_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
# in its environment. initdb refuses to run as root, so as root the server runs as the
# `postgres` OS user. The cluster is stopped and deleted on exit, also on failure or Ctrl-C.
# PG_SERVER_OPTS adds server options (default: durability off, for fast tests; the
# benchmark passes "" to measure a normally configured server).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/"$name"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  echo "with_postgres.sh: $name not found (install postgresql)" >&2
  exit 127
}
INITDB=$(find_bin initdb)
PG_CTL=$(find_bin pg_ctl)
PYTHON=${PYTHON:-python3}
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vertebro-pg.XXXXXX")
OPTS=${PG_SERVER_OPTS-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cleanup() {
  local rc=$?
  as_pg "$PG_CTL" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

if [ "$(id -u)" = 0 ]; then
  # The server package normally creates this user; a bare machine may lack it.
  id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home postgres
  chown postgres: "$WORK"
fi
as_pg "$INITDB" -D "$WORK/data" -U postgres -A trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 1; }
as_pg "$PG_CTL" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 start \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200 $OPTS" >/dev/null \
  || { cat "$WORK/server.log" >&2; exit 1; }

export VERTEBRO_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "with_postgres.sh: PostgreSQL on 127.0.0.1:$PORT ($WORK)" >&2
"$@"

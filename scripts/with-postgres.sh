#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster from the image's binaries on a free loopback port,
# exports PG_URL, runs "$@", then stops the cluster and removes its files (also on failure).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ -n "${PG_URL:-}" ]; then exec "$@"; fi
if [ ! -x "$PGBIN/initdb" ]; then
  echo "with-postgres: $PGBIN/initdb not found; installing postgresql-15 from Debian" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >&2
fi
dir=$(mktemp -d /tmp/pipecd-pg.XXXXXX)
port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
stop() {
  as_pg "timeout 30 $PGBIN/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_pg "timeout 60 $PGBIN/initdb -D $dir/data -A trust -U postgres >$dir/initdb.log 2>&1" || { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "timeout 60 $PGBIN/pg_ctl -D $dir/data -l $dir/log -w -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start >/dev/null" || { cat "$dir/log" >&2; exit 1; }
export PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL ready at $PG_URL" >&2
set +e
"$@"
rc=$?
exit $rc

#!/bin/sh
# with_pg.sh CMD ARGS... — runs CMD with DLE_PG_URI pointing at a throw-away
# PostgreSQL server: Debian's initdb/pg_ctl, a temporary data directory under /tmp,
# loopback TCP on a free port, trust authentication, stopped and deleted at exit.
# PostgreSQL refuses to run as root, so as root the server runs as 'nobody'.
# Exit 77 (skipped) only when the server binaries are not installed.
set -eu

bindir=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir="$d"
done
if [ -z "$bindir" ]; then
  echo "SKIP: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin" >&2
  exit 77
fi

tmp=$(mktemp -d /tmp/dle-pg.XXXXXX)
as_user=""
if [ "$(id -u)" = 0 ]; then
  if ! getent passwd nobody >/dev/null; then
    echo "with_pg.sh: running as root and no 'nobody' user to run PostgreSQL as" >&2
    exit 1
  fi
  chown nobody "$tmp"
  as_user="runuser -u nobody --"
fi
chmod 700 "$tmp"

cleanup() {
  (cd "$tmp" && $as_user "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1) || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cd "$tmp"
if ! $as_user "$bindir/initdb" -D "$tmp/data" -U dle --auth=trust -E UTF8 --no-sync \
    >"$tmp/initdb.log" 2>&1; then
  cat "$tmp/initdb.log" >&2
  echo "with_pg.sh: initdb failed" >&2
  exit 1
fi

started=""
i=0
while [ $i -lt 20 ]; do
  port=$(( 20000 + ( $$ * 131 + i * 7919 + $(od -An -N2 -tu2 /dev/urandom) ) % 40000 ))
  if $as_user "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c shared_buffers=16MB -c max_connections=${DLE_PG_MAX_CONNECTIONS:-40}" \
      start >/dev/null 2>&1; then
    started=1
    break
  fi
  i=$((i + 1))
done
if [ -z "$started" ]; then
  cat "$tmp/server.log" >&2 || true
  echo "with_pg.sh: could not start PostgreSQL" >&2
  exit 1
fi
cd - >/dev/null

# If this script is killed outright (a test timeout's SIGKILL skips the trap), a
# watchdog still stops the server and removes its directory.
parent=$$
( while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  cd /tmp && $as_user "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$tmp" ) </dev/null >/dev/null 2>&1 &

DLE_PG_URI="postgresql://dle@127.0.0.1:$port/postgres"
export DLE_PG_URI
set +e
"$@"
rc=$?
exit $rc

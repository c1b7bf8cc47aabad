# Sourced by .ci/run (or by hand: `source .ci/postgres.sh && start_test_postgres`): a throwaway PostgreSQL
# cluster for the reader-study tests. Debian's `postgresql` package, a fresh data folder, run as an
# unprivileged user (`postgres` when we are root: PostgreSQL refuses to run as root), reachable only on a
# Unix socket in that folder (no TCP port to collide with), trust auth for that socket alone.
# Exports SYNTHMED_TEST_POSTGRES_URL; stop_test_postgres stops the server and deletes everything.

install_postgres() {
  if ! _pg_bin >/dev/null && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "warning: could not install postgresql; the PostgreSQL tests will be skipped"
  fi
}

_pg_bin() {  # Debian keeps the server binaries off PATH, in /usr/lib/postgresql/VERSION/bin
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  command -v pg_ctl >/dev/null 2>&1 && dirname "$(command -v pg_ctl)"
}

_as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
  local bin
  bin=$(_pg_bin) || { echo "warning: no PostgreSQL server binaries; the PostgreSQL tests will be skipped"; return 0; }
  TEST_PG_DIR=$(mktemp -d /tmp/synthmed-pg.XXXXXX)
  chmod 755 "$TEST_PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$TEST_PG_DIR"
  _as_pg_user "$bin/initdb" -D "$TEST_PG_DIR/data" -U synthmed --auth=trust -E UTF8 --no-sync >/dev/null
  _as_pg_user "$bin/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses='' -k $TEST_PG_DIR -c fsync=off -c max_connections=300" >/dev/null
  _as_pg_user "$bin/createdb" -h "$TEST_PG_DIR" -U synthmed synthmed_test
  export TEST_PG_BIN="$bin" TEST_PG_DIR
  export SYNTHMED_TEST_POSTGRES_URL="postgresql+psycopg://synthmed@/synthmed_test?host=$TEST_PG_DIR"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests: $SYNTHMED_TEST_POSTGRES_URL"
}

stop_test_postgres() {
  [ -n "${TEST_PG_DIR:-}" ] || return 0
  _as_pg_user "$TEST_PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TEST_PG_DIR"
  unset TEST_PG_DIR SYNTHMED_TEST_POSTGRES_URL
}

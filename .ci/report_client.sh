#!/usr/bin/env bash
# A real SQL client as a report reader: psql, signed in as a PostgreSQL role that
# `keepsake reporting grant` opened the reporting views to, reads exactly the live rows there
# and is refused the base tables, `settings`, the archive and every write; after
# `keepsake reporting revoke` it is refused the views too. Then a Python client (psycopg 3,
# .ci/report_client.py), signed in as the same role, checks the views against what a running
# `keepsake serve` answers an admin over HTTP (counts and ids), and the same refusals, before
# and after the revoke. A database, a role and a server of its own, dropped and stopped at the
# end, whatever happened.
#
#   bash .ci/report_client.sh [path/to/keepsake]   (default: target/debug/keepsake)
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, as .ci/run's PostgreSQL
# part) and python3; installs Debian's postgresql-client when psql is missing and psycopg
# (pip, `psycopg[binary]`) when python3 cannot import it. Prints `ok: …` per check;
# the first failure prints `FAIL: …` and exits non-zero.
set -euo pipefail
binary="$(realpath "${1:-target/debug/keepsake}")"
host="${REPORT_PG_HOST:-127.0.0.1:5432}"
admin_url="postgres://postgres@$host/postgres"
database="keepsake_report_client_$$"
role="keepsake_report_reader_$$"
db_url="postgres://postgres@$host/$database"
role_url="postgres://$role@$host/$database"

if ! command -v psql >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi
command -v psql >/dev/null || { echo "FAIL: psql is missing and could not be installed" >&2; exit 1; }
if ! python3 -c 'import psycopg' >/dev/null 2>&1; then
  python3 -m pip install --quiet 'psycopg[binary]' >/dev/null 2>&1 || true
fi
python3 -c 'import psycopg' >/dev/null 2>&1 \
  || { echo "FAIL: python3 cannot import psycopg and pip could not install it" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/keepsake-report-client.XXXXXX")"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    # Bash may have reaped it already (and then warns on stderr, past a plain 2>/dev/null).
    { wait "$server_pid"; } 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  psql "$db_url" -qc "DROP OWNED BY $role" >/dev/null 2>&1 || true
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$admin_url" -qc "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
ks() { DATABASE_URL="$db_url" KEEPSAKE_STORAGE="file://$work/blobs" "$binary" "$@"; }
as_owner() { psql "$db_url" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
as_reader() { psql "$role_url" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
refused() {
  if as_reader "$1" >"$work/out" 2>"$work/err"; then
    fail "$role ran: $1 ($(cat "$work/out"))"
  fi
  grep -q "permission denied" "$work/err" || fail "$1 failed, but not as refused: $(cat "$work/err")"
  ok "refused: $1"
}

psql "$admin_url" -X -qc "CREATE DATABASE $database" -c "CREATE ROLE $role LOGIN"
ks migrate >/dev/null 2>&1 || fail "keepsake migrate"
ks seed --users 200 --attachments-per-user 3 --deleted-fraction 0.3 >/dev/null 2>&1 || fail "keepsake seed"
deleted=$(as_owner "SELECT COUNT(*) FROM users WHERE deleted_at IS NOT NULL")
[ "$deleted" -gt 0 ] || fail "the seed deleted no user"

refused "SELECT COUNT(*) FROM reporting.users"
ks reporting grant "$role" 2>/dev/null | tee "$work/granted"
grep -qx "granted USAGE on schema reporting to $role" "$work/granted" || fail "grant said: $(cat "$work/granted")"
again=$(ks reporting grant "$role" 2>"$work/err") || fail "a second grant: $(cat "$work/err")"
grep -qx "$role already had USAGE on schema reporting" <<<"$again" \
  || fail "a second grant is not idempotent"
ok "granted, twice"

# The views hold exactly the live rows, as the owner counts them in the base tables.
[ "$(as_reader "SELECT string_agg(id::text, ',' ORDER BY id) FROM reporting.users")" = \
  "$(as_owner "SELECT string_agg(id::text, ',' ORDER BY id) FROM users WHERE deleted_at IS NULL")" ] \
  || fail "reporting.users is not the live users"
ok "reporting.users holds the $(as_reader "SELECT COUNT(*) FROM reporting.users") live users, none of the $deleted deleted"
[ "$(as_reader "SELECT string_agg(id::text, ',' ORDER BY id) FROM reporting.attachments")" = \
  "$(as_owner "SELECT string_agg(a.id::text, ',' ORDER BY a.id) FROM attachments a JOIN users u ON u.id = a.owner_id WHERE a.deleted_at IS NULL AND u.deleted_at IS NULL")" ] \
  || fail "reporting.attachments is not the live attachments"
ok "reporting.attachments holds the live attachments"
[ "$(as_reader "SELECT COUNT(*) FROM reporting.deletions")" = "$(as_owner "SELECT COUNT(*) FROM deletions")" ] \
  || fail "reporting.deletions is not the log"
ok "reporting.deletions holds the log"

for table in users attachments deletions settings archive seaql_migrations; do
  refused "SELECT * FROM $table LIMIT 1"
done
refused "UPDATE reporting.users SET name = 'x'"
refused "DELETE FROM reporting.deletions"
refused "UPDATE users SET deleted_at = NULL"
refused "CREATE TABLE reporting.mine (x int)"
refused "CREATE TABLE public.mine (x int)"

ks check >/dev/null 2>&1 || fail "keepsake check with a granted reader: $(ks check 2>&1)"
ok "keepsake check passes"

# The Python client compares the views with the API: an admin of its own (so the server's first
# start creates none), a server on a free port against this database, a token for the admin.
admin_email="report-admin@example.test"
ks user add --email "$admin_email" --name "Report admin" --role admin >/dev/null 2>&1 \
  || fail "keepsake user add: $(ks user add --email "$admin_email" --name "Report admin" --role admin 2>&1)"
# Both files exist before the server starts: the background job opens them on its own time.
: >"$work/serve.out"
: >"$work/serve.log"
DATABASE_URL="$db_url" KEEPSAKE_STORAGE="file://$work/blobs" KEEPSAKE_LOG_FORMAT=text \
  "$binary" serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
address=""
for _ in $(seq 1 300); do
  # The whole log into a variable, then sed: no pipe for an early-closing reader to break.
  log=$(cat "$work/serve.log")
  address=$(sed -n 's/.*Keepsake is serving.*address=\(127\.0\.0\.1:[0-9][0-9]*\).*/\1/p' <<<"$log")
  address=${address%%$'\n'*}
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "keepsake serve exited: $log"
  sleep 0.2
done
[ -n "$address" ] || fail "keepsake serve did not say where it listens within 60 s: $(cat "$work/serve.log")"
ok "keepsake serve listens on $address"
token=$(ks token --email "$admin_email" 2>/dev/null) || fail "keepsake token --email $admin_email"
token=${token##*$'\n'}
KEEPSAKE_TOKEN="$token" python3 "$(dirname "$0")/report_client.py" granted "$role_url" "$db_url" "http://$address" \
  || fail "the Python client (granted)"
stop_server

# Read the whole answer first: `grep -q` stops at the first match, and under pipefail the
# writer's broken pipe would fail the check that just passed.
revoked=$(ks reporting revoke "$role" 2>"$work/err") || fail "keepsake reporting revoke: $(cat "$work/err")"
grep -qx "revoked USAGE on schema reporting from $role" <<<"$revoked" \
  || fail "revoke said otherwise: $revoked"
refused "SELECT COUNT(*) FROM reporting.users"
python3 "$(dirname "$0")/report_client.py" revoked "$role_url" "$db_url" \
  || fail "the Python client (revoked)"
echo "report client: every check passed"

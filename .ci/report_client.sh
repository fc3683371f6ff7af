#!/usr/bin/env bash
# A real SQL client as a report reader: psql, signed in as a PostgreSQL role that
# `keepsake reporting grant` opened the reporting views to, reads exactly the live rows there
# and is refused the base tables, `settings`, the archive and every write; after
# `keepsake reporting revoke` it is refused the views too. A database and a role of its own,
# both dropped at the end, whatever happened.
#
#   bash .ci/report_client.sh [path/to/keepsake]   (default: target/debug/keepsake)
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, as .ci/run's PostgreSQL
# part); installs Debian's postgresql-client when psql is missing. Prints `ok: …` per check;
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

work="$(mktemp -d "${TMPDIR:-/tmp}/keepsake-report-client.XXXXXX")"
cleanup() {
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
again=$(ks reporting grant "$role" 2>/dev/null)
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

# Read the whole answer first: `grep -q` stops at the first match, and under pipefail the
# writer's broken pipe would fail the check that just passed.
revoked=$(ks reporting revoke "$role" 2>/dev/null)
grep -qx "revoked USAGE on schema reporting from $role" <<<"$revoked" \
  || fail "revoke said otherwise: $revoked"
refused "SELECT COUNT(*) FROM reporting.users"
echo "report client: every check passed"

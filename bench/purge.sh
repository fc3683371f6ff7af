#!/usr/bin/env bash
# How fast a purge archives and erases: a benchmark, never a test. Seeds one PostgreSQL
# database (USERS users x 10 attachments, 20% of the users deleted with their attachments, and
# one live user's attachment in ten deleted on its own), then, ROUNDS times, copies it twice and
# on each copy runs one of:
#
#   keepsake   `keepsake purge --older-than 0s` (claimed batches, each a transaction, locks,
#              events, blobs after each commit: everything the product promises);
#   set SQL    the same purge written by hand as set-based SQL in one transaction: INSERT …
#              SELECT row_to_json(…) into the archive, DELETE, mark the deletions purged. No
#              claims, no events, no batches: the limit, not a rival.
#
# Prints rows archived, seconds and rows/s for each, and Keepsake's share of the limit, twice:
# for the whole command, and for the purge alone (the command's time less that of the same
# command with nothing old enough to purge: start-up, connecting, the migrations check).
#
#   bash bench/purge.sh BINARY [USERS] [ROUNDS]
set -euo pipefail
bin=${1:?usage: bench/purge.sh BINARY [USERS] [ROUNDS]}
users=${2:-10000}
rounds=${3:-2}
export PGOPTIONS="-c client_min_messages=warning"
pg="psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q"
log=$(mktemp)
seed=keepsake_purge_seed
run=keepsake_purge_run
cleanup() { rm -f "$log"; $pg -c "DROP DATABASE IF EXISTS $run" -c "DROP DATABASE IF EXISTS $seed" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== seeding $users users x 10 attachments"
$pg -c "DROP DATABASE IF EXISTS $run" -c "DROP DATABASE IF EXISTS $seed" -c "CREATE DATABASE $seed" >/dev/null
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$seed "$bin" seed --users "$users" \
  --attachments-per-user 10 --deleted-fraction 0.2 >"$log" 2>&1 || { cat "$log"; exit 1; }
# Single deletions too, not only cascades: one live user's attachment in ten, each its own
# deletion, as deleteAttachment would log it.
$pg -d $seed >/dev/null <<'SQL'
WITH picked AS (
  SELECT a.id FROM attachments a JOIN users u ON u.id = a.owner_id
  WHERE u.deleted_at IS NULL AND a.deleted_at IS NULL AND a.id % 10 = 0
), logged AS (
  INSERT INTO deletions (entity, entity_id, actor_id, reason, deleted_at, cascade_count)
  SELECT 'attachment', id, NULL, 'bench', now() - interval '1 day', 0 FROM picked
  RETURNING id, entity_id
)
UPDATE attachments a SET deleted_at = now() - interval '1 day', deletion_id = logged.id
FROM logged WHERE a.id = logged.entity_id;
SQL
$pg -d $seed -c "VACUUM ANALYZE" >/dev/null
due=$($pg -d $seed -Atc "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NOT NULL)
  + (SELECT count(*) FROM attachments WHERE deleted_at IS NOT NULL)")
echo "rows due: $due"

fresh() { $pg -c "DROP DATABASE IF EXISTS $run" -c "CREATE DATABASE $run TEMPLATE $seed" >/dev/null; }
now_s() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%d rows in %.2f s: %.0f rows/s", n, s, n / s }'; }

set_sql() {
  $pg -d $run >/dev/null <<'SQL'
BEGIN;
INSERT INTO archive (entity, entity_id, row, deletion_id, deleted_at, archived_at)
  SELECT 'attachment', a.id, row_to_json(a)::text, a.deletion_id, a.deleted_at, now()
  FROM attachments a WHERE a.deleted_at IS NOT NULL;
DELETE FROM attachments WHERE deleted_at IS NOT NULL;
INSERT INTO archive (entity, entity_id, row, deletion_id, deleted_at, archived_at)
  SELECT 'user', u.id, row_to_json(u)::text, u.deletion_id, u.deleted_at, now()
  FROM users u WHERE u.deleted_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM attachments c WHERE c.owner_id = u.id);
DELETE FROM users u WHERE u.deleted_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM attachments c WHERE c.owner_id = u.id);
UPDATE deletions SET purged_at = now() WHERE purged_at IS NULL AND restored_at IS NULL;
COMMIT;
SQL
}

fresh
startup=9
for _ in 1 2 3; do
  t0=$(now_s)
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/$run "$bin" purge --older-than 100000d >"$log" 2>&1 || { cat "$log"; exit 1; }
  t1=$(now_s)
  startup=$(awk -v a="$t0" -v b="$t1" -v m="$startup" 'BEGIN { s = b - a; print (s < m ? s : m) }')
done
echo "keepsake purge with nothing to purge (start-up): $startup s"

declare -a ks=() kp=() sq=()
for round in $(seq "$rounds"); do
  fresh
  t0=$(now_s)
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/$run "$bin" purge --older-than 0s >"$log" 2>&1 || { cat "$log"; exit 1; }
  t1=$(now_s)
  n=$($pg -d $run -Atc "SELECT count(*) FROM archive")
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  echo "round $round keepsake: $(rate "$n" "$s")"
  ks+=("$(awk -v n="$n" -v s="$s" 'BEGIN { print n / s }')")
  kp+=("$(awk -v n="$n" -v s="$s" -v u="$startup" 'BEGIN { print n / (s - u) }')")

  fresh
  t0=$(now_s)
  set_sql
  t1=$(now_s)
  n=$($pg -d $run -Atc "SELECT count(*) FROM archive")
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  echo "round $round set SQL:  $(rate "$n" "$s")"
  sq+=("$(awk -v n="$n" -v s="$s" 'BEGIN { print n / s }')")
done
best() { printf '%s\n' "$@" | sort -g | tail -1; }
k=$(best "${ks[@]}"); p=$(best "${kp[@]}"); q=$(best "${sq[@]}")
awk -v k="$k" -v p="$p" -v q="$q" 'BEGIN {
  printf "best: set SQL %.0f rows/s; keepsake %.0f rows/s (%.0f%% of set SQL) as a command, %.0f rows/s (%.0f%%) less start-up\n", q, k, 100 * k / q, p, 100 * p / q }'

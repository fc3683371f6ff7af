#!/usr/bin/env bash
# What KEEPSAKE_PG_POOLER=transaction costs (docs/several-servers.md): the yardstick page
# (bench/yardstick.sh: 10,000 users x 10 attachments, 20% deleted; `users(first: 50) { nodes
# { id email attachments { nodes { id filename sizeBytes } } } }` as an admin, 16 clients for
# 10 s with wrk) served straight from PostgreSQL, through PgBouncer in session mode (the
# pooler's own hop, no setting), and through PgBouncer in transaction mode with the setting;
# two rounds, alternating. Needs wrk, pgbouncer and a
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
#
#   bash bench/pooler.sh [path/to/keepsake]   (default: a fresh release build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then bin=$(realpath "$1"); else cargo build --release -q; bin=$PWD/target/release/keepsake; fi
export PATH="$PATH:/usr/sbin"
db=keepsake_pooler_bench
direct="postgres://postgres@127.0.0.1:5432/$db"
work=$(mktemp -d /tmp/keepsake-pooler-bench.XXXXXX)
chmod 755 "$work"
port=8766
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
pgb_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
DATABASE_URL=$direct "$bin" seed --users 10000 --attachments-per-user 10 --deleted-fraction 0.2 >/dev/null 2>&1
psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM ANALYZE"

mkdir "$work/pgbouncer"
echo '"postgres" ""' >"$work/pgbouncer/userlist.txt"
cat >"$work/pgbouncer/pgbouncer.ini" <<INI
[databases]
$db = host=127.0.0.1 port=5432 dbname=$db user=postgres
session = host=127.0.0.1 port=5432 dbname=$db user=postgres pool_mode=session
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
auth_type = trust
auth_file = $work/pgbouncer/userlist.txt
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
default_pool_size = 10
max_client_conn = 100
logfile = $work/pgbouncer/pgbouncer.log
INI
as_user=()
if [ "$(id -u)" = 0 ]; then as_user=(-u nobody); chown -R nobody "$work/pgbouncer"; fi
pgbouncer -q "${as_user[@]}" "$work/pgbouncer/pgbouncer.ini" &
pids+=($!)
sleep 1

run() { # label, then environment assignments
  local label=$1; shift
  env "$@" KEEPSAKE_JWT_SECRET=pooler-bench-secret-0123456789 RUST_LOG=warn \
    "$bin" serve --bind "127.0.0.1:$port" >"$work/out" 2>&1 &
  local server=$!
  pids+=("$server")
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  local token
  token=$(DATABASE_URL=$direct KEEPSAKE_JWT_SECRET=pooler-bench-secret-0123456789 "$bin" token --email admin@localhost 2>/dev/null | tail -1)
  cat >"$work/page.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"query":"{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }"}'
LUA
  printf '%-42s ' "$label"
  wrk -t2 -c16 -d10s -s "$work/page.lua" "http://127.0.0.1:$port/graphql" | awk '/Requests\/sec/ {rps=$2} /Latency/ {lat=$2} /Non-2xx/ {bad=$NF} END {printf "%s req/s, mean latency %s%s\n", rps, lat, (bad ? ", NON-2XX " bad : "")}'
  kill "$server"; wait "$server" 2>/dev/null || true
}

for round in 1 2; do
  run "direct" DATABASE_URL="$direct"
  run "PgBouncer, session mode" DATABASE_URL="postgres://postgres@127.0.0.1:$pgb_port/session"
  run "PgBouncer, KEEPSAKE_PG_POOLER=transaction" DATABASE_URL="postgres://postgres@127.0.0.1:$pgb_port/$db" \
    KEEPSAKE_PG_POOLER=transaction KEEPSAKE_DIRECT_DATABASE_URL="$direct"
done
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null

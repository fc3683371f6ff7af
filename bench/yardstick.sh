#!/usr/bin/env bash
# The yardstick (docs/DESIGN.md#performance-targets), as a benchmark (never a test): PostgreSQL, 10,000 users x 10
# attachments, 20% deleted; `users(first: 50) { nodes { id email attachments { nodes { id
# filename sizeBytes } } } }` as an admin, 16 clients for 10 s with wrk; then the same two SQL
# statements straight through pgbench for comparison. Needs wrk and pgbench (Debian: wrk,
# postgresql-client) and a PostgreSQL on 127.0.0.1:5432.
#
#   bash bench/yardstick.sh [deleted-multiplier]   # e.g. 10 for 10x more deleted than live rows
set -euo pipefail
cd "$(dirname "$0")/.."
multiplier=${1:-0}
db=keepsake_yardstick
url="postgres://postgres@127.0.0.1:5432/$db"
port=8765
cargo build --release -q
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
if [ "$multiplier" = 0 ]; then
  DATABASE_URL=$url target/release/keepsake seed --users 10000 --attachments-per-user 10 --deleted-fraction 0.2
else
  DATABASE_URL=$url target/release/keepsake seed --users 8000 --attachments-per-user 10 --deleted-fraction 0 --deleted-multiplier "$multiplier"
fi
psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM ANALYZE"
out=$(mktemp)
DATABASE_URL=$url RUST_LOG=warn target/release/keepsake serve --bind "127.0.0.1:$port" >"$out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out" /tmp/yardstick.lua /tmp/yardstick.sql' EXIT
for _ in $(seq 50); do grep -q "playground:" "$out" && break; sleep 0.2; done
token=$(awk '/token:/ {print $2}' "$out")
cat >/tmp/yardstick.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"query":"{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }"}'
LUA
echo "== Keepsake (GraphQL over HTTP) =="
wrk -t2 -c16 -d10s -s /tmp/yardstick.lua "http://127.0.0.1:$port/graphql"
ids=$(psql -h 127.0.0.1 -U postgres -d "$db" -Atc \
  "SELECT string_agg(id::text, ',') FROM (SELECT id FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT 50) t")
cat >/tmp/yardstick.sql <<SQL
SELECT id, email, name, role, created_at, updated_at, deleted_at, deleted_by, deletion_id FROM users WHERE deleted_at IS NULL ORDER BY id LIMIT 51;
SELECT id, owner_id, filename, content_type, size_bytes, created_at, deleted_at, deleted_by, deletion_id FROM attachments WHERE deleted_at IS NULL AND owner_id IN ($ids) ORDER BY id;
SQL
echo "== the same two statements through pgbench =="
pgbench -h 127.0.0.1 -U postgres -n -c16 -j2 -T10 -f /tmp/yardstick.sql "$db" | grep -E "tps|latency"

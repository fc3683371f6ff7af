#!/usr/bin/env bash
# What the event outbox costs writes: a benchmark, never a test. 16 workers, each on
# attachments of its own, delete an attachment and restore it again (`deleteAttachment`, then
# `restoreAttachment`), over and over, for SECONDS; the script prints the
# operations per second (a delete or a restore is one), and the CPU each operation took the
# server, PostgreSQL and the subscriber. It measures each binary given, in turn, ROUNDS times
# (default 2; on a machine whose speed drifts, more and shorter rounds pair better), each on
# a PostgreSQL database of its own seeded alike (2,000 users x 10
# attachments; a binary's migrations may be newer than another's): a build from before the
# outbox, say, and one with it. A binary that serves `/graphql/ws` is measured
# with an admin subscribed to `deletionEvents` all along (counted at the end), so the figure
# includes waking a subscriber at each commit.
#
# Needs psql, Python 3 and Node (the graphql-ws client of .ci/, `cd .ci && npm ci`).
#
#   [ROUNDS=N] bash bench/outbox.sh SECONDS BINARY [BINARY …]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?seconds}; shift
[ "$#" -ge 1 ] || { echo "usage: bench/outbox.sh SECONDS BINARY [BINARY …]" >&2; exit 2; }
port=8767
base="http://127.0.0.1:$port"
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# One database per binary, seeded by it; its admin's token.
n=0
for bin in "$@"; do
  n=$((n + 1))
  db=keepsake_outbox_bench_$n
  url="postgres://postgres@127.0.0.1:5432/$db"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  DATABASE_URL=$url "$bin" seed --users 2000 --attachments-per-user 10 --deleted-fraction 0 >/dev/null 2>&1
  DATABASE_URL=$url "$bin" user add --email bench-admin@example.com --name Bench --role admin >/dev/null 2>&1
  DATABASE_URL=$url "$bin" token --email bench-admin@example.com 2>/dev/null | tail -1 >"$work/token.$n"
  psql -h 127.0.0.1 -U postgres -d $db -Atc "SELECT id FROM attachments ORDER BY id LIMIT 1600" >"$work/ids.$n"
done

cat >"$work/workers.py" <<'PY'
import base64, http.client, json, sys, threading, time
host, port, token, seconds, ids_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
ids = [base64.b64encode(f"Attachment:{line.strip()}".encode()).decode() for line in open(ids_file) if line.strip()]
workers = 16
ops, bad = [0] * workers, [0] * workers
stop = time.monotonic() + seconds
DELETE = "mutation($id: ID!) { deleteAttachment(id: $id) { id } }"
RESTORE = "mutation($id: ID!) { restoreAttachment(id: $id) { id } }"
def work(n):
    conn = http.client.HTTPConnection(host, port)
    mine = ids[n::workers]
    i = 0
    while time.monotonic() < stop:
        target = mine[i % len(mine)]
        for query in (DELETE, RESTORE):
            body = json.dumps({"query": query, "variables": {"id": target}})
            conn.request("POST", "/graphql", body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            answer = json.loads(conn.getresponse().read())
            if answer.get("errors"):
                bad[n] += 1
            ops[n] += 1
        i += 1
threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
started = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - started
print(f"{sum(ops) / elapsed:.0f} ops/s ({sum(ops)} in {elapsed:.1f} s, {sum(bad)} errors)")
PY

cat >"$work/subscriber.mjs" <<'JS'
import { createClient } from "graphql-ws";
const [url, token, out, after] = process.argv.slice(2);
const fs = await import("node:fs");
let n = 0;
const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` } });
// From the last event already there: an earlier round's events are not replayed into this one.
client.subscribe({ query: "subscription ($after: ID) { deletionEvents(after: $after) { id type } }", variables: { after } }, {
  next: () => { n += 1; },
  error: (e) => { console.error(e); process.exit(1); },
  complete: () => {},
});
// The count is written twice a second, not per event: the machine the server runs on is this
// one, and a write per event would be measured as the server's cost.
setInterval(() => fs.writeFileSync(out, String(n)), 500);
process.on("SIGTERM", () => { fs.writeFileSync(out, String(n)); process.exit(0); });
JS
ln -s "$PWD/.ci/node_modules" "$work/node_modules"
node_flags=""
node -e "WebSocket" 2>/dev/null || node_flags="--experimental-websocket"

for round in $(seq "${ROUNDS:-2}"); do
  n=0
  for bin in "$@"; do
    n=$((n + 1))
    url="postgres://postgres@127.0.0.1:5432/keepsake_outbox_bench_$n"
    token=$(cat "$work/token.$n")
    DATABASE_URL=$url RUST_LOG=warn "$bin" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
    sub=""
    echo 0 >"$work/events"
    if [ -z "${NO_SUBSCRIBER:-}" ] && "$bin" --help 2>/dev/null | grep -q "events"; then
      last=$(psql -h 127.0.0.1 -U postgres -d "keepsake_outbox_bench_$n" -Atc "SELECT COALESCE(max(id), 0) FROM events")
      node $node_flags "$work/subscriber.mjs" "ws://127.0.0.1:$port/graphql/ws" "$token" "$work/events" "$last" 2>/dev/null &
      sub=$!
      sleep 1
    fi
    cpu() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
    # PostgreSQL's processes, all of them (the server's connections, the WAL writer, …): every
    # process of the user postgres on this machine, so run nothing else against it meanwhile.
    pg_cpu() { local t=0 pid; for pid in $(pgrep -u postgres); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
    # (A subscriber that has died reads 0, and its count at the end says so.)
    sub_cpu() { if [ -n "$sub" ]; then awk '{ print $14 + $15 }' "/proc/$sub/stat" 2>/dev/null || echo 0; else echo 0; fi; }
    cpu_before=$(cpu); pg_before=$(pg_cpu); sub_before=$(sub_cpu)
    result=$(python3 "$work/workers.py" 127.0.0.1 "$port" "$token" "$seconds" "$work/ids.$n")
    cpu_after=$(cpu); pg_after=$(pg_cpu); sub_after=$(sub_cpu)
    ops=$(sed -E 's/.*\(([0-9]+) in.*/\1/' <<<"$result")
    # CPU per operation (clock ticks of /proc/PID/stat, 100 a second), which the clients on
    # the same cores do not blur: the server's, PostgreSQL's, the subscriber's.
    per_op() { awk -v t="$1" -v n="$ops" 'BEGIN { printf "%.3f", n ? t * 10 / n : 0 }'; }
    per_op=$(per_op $((cpu_after - cpu_before)))
    sleep 1
    [ -n "$sub" ] && kill "$sub" 2>/dev/null || true
    echo "round $round $bin: $result; server CPU ${per_op} ms/op, PostgreSQL $(per_op $((pg_after - pg_before))), subscriber $(per_op $((sub_after - sub_before))); subscriber received $(cat "$work/events") events"
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
  done
done

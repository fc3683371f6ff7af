#!/usr/bin/env bash
# Hostile clients, measured: a benchmark, never a test. On a PostgreSQL database seeded with
# 2,000 users x 10 attachments (20% deleted), each attack runs for SECONDS (default 15) on 4
# connections with wrk while one other member asks `{ me { id } }` on a connection of their
# own; the script prints that member's p50 and p99 with no attack and under each one, and
# what the attacker got (requests/s, and how many were refused). The target: p99 under
# 100 ms under every attack. The attacks are the heaviest of each kind the server accepts,
# and the ones it refuses:
#
#   recent     a member's 90 aliases of recentDeletions(first: 100), over 100 deletions
#   log        support's 30 aliases of the log's page of 100 with each deletion's attachments
#   storage    support's 33 aliases of storageStats (three statements each)
#   yardstick  the yardstick page (50 users and their attachments) as an admin
#   crowd      one member on 64 connections (past KEEPSAKE_MAX_CONCURRENT: most get 429)
#   parse      a 1 MiB document of 95,000 __typename, without a token (refused from its tokens)
#   upload     a member's multipart request mapping one 1 MiB file to 1,100 variables (400)
#
# Needs wrk, psql and a PostgreSQL on 127.0.0.1:5432 (Debian: wrk, postgresql-client).
#
#   bash bench/hostile.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
db=keepsake_hostile
url="postgres://postgres@127.0.0.1:5432/$db"
port=8766
base="http://127.0.0.1:$port"
bin=target/release/keepsake
work=$(mktemp -d)
cargo build --release -q
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
DATABASE_URL=$url $bin seed --users 2000 --attachments-per-user 10 --deleted-fraction 0.2 >/dev/null 2>&1
psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM ANALYZE"
DATABASE_URL=$url RUST_LOG=warn KEEPSAKE_STORAGE="file://$work/blobs" \
  $bin serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "playground:" "$work/server.log" && break; sleep 0.2; done
admin=$(awk '/token:/ {print $2}' "$work/server.log")

user() { # email role -> token
  local id
  id=$(DATABASE_URL=$url $bin user add --email "$1" --name "$1" --role "$2" 2>/dev/null | tail -1)
  DATABASE_URL=$url $bin token --user "$id" 2>/dev/null | tail -1
}
attacker=$(user attacker@example.com member)
support=$(user support@example.com support)
victim=$(user victim@example.com member)

# The attacker's 100 recent deletions, 10 at a time (each request within the budget).
python3 - "$base" "$attacker" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
def gql(query):
    req = urllib.request.Request(base + "/graphql", json.dumps({"query": query}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer " + token})
    body = json.load(urllib.request.urlopen(req))
    assert "errors" not in body, body
    return body["data"]
me = gql("{ me { id } }")["me"]["id"]
for batch in range(10):
    made = gql("mutation {" + " ".join(
        f'a{i}: createAttachment(input: {{ownerId: "{me}", filename: "f{batch}-{i}.txt", '
        f'contentType: "text/plain", sizeBytes: 1}}) {{ id }}' for i in range(10)) + "}")
    gql("mutation {" + " ".join(
        f'd{i}: deleteAttachment(id: "{a["id"]}", reason: "bench") {{ id }}'
        for i, a in enumerate(made.values())) + "}")
PY

aliases() { # count field -> a document of that many aliases
  python3 -c 'import sys; n, f = int(sys.argv[1]), sys.argv[2]; print("{ " + " ".join(f"a{i}: {f}" for i in range(n)) + " }")' "$1" "$2"
}
# Each request is written twice: as a wrk script (NAME.lua) and as JSON (NAME.json) for the
# one request sent first to show how the server answers it.
write_request() { # name content-type token body-file
  python3 - "$work/$1" "$2" "$3" "$4" <<'PY'
import json, sys
path, content_type, token, body_file = sys.argv[1:5]
body = open(body_file).read()
headers = {"Content-Type": content_type}
if token:
    headers["Authorization"] = "Bearer " + token
with open(path + ".lua", "w") as out:
    out.write('wrk.method = "POST"\n')
    for name, value in headers.items():
        out.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    out.write("wrk.body = " + json.dumps(body) + "\n")
json.dump({"headers": headers, "body": body}, open(path + ".json", "w"))
PY
}
json_lua() { # name token document
  python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1]}))' "$3" >"$work/body"
  write_request "$1" application/json "$2" "$work/body"
}
# How the server answers one request: its status and first error code, or "ok".
answer() {
  python3 - "$base/graphql" "$work/$1.json" <<'PY'
import json, sys, urllib.request, urllib.error
url, request = sys.argv[1], json.load(open(sys.argv[2]))
req = urllib.request.Request(url, request["body"].encode(), request["headers"])
try:
    response = urllib.request.urlopen(req)
    status, body = response.status, response.read()
except urllib.error.HTTPError as err:
    status, body = err.code, err.read()
try:
    errors = json.loads(body).get("errors") or []
except ValueError:
    errors = []
codes = sorted({e.get("extensions", {}).get("code", "?") for e in errors})
print(f"{status} {','.join(codes) or 'ok'}")
PY
}
json_lua me "$victim" "{ me { id } }"
json_lua recent "$attacker" "$(aliases 90 'recentDeletions(first: 100) { id }')"
json_lua log "$support" "$(aliases 28 'deletions(first: 100) { nodes { id attachments(includeDeleted: true, first: 0) { totalCount } } }')"
json_lua storage "$support" "$(aliases 33 'storageStats { liveBytes }')"
json_lua yardstick "$admin" "{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }"
json_lua crowd "$attacker" "{ attachments(first: 100) { totalCount nodes { id filename } } }"
python3 -c 'import json; print(json.dumps({"query": "{ " + "__typename " * 95_000 + "}"}))' >"$work/body"
write_request parse application/json "" "$work/body"
python3 - "$work/body" <<'PY'
import json, sys
boundary = "keepsake-bench"
ops = json.dumps({"query": "mutation($f: Upload!) { createAttachment(input: {ownerId: \"x\", file: $f}) { id } }",
                  "variables": {"f": None}})
mapping = json.dumps({"0": [f"variables.v{i}" for i in range(1100)]})
parts = [("operations", ops), ("map", mapping)]
body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in parts)
body += f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
body += "x" * (1024 * 1024) + f"\r\n--{boundary}--\r\n"
open(sys.argv[1], "w").write(body)
PY
write_request upload "multipart/form-data; boundary=keepsake-bench" "$attacker" "$work/body"

# The victim's p50 and p99, from wrk's latency distribution.
percentiles() { awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print p50, p99}' "$1"; }
# The attacker's requests/s and refusals (non-2xx), from wrk's summary.
attacker_summary() {
  awk '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$5} END {printf "%s req/s, %s non-2xx", rps, (bad == "" ? 0 : bad)}' "$1"
}

printf '\n%-10s %-34s %-32s %10s %10s\n' attack "one request answers" "attacker got" "me p50" "me p99"
wrk -t1 -c1 -d"${seconds}s" --latency -s "$work/me.lua" "$base/graphql" >"$work/probe.txt"
read -r p50 p99 < <(percentiles "$work/probe.txt")
printf '%-10s %-34s %-32s %10s %10s\n' idle "-" "-" "$p50" "$p99"
for attack in recent log storage yardstick crowd parse upload; do
  connections=4
  [ "$attack" = crowd ] && connections=64
  wrk -t2 -c"$connections" -d"$((seconds + 2))s" -s "$work/$attack.lua" "$base/graphql" >"$work/attack.txt" 2>&1 &
  load=$!
  sleep 1
  wrk -t1 -c1 -d"${seconds}s" --latency -s "$work/me.lua" "$base/graphql" >"$work/probe.txt"
  wait $load || true
  read -r p50 p99 < <(percentiles "$work/probe.txt")
  printf '%-10s %-34s %-32s %10s %10s\n' "$attack" "$(answer "$attack")" \
    "$(attacker_summary "$work/attack.txt")" "$p50" "$p99"
done

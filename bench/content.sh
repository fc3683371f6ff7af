#!/usr/bin/env bash
# Attachment content, as a benchmark (never a test), on the release binary and SQLite with the
# file store, all on one disk:
#   1. a 100 MiB file: `cp` to the same disk, then PUT /attachments/{id}/content and GET it
#      back with curl, each timed, in MB/s;
#   2. memory: a 20x larger upload than the 64 MiB RSS budget (1,300 MiB, streamed from
#      /dev/zero by curl, chunked), and the server's peak RSS (VmHWM) before and after;
#   3. the same size through GraphQL's multipart createAttachment (curl -F of a sparse file),
#      and the peak RSS after it.
#
#   bash bench/content.sh [MiB for step 1, default 100] [MiB for steps 2 and 3, default 1300]
#
# KEEPSAKE_STORAGE in the environment picks another store (an S3 server's bucket with the
# AWS_* variables, say); the default is a folder on the same disk.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-100}
big=${2:-1300}
cargo build --release -q
work=$(mktemp -d -p "${BENCH_DIR:-$PWD/target}")
port=8777
export DATABASE_URL="sqlite://$work/bench.db?mode=rwc"
export KEEPSAKE_STORAGE="${KEEPSAKE_STORAGE:-file://$work/blobs}"
echo "store: $KEEPSAKE_STORAGE"
export KEEPSAKE_MAX_UPLOAD=4GiB
RUST_LOG=warn target/release/keepsake serve --bind "127.0.0.1:$port" >"$work/server.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "token:" "$work/server.out" && break; sleep 0.1; done
token=$(awk '/token:/ {print $2}' "$work/server.out")
base="http://127.0.0.1:$port"
me=$(curl -s "$base/graphql" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"query":"{ me { id } }"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
attachment() {
  curl -s "$base/graphql" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"query":"mutation($o: ID!) { createAttachment(input: {ownerId: $o, filename: \"bench.bin\", contentType: \"application/octet-stream\", sizeBytes: 0}) { id } }","variables":{"o":"'"$me"'"}}' \
    | sed 's/.*"id":"\([^"]*\)".*/\1/'
}
rss() { awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$server/status"; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f MB/s", b/1e6/s}'; }
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}'; }

head -c "$((size * 1024 * 1024))" /dev/urandom >"$work/file.bin"
bytes=$(stat -c %s "$work/file.bin")
sync
echo "peak RSS at start: $(rss)"
t=$(seconds cp "$work/file.bin" "$work/copy.bin"); sync
echo "cp of ${size} MiB, same disk:  ${t} s  $(mbps "$bytes" "$t")"
rm -f "$work/copy.bin"
id=$(attachment)
t=$(seconds curl -sf -X PUT "$base/attachments/$id/content" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/octet-stream' --data-binary @"$work/file.bin")
echo "PUT of ${size} MiB:            ${t} s  $(mbps "$bytes" "$t")  (hashed and stored); peak RSS $(rss)"
t=$(seconds curl -sf "$base/attachments/$id/content" -H "Authorization: Bearer $token" -o "$work/back.bin")
echo "GET of ${size} MiB:            ${t} s  $(mbps "$bytes" "$t"); peak RSS $(rss)"
cmp "$work/file.bin" "$work/back.bin" && echo "the bytes came back unchanged"
rm -f "$work/file.bin" "$work/back.bin"
echo "peak RSS after ${size} MiB up and down: $(rss)"

id=$(attachment)
t=$(seconds sh -c "head -c $((big * 1024 * 1024)) /dev/zero | curl -sf -X PUT '$base/attachments/$id/content' \
  -H 'Authorization: Bearer $token' -H 'Content-Type: application/octet-stream' -T -")
echo "PUT of ${big} MiB (chunked, from /dev/zero): ${t} s  $(mbps "$((big * 1024 * 1024))" "$t")"
echo "peak RSS after the ${big} MiB upload: $(rss)  (budget 64 MiB)"

truncate -s "$((big * 1024 * 1024))" "$work/sparse.bin"
ops='{"query":"mutation($o: ID!, $f: Upload!) { createAttachment(input: {ownerId: $o, file: $f}) { sizeBytes } }","variables":{"o":"'"$me"'","f":null}}'
t=$(seconds curl -sf "$base/graphql" -H "Authorization: Bearer $token" -F "operations=$ops" \
  -F 'map={"0":["variables.f"]}' -F "0=@$work/sparse.bin;type=application/octet-stream")
rm -f "$work/sparse.bin"
echo "multipart createAttachment of ${big} MiB: ${t} s  $(mbps "$((big * 1024 * 1024))" "$t")"
echo "peak RSS after the multipart upload: $(rss)  (budget 64 MiB)"

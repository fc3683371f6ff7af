#!/usr/bin/env bash
# Real GraphQL clients against the real binary, each used as its users use it: Apollo Client 3
# (relayStylePagination, cache updates, persisted queries, apollo-upload-client), urql,
# relay-compiler on fragments with @connection and @refetchable, Python's gql (parsed results,
# uploads), curl's multipart forms, a browser's CORS preflights, and graphql-inspector diffing
# schema.graphql against the live introspection. One server on a fresh SQLite database (and a
# fresh blob folder) serves every check; each prints `ok: …` or `FAIL: …`, every check runs
# whatever failed before it, and the run ends with `clients: N passed, N failed` and exits
# non-zero when anything failed. About 25 s once the packages are cached, 40 s from nothing.
#
#   bash .ci/clients/run.sh [path/to/keepsake]   (default: target/debug/keepsake)
#
# Installs what it needs: the npm packages pinned in package-lock.json (npm ci), and the Python
# ones pinned in requirements.txt into a virtualenv under ~/.cache (CLIENTS_VENV to choose).
# Each client has 120 s. CLIENTS_DEBUG=1 prints each failure's stack.
set -euo pipefail
binary="$(realpath "${1:-target/debug/keepsake}")"
cd "$(dirname "$0")"
schema="$(realpath ../../schema.graphql)"
export PYTHONDONTWRITEBYTECODE=1
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/keepsake-clients.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The npm packages, exactly as locked.
npm ci --no-audit --no-fund --loglevel=error

# The Python packages, pinned, in a virtualenv kept between runs (named by the pins).
pins="$(sha256sum requirements.txt | cut -c1-12)"
venv="${CLIENTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keepsake-clients-$pins}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import gql, aiohttp, requests, aiofiles' 2>/dev/null; then
  echo "installing the Python clients into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi
echo "installed in $((SECONDS - started))s"

# The server: the first start on an empty database prints the admin's id and token on stdout
# and logs `Keepsake is serving … address=127.0.0.1:PORT` on stderr. CORS is on for one origin,
# a dev server's, so that the preflights a browser would send can be checked.
export KEEPSAKE_CORS_ORIGINS="http://localhost:5173"
DATABASE_URL="sqlite://$work/k.db?mode=rwc" KEEPSAKE_STORAGE="file://$work/blobs" RUST_LOG=info NO_COLOR=1 \
  "$binary" serve --bind 127.0.0.1:0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
address=""
for _ in $(seq 1 600); do
  address="$(sed -n 's/.*Keepsake is serving.*address=\([0-9.]*:[0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
  [ -n "$address" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
token="$(sed -n 's/^ *token: *\([^ ]*\)$/\1/p' "$work/server.out" | head -n1)"
admin_id="$(sed -n 's/^ *id: *\([^ ]*\)$/\1/p' "$work/server.out" | head -n1)"
if [ -z "$address" ] || [ -z "$token" ] || [ -z "$admin_id" ]; then
  echo "FAIL: keepsake did not start (or printed no admin id and token)" >&2
  cat "$work/server.out" "$work/server.log" >&2
  exit 1
fi
# A member too, made as the README says, with the server's database.
member_id="$(DATABASE_URL="sqlite://$work/k.db" "$binary" user add --email member@example.com --name Member 2>>"$work/cli.log" | tail -n1)"
member_token="$(DATABASE_URL="sqlite://$work/k.db" "$binary" token --user "$member_id" 2>>"$work/cli.log" | tail -n1)"
if [ -z "$member_id" ] || [ -z "$member_token" ]; then
  echo "FAIL: keepsake user add / keepsake token made no member" >&2
  cat "$work/cli.log" >&2
  exit 1
fi
export KEEPSAKE_URL="http://$address/graphql" KEEPSAKE_TOKEN="$token" KEEPSAKE_ADMIN_ID="$admin_id"
export KEEPSAKE_MEMBER_TOKEN="$member_token" KEEPSAKE_MEMBER_ID="$member_id"
export KEEPSAKE_SCHEMA="$schema" CLIENTS_WORK="$work"
echo "clients against $KEEPSAKE_URL"

# Each client in turn; a client that dies without saying FAIL is a failure too.
log="$work/checks.log"
: >"$log"
client() {
  local name="$1"
  shift
  local before status=0
  before="$(grep -c '^FAIL: ' "$log" || true)"
  printf '\n-- %s\n' "$name"
  timeout --kill-after=5 120 "$@" 2>&1 | tee -a "$log" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "FAIL: $name: did not finish within 120 s" | tee -a "$log"
  elif [ "$status" -ne 0 ] && [ "$(grep -c '^FAIL: ' "$log" || true)" = "$before" ]; then
    echo "FAIL: $name: exited $status without naming a check (see above)" | tee -a "$log"
  fi
}
client "Apollo Client" node apollo.mjs
client "urql" node urql.mjs
client "relay-compiler" node relay.mjs
client "Python gql" "$venv/bin/python" gql_client.py
client "curl" bash curl.sh
client "CORS preflights" node cors.mjs
client "graphql-inspector" node inspector.mjs

printf '\n-- the server\n'
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: server: keepsake died during the run; its log ends:" | tee -a "$log"
  tail -n 40 "$work/server.log"
elif grep -q "panicked" "$work/server.log"; then
  echo "FAIL: server: keepsake logged a panic:" | tee -a "$log"
  grep -A 5 "panicked" "$work/server.log" | head -n 40
else
  echo "ok: server: still serving, no panic logged" | tee -a "$log"
fi

passed="$(grep -c '^ok: ' "$log" || true)"
failed="$(grep -c '^FAIL: ' "$log" || true)"
printf '\n'
if [ "$failed" -ne 0 ]; then
  echo "these checks failed:"
  grep '^FAIL: ' "$log" | sed 's/^/  /'
fi
echo "took $((SECONDS - started))s"
echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

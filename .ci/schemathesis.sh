#!/usr/bin/env bash
# Fuzzes the GraphQL API with schemathesis, as an admin, against the real binary on a fresh
# SQLite database with the demo data (plus a deleted user and attachment, see
# .ci/schemathesis_seed.py). Schemathesis reads the schema by introspection and sends
# generated queries and mutations for every root field; the run fails on any 5xx, any
# `INTERNAL` error, any error without an `extensions.code` or with one docs/DESIGN.md#errors does not
# list (.ci/schemathesis_hooks.py), any response that breaks the schema (a null in a
# non-null field), and if the server dies or logs a panic. Bounded: --max-time for
# schemathesis, a `timeout` around it.
#
#   bash .ci/schemathesis.sh [path/to/keepsake]   (default: target/debug/keepsake)
#
# Env: SCHEMATHESIS_MAX_TIME (seconds of fuzzing, default 120), SCHEMATHESIS_SEED (replay a
# run: schemathesis prints its seed), SCHEMATHESIS_VENV (where to keep the virtualenv,
# default ~/.cache/keepsake-schemathesis-<version>).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1 # no .ci/__pycache__ from the hooks file

ST_VERSION=4.32.5
binary="$(realpath "${1:-target/debug/keepsake}")"
max_time="${SCHEMATHESIS_MAX_TIME:-120}"
venv="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keepsake-schemathesis-$ST_VERSION}"
work="$(mktemp -d "${TMPDIR:-/tmp}/keepsake-schemathesis.XXXXXX")"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# schemathesis, pinned, in its own virtualenv (kept between runs on the same machine).
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -qF "$ST_VERSION"; then
  echo "installing schemathesis $ST_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
"$venv/bin/st" --version

# The server: the first start on an empty database prints the admin's token on stdout and
# logs `Keepsake is serving … address=127.0.0.1:PORT` on stderr.
DATABASE_URL="sqlite://$work/k.db?mode=rwc" RUST_LOG=info NO_COLOR=1 \
  "$binary" serve --bind 127.0.0.1:0 --demo >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
address=""
for _ in $(seq 1 600); do
  address="$(sed -n 's/.*Keepsake is serving.*address=\([0-9.]*:[0-9]*\).*/\1/p' "$work/server.log" | head -n1)"
  [ -n "$address" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
token="$(sed -n 's/^ *token: *\([^ ]*\)$/\1/p' "$work/server.out" | head -n1)"
if [ -z "$address" ] || [ -z "$token" ]; then
  echo "FAIL: keepsake did not start (or printed no admin token)" >&2
  cat "$work/server.out" "$work/server.log" >&2
  exit 1
fi
url="http://$address/graphql"
echo "fuzzing $url as the admin for at most ${max_time}s"

admin_id="$("$venv/bin/python" .ci/schemathesis_seed.py "$url" "$token" "$work/schemathesis.toml")"

seed_args=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then seed_args=(--seed "$SCHEMATHESIS_SEED"); fi

started=$SECONDS
status=0
hooks="$PWD/.ci/schemathesis_hooks.py"
# From $work, so that nothing schemathesis writes lands in the work tree.
(cd "$work" && SCHEMATHESIS_HOOKS="$hooks" \
  KEEPSAKE_FUZZ_ADMIN_ID="$admin_id" KEEPSAKE_FUZZ_TALLY="$work/tally.json" \
  timeout --kill-after=10 $((max_time + 120)) \
  "$venv/bin/st" --config-file "$work/schemathesis.toml" run "$url" \
  --header "Authorization: Bearer $token" \
  --checks keepsake_no_server_error,response_schema_conformance \
  --phases fuzzing,stateful \
  --max-time "$max_time" \
  --max-examples 500 \
  --workers 2 \
  --request-timeout 30 \
  --generation-database none \
  --continue-on-failure \
  --output-truncate false \
  --no-color \
  "${seed_args[@]}") || status=$?
elapsed=$((SECONDS - started))

echo
echo "== what the fuzzer sent (responses per operation; with data = a root field came back non-null) =="
if [ -s "$work/tally.json" ]; then
  "$venv/bin/python" - "$work/tally.json" <<'EOF'
import json, sys
tally = json.load(open(sys.argv[1]))
total = sum(entry["responses"] for entry in tally.values())
codes = {}
for label, entry in tally.items():
    for code, count in entry["codes"].items():
        codes[code] = codes.get(code, 0) + count
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(entry["status"].items()))
    print(f"  {label:34} {entry['responses']:6} responses, {entry['with_data']:5} with data  ({statuses})")
print(f"  {len(tally)} operations, {total} responses")
print("  error codes: " + (", ".join(f"{code} {count}" for code, count in sorted(codes.items())) or "none"))
bad = {}
for entry in tally.values():
    for what, count in entry["bad"].items():
        bad[what] = bad.get(what, 0) + count
if bad:
    print("  refused by the check (5xx, INTERNAL, no code or an unknown one):")
    for what, count in sorted(bad.items(), key=lambda item: -item[1]):
        print(f"    {count:5} x {what}")
EOF
else
  echo "  (no tally was written)"
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: keepsake died during the run; its log ends:" >&2
  tail -n 40 "$work/server.log" >&2
  status=1
fi
if grep -q "panicked" "$work/server.log"; then
  echo "FAIL: keepsake logged a panic:" >&2
  grep -A 5 "panicked" "$work/server.log" | head -n 40 >&2
  status=1
fi
if [ "$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"query":"{ me { role } }"}' "$url")" != '{"data":{"me":{"role":"ADMIN"}}}' ]; then
  echo "WARN: the admin's token no longer reads { me { role: ADMIN } }: part of the run was not as an admin" >&2
fi

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "FAIL: schemathesis did not finish within $((max_time + 120))s" >&2
fi
if [ "$status" -ne 0 ]; then
  echo "FAIL: schemathesis found problems (exit $status) in ${elapsed}s; see above" >&2
  exit 1
fi
echo "ok: schemathesis $ST_VERSION fuzzed the API for ${elapsed}s: no server error, no INTERNAL, every error coded"

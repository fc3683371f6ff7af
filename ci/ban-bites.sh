#!/usr/bin/env bash
# Proves the clippy ban bites: plants ci/ban_probe.rs as an example and requires clippy to
# refuse both the raw `find` and the raw connection type.
set -euo pipefail
cd "$(dirname "$0")/.."
probe=examples/ban_probe.rs
mkdir -p examples
cp ci/ban_probe.rs "$probe"
trap 'rm -f "$probe"; rmdir examples 2>/dev/null || true' EXIT
if out=$(cargo clippy --example ban_probe -- -D warnings 2>&1); then
  echo "FAIL: clippy accepted a raw find on a soft-deletable entity" >&2
  exit 1
fi
for lint in disallowed_methods disallowed_types; do
  if ! grep -q "$lint" <<<"$out"; then
    echo "FAIL: clippy did not report $lint for the planted violation:" >&2
    echo "$out" >&2
    exit 1
  fi
done
echo "ok: clippy refuses the planted violations (disallowed_methods, disallowed_types)"

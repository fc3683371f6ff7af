#!/usr/bin/env bash
# Proves the soft-delete ban bites, and that it cannot be dodged:
#  1. clippy refuses a raw `find`, a raw connection type, and a raw connection obtained by
#     type inference (`Database::connect`), planted in a scratch example;
#     and a `SeeDeleted` proof made outside `auth` (the role gate of every wide scope), or a
#     `SeeHidden` proof made outside `service::undo` (a member's view of what they may undo);
#  2. no source file outside the core (src/soft_delete/) silences the ban with an
#     `allow`/`expect` (of disallowed_methods/_types, or of the groups that hold them), except
#     the three documented ones: the test helper tests/api/helpers.rs::raw_connection,
#     auth::Viewer::see_deleted, the one place that grants the wide proof, and
#     service::undo::undoable, the one place that grants the narrow one; and that scan
#     itself refuses a planted dodge.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p examples
trap 'rm -f examples/ban_probe.rs examples/ban_probe_allow.rs; rmdir examples 2>/dev/null || true' EXIT

# Any attribute that could switch the ban off: naming the lints, or their groups.
pattern='clippy::(disallowed_(methods|types)|style|all)([^a-z_]|$)'
core='^src/soft_delete/'
scan() {
  grep -rnE --include='*.rs' "$pattern" src tests examples 2>/dev/null | grep -Ev "$core" || true
}

cp .ci/ban_probe.rs examples/ban_probe.rs
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
if ! grep -q "Database::connect" <<<"$out"; then
  echo "FAIL: clippy did not refuse a raw connection obtained by inference:" >&2
  echo "$out" >&2
  exit 1
fi
if ! grep -q "SeeDeleted::for_role" <<<"$out"; then
  echo "FAIL: clippy did not refuse a SeeDeleted proof made outside auth:" >&2
  echo "$out" >&2
  exit 1
fi
if ! grep -q "SeeHidden::for_undoable" <<<"$out"; then
  echo "FAIL: clippy did not refuse a SeeHidden proof made outside service::undo:" >&2
  echo "$out" >&2
  exit 1
fi
echo "ok: clippy refuses the planted violations (find, DatabaseConnection, Database::connect, SeeDeleted::for_role, SeeHidden::for_undoable)"

# The tree as committed: the test helper's allow and the proofs' grants, nothing else.
hits=$(scan)
if [ "$(grep -c . <<<"$hits")" -ne 3 ] || ! grep -q "^tests/api/helpers.rs:" <<<"$hits" \
  || ! grep -q "^src/auth.rs:" <<<"$hits" || ! grep -q "^src/service/undo.rs:" <<<"$hits"; then
  echo "FAIL: the soft-delete ban is switched off outside the core:" >&2
  echo "$hits" >&2
  exit 1
fi
cp .ci/ban_probe_allow.rs examples/ban_probe_allow.rs
if ! scan | grep -q '^examples/ban_probe_allow.rs:'; then
  echo "FAIL: the source scan missed a planted allow of the ban" >&2
  exit 1
fi
echo "ok: no allow of the ban outside the core but the three documented ones; a planted one is refused"

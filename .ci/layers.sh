#!/usr/bin/env bash
# The layers of the "Map of the code" in docs/ARCHITECTURE.md: each top-level module of src/ may import only
# the modules its row names (arrows point down, so there is no import circle). Fails on any
# `crate::X` in code (comments aside) that the table does not allow, and proves it bites by
# checking a planted upward import.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - "$@" <<'PY'
import glob, re, sys

ALLOWED = {
    "entity": set(),
    "error": set(),
    "role": set(),
    "duration": set(),
    "metrics": set(),
    "storage": set(),
    "json": set(),
    "wire": set(),
    "ids": {"error"},
    "soft_delete": {"entity", "error", "ids", "role", "wire"},
    "oidc": {"config", "entity", "error", "role", "soft_delete"},
    "auth": {"entity", "error", "ids", "oidc", "role", "soft_delete"},
    "service": {"auth", "duration", "entity", "error", "ids", "soft_delete", "storage"},
    "graphql": {"auth", "entity", "error", "ids", "json", "metrics", "service", "soft_delete", "storage"},
    "graphql_http": {"json"},
    "config": {"duration"},
    "app": {"auth", "config", "error", "graphql", "graphql_http", "ids", "metrics", "oidc", "service", "soft_delete", "storage", "wire"},
    "cli": {"app", "auth", "config", "duration", "entity", "error", "ids", "service", "soft_delete", "storage"},
}


def violations(files):
    found = []
    for path, text in files:
        rel = path[len("src/"):]
        top = rel.split("/")[0].removesuffix(".rs")
        if top in ("lib", "main"):
            continue
        if top not in ALLOWED:
            found.append(f"{path}: module `{top}` is not in the layer table (.ci/layers.sh, docs/ARCHITECTURE.md)")
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip().startswith("//"):
                continue
            for used in re.findall(r"crate::([a-z_]+)", line):
                if used != top and used not in ALLOWED[top]:
                    found.append(f"{path}:{n}: `{top}` may not import `{used}`: {line.strip()}")
    return found


tree = [(p, open(p).read()) for p in sorted(glob.glob("src/**/*.rs", recursive=True))]
planted = violations([("src/soft_delete/planted.rs", "use crate::service::users;\n")])
if not planted:
    sys.exit("FAIL: the layer check missed a planted upward import (soft_delete -> service)")
bad = violations(tree)
if bad:
    print("FAIL: imports against the layers of docs/ARCHITECTURE.md's map:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"ok: {len(tree)} files keep to the layers; a planted upward import is refused")
PY

# No two files of src/ import each other, directly or through others (.ci/cycles.py).
python3 .ci/cycles.py

# One room per concern: no file of src/ past 450 lines.
long=$(find src -name '*.rs' -exec wc -l {} + | awk '$2 != "total" && $1 > 450 { print "  " $2 ": " $1 " lines" }')
if [ -n "$long" ]; then
  printf 'FAIL: files past 450 lines (split them by concern):\n%s\n' "$long" >&2
  exit 1
fi
echo "ok: no file of src/ past 450 lines"

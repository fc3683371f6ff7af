#!/usr/bin/env bash
# curl's multipart forms, as the README and docs/clients.md show them: `-F 0=@file` (a part
# with a filename and a type) and `-F '0=<file'` (the file's content as a plain part: no
# filename, no type), each to createAttachment(input: {ownerId, file}). Run by run.sh, which
# starts the server and sets KEEPSAKE_URL, KEEPSAKE_TOKEN, KEEPSAKE_ADMIN_ID and CLIENTS_WORK.
set -uo pipefail
cd "$CLIENTS_WORK"
URL="$KEEPSAKE_URL" TOKEN="$KEEPSAKE_TOKEN" ID="$KEEPSAKE_ADMIN_ID"
failed=0

printf 'hello, keepsake\n' > notes.txt
sum="$(sha256sum notes.txt | cut -d' ' -f1)"

# check NAME EXPECTED_FILENAME CURL_FILE_ARG: uploads notes.txt and compares what comes back.
check() {
  local name="$1" expected="$2" part="$3" answer verdict
  answer="$(curl -s "$URL" -H "Authorization: Bearer $TOKEN" \
    -F operations='{"query":"mutation($o: ID!, $f: Upload!) { createAttachment(input: {ownerId: $o, file: $f}) { id filename contentType sizeBytes sha256 } }","variables":{"o":"'"$ID"'","f":null}}' \
    -F map='{"0":["variables.f"]}' -F "$part")"
  verdict="$(python3 - "$answer" "$expected" "$sum" <<'PY'
import json, sys
answer, expected, digest = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    got = json.loads(answer)["data"]["createAttachment"]
except Exception:
    print(f"the answer was {answer[:600]}")
    sys.exit()
problems = []
if got["sizeBytes"] != 16 or got["sha256"] != digest:
    problems.append(f"sizeBytes {got['sizeBytes']}, sha256 {got['sha256']}")
if expected != "*" and got["filename"] != expected:
    problems.append(f"filename {got['filename']!r}, expected {expected!r}")
if not got["filename"]:
    problems.append("an empty filename")
print("; ".join(problems) if problems else f"ok filename {got['filename']!r}, contentType {got['contentType']!r}")
PY
)"
  if [ "${verdict#ok }" != "$verdict" ]; then
    echo "ok: curl: $name (${verdict#ok })"
  else
    echo "FAIL: curl: $name: $verdict"
    failed=1
  fi
}

check "-F 0=@notes.txt uploads the file under its name" notes.txt '0=@notes.txt'
check "-F '0=<notes.txt' (a part with no filename) is named upload" upload '0=<notes.txt'
exit "$failed"

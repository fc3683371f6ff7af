"""Schemathesis hooks for .ci/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

* The check `keepsake_no_server_error` judges every response: a 5xx, a body that is not a
  GraphQL JSON object, an error without `extensions.code`, an error whose code docs/DESIGN.md#errors does
  not list, and any `INTERNAL` error all fail the run. Keepsake's ordinary refusals
  (BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, CONFLICT, PARENT_DELETED, UNAUTHENTICATED, and
  GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED for documents refused before execution,
  cost and depth refusals included) are answers, not failures.
* A `before_call` hook keeps the fuzzer from locking itself out: a mutation naming the admin
  whose token drives the run (deleting or demoting it) gets a user id that does not exist
  instead (KEEPSAKE_FUZZ_ADMIN_ID).
* An `after_call` hook tallies, per operation, the responses, their statuses, their error
  codes and the messages of the errors the check refuses, and writes them as JSON to
  KEEPSAKE_FUZZ_TALLY when the run ends; the script prints that summary.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter, defaultdict

import schemathesis

# docs/DESIGN.md#errors: every error carries one of these codes.
KNOWN_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "PARENT_DELETED",
    "INTERNAL",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    # Apollo's automatic persisted queries: a hash sent alone that the server does not hold.
    "PERSISTED_QUERY_NOT_FOUND",
}

ADMIN_ID = os.environ.get("KEEPSAKE_FUZZ_ADMIN_ID", "")
# base64url("User:999999999"): a well-formed id that names no user.
NO_SUCH_USER = "VXNlcjo5OTk5OTk5OTk"
TALLY_PATH = os.environ.get("KEEPSAKE_FUZZ_TALLY", "")


def _payload(response):
    try:
        return response.json()
    except ValueError:
        return None


def _codes(payload):
    """The code of each error (None where an error has none)."""
    if not isinstance(payload, dict):
        return []
    codes = []
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else None)
    return codes


@schemathesis.check
def keepsake_no_server_error(ctx, response, case):
    """No 5xx, no INTERNAL, and every GraphQL error carries a code docs/DESIGN.md#errors lists."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: a server error")
    payload = _payload(response)
    if not isinstance(payload, dict) or not ("data" in payload or "errors" in payload):
        raise AssertionError(
            f"HTTP {response.status_code} answered something that is not a GraphQL response "
            f"(Content-Type: {response.headers.get('Content-Type')})"
        )
    problems = []
    for error, code in zip(payload.get("errors") or [], _codes(payload)):
        message = error.get("message") if isinstance(error, dict) else error
        if code == "INTERNAL":
            problems.append(f"INTERNAL: {message!r}")
        elif code is None:
            problems.append(f"an error without extensions.code: {message!r}")
        elif code not in KNOWN_CODES:
            problems.append(f"a code neither docs/DESIGN.md#errors nor APQ knows ({code}): {message!r}")
    if problems:
        raise AssertionError("\n".join(problems))
    return None


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if ADMIN_ID and isinstance(body, str) and ADMIN_ID in body and body.lstrip().startswith("mutation"):
        case.body = body.replace(ADMIN_ID, NO_SUCH_USER)


_lock = threading.Lock()
_tally = defaultdict(
    lambda: {"responses": 0, "with_data": 0, "status": Counter(), "codes": Counter(), "bad": Counter()}
)


@schemathesis.hook
def after_call(context, case, response):
    payload = _payload(response)
    label = case.operation.label
    with _lock:
        entry = _tally[label]
        entry["responses"] += 1
        entry["status"][str(response.status_code)] += 1
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
            if any(value is not None for value in payload["data"].values()):
                entry["with_data"] += 1
        errors = (payload.get("errors") or []) if isinstance(payload, dict) else []
        for error, code in zip(errors, _codes(payload)):
            entry["codes"][code or "(none)"] += 1
            if code is None or code == "INTERNAL" or code not in KNOWN_CODES:
                message = error.get("message") if isinstance(error, dict) else error
                entry["bad"][f"{code or '(no code)'}: {str(message)[:160]}"] += 1
        if response.status_code >= 500:
            entry["bad"][f"HTTP {response.status_code}"] += 1


@atexit.register
def _write_tally():
    if not TALLY_PATH:
        return
    with _lock:
        snapshot = {label: dict(entry) for label, entry in sorted(_tally.items())}
    with open(TALLY_PATH, "w", encoding="utf-8") as out:
        json.dump(snapshot, out, indent=1, sort_keys=True)

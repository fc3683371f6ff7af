"""Prepares the schemathesis run of .ci/schemathesis.sh against a Keepsake started with --demo.

    python3 .ci/schemathesis_seed.py URL TOKEN CONFIG_OUT

As the admin (TOKEN), it deletes a demo user (with the cascade to their attachments) and one
attachment of another user, so that deleted rows and deletion log entries exist, then reads
back every id and cursor and writes a schemathesis config (TOML) whose dictionaries feed them,
with a few well-formed ids that name nothing, of the wrong type or out of range, to the
arguments that take ids or cursors; emails and media types (valid, taken and not) go to the
inputs that take them, durations to `olderThan`, page sizes to `first`. Without it the fuzzer
only sends random strings, which Keepsake refuses as "not a Keepsake id" or "not an email
address" before any resolver reaches the database. (The run's cache is off: no state is kept.)

Prints the admin's id (to keep the fuzzer from deleting or demoting the admin it runs as).
Standard library only.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request


# Valid (some only after trimming and lower-casing), taken (the demo users' are added) or not.
EMAILS = [
    "fuzz@example.com",
    "Fuzz.Two@Example.COM",
    "  spaced@example.com ",
    "ünïcode@exämple.com",
    "a@b.c",
    "x@" + "y" * 250 + ".com",
    "no-at-sign",
    "@example.com",
]
MEDIA_TYPES = [
    "image/png",
    "application/pdf",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "image/svg+xml",
    "a/b",
    "image/",
    "/png",
]


def gql(url: str, token: str, query: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise SystemExit(f"FAIL: seeding query refused: {json.dumps(payload['errors'])}\n{query}")
    return payload["data"]


def opaque(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def toml_list(values: list) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def main() -> None:
    url, token, config_out = sys.argv[1:4]
    admin_id = gql(url, token, "{ me { id } }")["me"]["id"]

    users = gql(url, token, "{ users(first: 100) { nodes { id email } } }")["users"]["nodes"]
    others = [user for user in users if user["id"] != admin_id]
    if len(others) < 2:
        raise SystemExit("FAIL: the demo data set should hold at least two users besides the admin")
    gql(url, token, f'mutation {{ deleteUser(id: "{others[-1]["id"]}", reason: "fuzz seed") {{ id }} }}')
    kept = gql(
        url,
        token,
        f'{{ attachments(first: 1, ownerId: "{others[0]["id"]}") {{ nodes {{ id }} }} }}',
    )["attachments"]["nodes"]
    if kept:
        gql(url, token, f'mutation {{ deleteAttachment(id: "{kept[0]["id"]}") {{ id }} }}')

    data = gql(
        url,
        token,
        """{
          users(first: 100, includeDeleted: true) { edges { cursor node { id } } }
          attachments(first: 100, includeDeleted: true) { edges { cursor node { id } } }
          deletions(first: 100) { edges { cursor node { id } } }
        }""",
    )
    ids, cursors = [], []
    for connection in data.values():
        for edge in connection["edges"]:
            ids.append(edge["node"]["id"])
            cursors.append(edge["cursor"])
    # Ids and cursors that are well-formed but name nothing, name the wrong type, or overflow.
    ids += [
        opaque("User:999999999"),
        opaque("Attachment:0"),
        opaque("Deletion:-1"),
        opaque("User:99999999999999999999999"),
        opaque("Nothing:1"),
        opaque("User:"),
    ]
    cursors += [opaque("cursor:0"), opaque("cursor:-1"), opaque("cursor:99999999999999999999999")]
    ids = [i for i in dict.fromkeys(ids) if i != admin_id]
    cursors = list(dict.fromkeys(cursors))

    id_arguments = [
        "*.*.id",
        "*.*.ids[*]",
        "*.*.ownerId",
        "*.*.actorId",
        "*.*.deletionId",
        "*.*.input.ownerId",
    ]
    lines = [
        "# Written by .ci/schemathesis_seed.py for one run; not kept.",
        "[cache]",
        "enabled = false",
        "[dictionaries.ids]",
        f"values = {toml_list(ids)}",
        "[dictionaries.cursors]",
        f"values = {toml_list(cursors)}",
        "[dictionaries.durations]",
        f"values = {toml_list(['0s', '90s', '24h', '30d', '1m', '-1d', '9999999999999999d', 'soon', ''])}",
        "[dictionaries.emails]",
        f"values = {toml_list(EMAILS + [user['email'] for user in users])}",
        "[dictionaries.media_types]",
        f"values = {toml_list(MEDIA_TYPES)}",
        "[dictionaries.pages]",
        f"values = {toml_list([0, 1, 2, 20, 100, 101, -1, 2147483647])}",
        "[parameters]",
        *(f'"{key}" = {{ dictionary = "ids", probability = 0.7 }}' for key in id_arguments),
        '"*.*.after" = { dictionary = "cursors", probability = 0.7 }',
        '"*.*.olderThan" = { dictionary = "durations", probability = 0.8 }',
        '"*.*.first" = { dictionary = "pages", probability = 0.5 }',
        '"*.*.input.email" = { dictionary = "emails", probability = 0.7 }',
        '"*.*.input.contentType" = { dictionary = "media_types", probability = 0.7 }',
    ]
    with open(config_out, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print(admin_id)


if __name__ == "__main__":
    main()

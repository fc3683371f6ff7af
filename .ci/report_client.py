"""A Python SQL client (psycopg 3) as a report reader, run by .ci/report_client.sh.

    python3 .ci/report_client.py granted ROLE_URL OWNER_URL API_URL   (token in $KEEPSAKE_TOKEN)
    python3 .ci/report_client.py revoked ROLE_URL OWNER_URL

Every check on the reporting views reads them signed in as the reader role (ROLE_URL), the way
a BI tool would. OWNER_URL (Keepsake's own database user) is used only to compute what is
expected: which rows are deleted, which relations schema `reporting` holds, which columns a
table has to aim a write at. Nothing it reads is taken as a result.

`granted` (after `keepsake reporting grant ROLE`):
  1. every reporting view is readable, and users/attachments/deletions hold as many rows as
     the API's `totalCount` says (as an admin, over HTTP at API_URL); `deletion_days` and any
     other view in the schema are read too when they exist;
  2. the views hold exactly the ids the API lists, and no deleted user or attachment id;
  3. every attachment in the view has its owner in the users view;
  4. the role is refused SELECT on the base tables, `settings`, `archive` and
     `seaql_migrations`, and every INSERT, UPDATE, DELETE (and TRUNCATE) on them and on the
     views, each statement in its own transaction, rolled back after.
`revoked` (after `keepsake reporting revoke ROLE`):
  5. every reporting view is refused.

Prints `ok: …` per check; the first failure prints `FAIL: …` and exits 1. Standard library and
psycopg only.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.request

import psycopg
from psycopg import errors, sql

# The views `keepsake reporting grant` opens, which must exist.
REQUIRED_VIEWS = ["users", "attachments", "deletions"]
# Being added; read when present, skipped with a note when not.
OPTIONAL_VIEWS = ["deletion_days"]
# Keepsake's tables, none of which the reader may touch.
BASE_TABLES = ["users", "attachments", "deletions", "settings", "archive", "seaql_migrations"]


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(message: str) -> None:
    print(f"ok: {message}", flush=True)


def one(conn: psycopg.Connection, query, params=None):
    """The single value `query` returns, in a transaction of its own."""
    try:
        with conn.transaction():
            row = conn.execute(query, params).fetchone()
    except psycopg.Error as err:
        fail(f"{as_text(conn, query)}: {type(err).__name__}: {err}".strip())
    return row[0]


def column(conn: psycopg.Connection, query, params=None) -> list:
    """The first column of every row `query` returns, in a transaction of its own."""
    try:
        with conn.transaction():
            return [row[0] for row in conn.execute(query, params).fetchall()]
    except psycopg.Error as err:
        fail(f"{as_text(conn, query)}: {type(err).__name__}: {err}".strip())


def as_text(conn: psycopg.Connection, query) -> str:
    return query.as_string(conn) if isinstance(query, sql.Composable) else str(query)


def view(name: str) -> sql.Composed:
    return sql.Identifier("reporting", name)


def table(name: str) -> sql.Composed:
    return sql.Identifier("public", name)


# --- the API -------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/") + "/graphql"
        self.token = token

    def query(self, document: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": document, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
        except Exception as err:  # noqa: BLE001 — any failure to get an answer is a FAIL
            fail(f"the API at {self.url} did not answer: {err}")
        if answer.get("errors") or not answer.get("data"):
            fail(f"the API answered errors: {json.dumps(answer)[:2000]}")
        return answer["data"]

    def ids(self, field: str, kind: str, arguments: str = "") -> set[int]:
        """Every row id of root connection `field` (with `arguments`), page by page, decoded
        from the API's opaque ids (base64url of `Kind:number`) to the tables' numbers."""
        found: set[int] = set()
        after = None
        extra = f", {arguments}" if arguments else ""
        while True:
            data = self.query(
                f"query($after: String) {{ page: {field}(first: 100, after: $after{extra}) "
                "{ nodes { id } pageInfo { hasNextPage endCursor } } }",
                {"after": after},
            )["page"]
            for node in data["nodes"]:
                found.add(decode_id(kind, node["id"]))
            if not data["pageInfo"]["hasNextPage"]:
                return found
            after = data["pageInfo"]["endCursor"]


def decode_id(kind: str, opaque: str) -> int:
    text = base64.urlsafe_b64decode(opaque + "=" * (-len(opaque) % 4)).decode()
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isdigit():
        fail(f"the API's id {opaque!r} is {text!r}, not a {kind} id")
    return int(number)


# --- refusals ------------------------------------------------------------------------------


def refused(
    conn: psycopg.Connection, statement: sql.Composable, also: tuple[type, ...] = ()
) -> None:
    """`statement` run as the reader must fail with InsufficientPrivilege (or one of `also`),
    in a transaction of its own that is rolled back either way."""
    text = as_text(conn, statement)
    try:
        conn.execute(statement)
    except errors.InsufficientPrivilege:
        conn.rollback()
        ok(f"refused: {text}")
        return
    except psycopg.Error as err:
        conn.rollback()
        if isinstance(err, also):
            ok(f"refused: {text} ({type(err).__name__}: {str(err).splitlines()[0]})")
            return
        fail(f"{text} failed, but not as refused: {type(err).__name__}: {err}")
    conn.rollback()
    fail(f"the reader ran: {text}")


def writes(columns: dict[str, str], name: str, target: sql.Composed) -> list[sql.Composed]:
    """An INSERT, an UPDATE and a DELETE aimed at `target`, on a column it really has, so a
    refusal is the privilege check's and not a typo's."""
    col = sql.Identifier(columns[name])
    return [
        sql.SQL("INSERT INTO {} ({}) VALUES (NULL)").format(target, col),
        sql.SQL("UPDATE {} SET {} = {}").format(target, col, col),
        sql.SQL("DELETE FROM {}").format(target),
    ]


# --- the two modes -------------------------------------------------------------------------


def reporting_relations(owner: psycopg.Connection) -> list[str]:
    """Every view (plain or materialized) in schema `reporting`, as the owner sees it: the
    reader's own information_schema would hide one it was not granted."""
    return column(
        owner,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'reporting' "
        "UNION SELECT matviewname::text FROM pg_matviews WHERE schemaname = 'reporting' "
        "ORDER BY 1",
    )


def is_the_reader(reader: psycopg.Connection, owner: psycopg.Connection) -> str:
    """The reader is an ordinary role, not the owner nor a superuser: otherwise every read
    below would succeed for the wrong reason."""
    me = one(reader, "SELECT current_user::text")
    if me == one(owner, "SELECT current_user::text"):
        fail(f"the reader's URL signs in as the owner ({me})")
    if one(reader, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        fail(f"the reader {me} is a superuser")
    ok(f"signed in as {me}, an ordinary role")
    return me


def granted(reader: psycopg.Connection, owner: psycopg.Connection, api: Api) -> None:
    is_the_reader(reader, owner)

    # Preconditions, so nothing below can pass on an empty or fully live database.
    expected = {
        "live users": one(owner, "SELECT COUNT(*) FROM users WHERE deleted_at IS NULL"),
        "deleted users": one(owner, "SELECT COUNT(*) FROM users WHERE deleted_at IS NOT NULL"),
        "live attachments": one(
            owner,
            "SELECT COUNT(*) FROM attachments a JOIN users u ON u.id = a.owner_id "
            "WHERE a.deleted_at IS NULL AND u.deleted_at IS NULL",
        ),
        "deleted attachments": one(
            owner, "SELECT COUNT(*) FROM attachments WHERE deleted_at IS NOT NULL"
        ),
        "deletions": one(owner, "SELECT COUNT(*) FROM deletions"),
    }
    empty = [what for what, n in expected.items() if n == 0]
    if empty:
        fail(f"the seeded database has no {', '.join(empty)}: the checks would prove nothing")
    ok("the database holds " + ", ".join(f"{n} {what}" for what, n in expected.items()))

    # 1. Every view is readable; the three the API mirrors hold its totalCount.
    relations = reporting_relations(owner)
    missing = [name for name in REQUIRED_VIEWS if name not in relations]
    if missing:
        fail(f"schema reporting lacks {', '.join(missing)} (it holds {relations})")
    for name in OPTIONAL_VIEWS:
        if name not in relations:
            print(f"note: reporting.{name} does not exist on this database; skipped", flush=True)
    counts = {}
    for name in relations:
        counts[name] = one(reader, sql.SQL("SELECT COUNT(*) FROM {}").format(view(name)))
        ok(f"reporting.{name} is readable: {counts[name]} rows")
    for name in REQUIRED_VIEWS:
        if counts[name] == 0:
            fail(f"reporting.{name} is empty")

    totals = api.query(
        "{ users(includeDeleted: false) { totalCount } "
        "everyone: users(includeDeleted: true) { totalCount } "
        "attachments(includeDeleted: false) { totalCount } "
        "deletions { totalCount } }"
    )
    for name in REQUIRED_VIEWS:
        if counts[name] != totals[name]["totalCount"]:
            fail(
                f"reporting.{name} holds {counts[name]} rows, "
                f"the API's {name} totalCount is {totals[name]['totalCount']}"
            )
        ok(f"reporting.{name} count {counts[name]} = the API's {name} totalCount")
    # The owner's idea of "deleted" (used below) is the API's: live + deleted = everyone.
    everyone = expected["live users"] + expected["deleted users"]
    if totals["everyone"]["totalCount"] != everyone:
        fail(
            f"the API counts {totals['everyone']['totalCount']} users with includeDeleted, "
            f"the users table {everyone}"
        )
    ok(f"the API's users(includeDeleted: true) totalCount {everyone} = the users table's")

    # 2. The same ids as the API, and no deleted one.
    for name, kind in [("users", "User"), ("attachments", "Attachment"), ("deletions", "Deletion")]:
        shown = column(reader, sql.SQL("SELECT id FROM {}").format(view(name)))
        if len(shown) != len(set(shown)):
            fail(f"reporting.{name} repeats an id")
        listed = api.ids(name, kind)
        if set(shown) != listed:
            fail(
                f"reporting.{name} and the API's {name} differ: only in the view "
                f"{sorted(set(shown) - listed)[:20]}, only in the API {sorted(listed - set(shown))[:20]}"
            )
        ok(f"reporting.{name} holds exactly the {len(listed)} ids the API lists")
        if name == "deletions":
            continue
        # Deleted rows as the API lists them to an admin, and as the owner finds them in the
        # base table: the two must agree, and the view must show none of them.
        deleted_api = api.ids(name, kind, "onlyDeleted: true")
        deleted_table = set(column(owner, f"SELECT id FROM {name} WHERE deleted_at IS NOT NULL"))
        if deleted_api != deleted_table:
            fail(
                f"the API's deleted {name} ({len(deleted_api)}) are not the table's "
                f"({len(deleted_table)})"
            )
        leaked = deleted_table & set(shown)
        if leaked:
            fail(f"reporting.{name} shows deleted ids {sorted(leaked)[:20]}")
        ok(f"reporting.{name} shows none of the {len(deleted_table)} deleted {name}")
    # An attachment that is itself live but whose owner is deleted must not show either.
    orphaned = set(
        column(
            owner,
            "SELECT a.id FROM attachments a JOIN users u ON u.id = a.owner_id "
            "WHERE a.deleted_at IS NULL AND u.deleted_at IS NOT NULL",
        )
    )
    leaked = orphaned & set(column(reader, "SELECT id FROM reporting.attachments"))
    if leaked:
        fail(f"reporting.attachments shows attachments of deleted owners: {sorted(leaked)[:20]}")
    if orphaned:
        ok(f"reporting.attachments shows none of the {len(orphaned)} live attachments of deleted owners")
    else:
        # Deleting a user deletes their attachments too, so a seeded database has none.
        print("note: no live attachment has a deleted owner here; that filter went untested", flush=True)

    # 3. Join integrity: every attachment's owner is in the users view.
    dangling = one(
        reader,
        "SELECT COUNT(*) FROM reporting.attachments a "
        "LEFT JOIN reporting.users u ON u.id = a.owner_id WHERE u.id IS NULL",
    )
    if dangling:
        fail(f"{dangling} attachments in reporting.attachments have no owner in reporting.users")
    ok("every attachment in reporting.attachments has its owner in reporting.users")

    # 4. Refusals, each statement in a transaction of its own.
    for name in BASE_TABLES:
        refused(reader, sql.SQL("SELECT * FROM {} LIMIT 1").format(table(name)))
    # A real column of each table and view, from the owner's catalog, to aim writes at.
    first_columns = dict(
        owner.execute(
            "SELECT DISTINCT ON (table_schema, table_name) "
            "table_schema || '.' || table_name, column_name::text "
            "FROM information_schema.columns "
            "WHERE table_schema IN ('public', 'reporting') "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    )
    owner.rollback()
    for name in BASE_TABLES:
        for statement in writes(first_columns, f"public.{name}", table(name)):
            refused(reader, statement)
        refused(reader, sql.SQL("TRUNCATE {}").format(table(name)))
    for name in relations:
        # A view PostgreSQL cannot update on its own (a join, an aggregate) is refused before
        # any privilege is checked, with "cannot insert into view" (55000): a refusal too.
        for statement in writes(first_columns, f"reporting.{name}", view(name)):
            refused(reader, statement, also=(errors.ObjectNotInPrerequisiteState,))
        # So also ask PostgreSQL whether the role holds any write on it, which a trigger or a
        # rule could one day make usable even on such a view.
        held = [
            privilege
            for privilege in ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
            if one(
                reader,
                "SELECT has_table_privilege(current_user, %s, %s)",
                (f"reporting.{name}", privilege),
            )
        ]
        if held:
            fail(f"the reader holds {', '.join(held)} on reporting.{name}")
        ok(f"the reader holds no write privilege on reporting.{name}")
    for schema in ["public", "reporting"]:
        refused(reader, sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(schema, "mine")))
        refused(reader, sql.SQL("CREATE VIEW {} AS SELECT 1 AS x").format(sql.Identifier(schema, "mine_v")))

    # Nothing the refused writes aimed at changed.
    after = {name: one(reader, sql.SQL("SELECT COUNT(*) FROM {}").format(view(name))) for name in relations}
    if after != counts:
        fail(f"the views' counts changed under refused writes: {counts} -> {after}")
    ok("the views still hold what they held")


def revoked(reader: psycopg.Connection, owner: psycopg.Connection) -> None:
    is_the_reader(reader, owner)
    relations = reporting_relations(owner)
    missing = [name for name in REQUIRED_VIEWS if name not in relations]
    if missing:
        fail(f"schema reporting lacks {', '.join(missing)} (it holds {relations})")
    for name in OPTIONAL_VIEWS:
        if name not in relations:
            print(f"note: reporting.{name} does not exist on this database; skipped", flush=True)
    for name in relations:
        refused(reader, sql.SQL("SELECT COUNT(*) FROM {}").format(view(name)))
    for name in BASE_TABLES:
        refused(reader, sql.SQL("SELECT * FROM {} LIMIT 1").format(table(name)))


def main(argv: list[str]) -> None:
    if len(argv) == 5 and argv[1] == "granted":
        token = os.environ.get("KEEPSAKE_TOKEN", "")
        if not token:
            fail("granted mode needs an admin's token in KEEPSAKE_TOKEN")
        with psycopg.connect(argv[2]) as reader, psycopg.connect(argv[3]) as owner:
            granted(reader, owner, Api(argv[4], token))
        print("python report client: every check passed (granted)", flush=True)
    elif len(argv) == 4 and argv[1] == "revoked":
        with psycopg.connect(argv[2]) as reader, psycopg.connect(argv[3]) as owner:
            revoked(reader, owner)
        print("python report client: every check passed (revoked)", flush=True)
    else:
        fail(f"usage: {__doc__.splitlines()[2].strip()} | {__doc__.splitlines()[3].strip()}")


if __name__ == "__main__":
    main(sys.argv)

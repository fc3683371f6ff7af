//! `keepsake check`'s half about readers outside the API: every reporting view exists and is
//! the one the migrations define; on PostgreSQL, row-level security is on with Keepsake's
//! policy alone, and no role granted `reporting` holds anything beyond reading its views.
//!
//! A view or policy is compared with a twin PostgreSQL builds from the expected SQL, inside a
//! transaction that is rolled back (temporary objects, never committed), so the comparison is
//! PostgreSQL's own deparsed text and holds across versions. SQLite keeps each view's
//! statement as written, compared with whitespace folded.

use migration::reporting::{POLICY, POLICY_TABLES, SCHEMA, VIEWS, policy_sql};
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, QueryResult, Statement, Value};

use super::{Db, Handle, exec};

/// One broken promise: its stable kind and a message for people.
pub(super) type Finding = (&'static str, String);

/// Every finding about the reporting views, their policies and their readers.
pub(super) async fn findings(db: &Db) -> Result<Vec<Finding>, DbErr> {
    let mut found = Vec::new();
    if db.backend() != DbBackend::Postgres {
        sqlite_views(db, &mut found).await?;
        return Ok(found);
    }
    // One connection: the twins are temporary, and never committed.
    let tx = db.begin().await?;
    postgres_views(&tx, &mut found).await?;
    policies(&tx, &mut found).await?;
    tx.rollback().await?;
    for (role, object, privileges) in over_privileged(db, None).await? {
        found.push((
            "reporting-role-over-privileged",
            format!(
                "role \"{role}\" is granted {SCHEMA} but also holds {privileges} on {object}; \
                 take it back with REVOKE {privileges} ON {object} FROM \"{}\"",
                role.replace('"', "\"\"")
            ),
        ));
    }
    Ok(found)
}

/// The privileges a reporting role should not hold, per `table`, for `role` alone.
pub(super) async fn beyond_reporting(db: &Db, role: &str) -> Result<Vec<(String, String)>, DbErr> {
    Ok(over_privileged(db, Some(role))
        .await?
        .into_iter()
        .map(|(_, object, privileges)| (object, privileges))
        .collect())
}

async fn query(
    h: &impl Handle,
    sql: String,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    let conn = exec(h);
    let backend = conn.get_database_backend();
    conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
}

fn folded(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

async fn sqlite_views(db: &Db, found: &mut Vec<Finding>) -> Result<(), DbErr> {
    for view in VIEWS {
        let rows = query(
            db,
            "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?".to_owned(),
            vec![view.sqlite_name.into()],
        )
        .await?;
        let expected = view.create_sql(DbBackend::Sqlite, None);
        match rows.first() {
            None => found.push(missing(view.sqlite_name)),
            Some(row) => {
                let sql: String = row.try_get("", "sql")?;
                if folded(&sql) != folded(&expected) {
                    found.push(altered(view.sqlite_name, &expected));
                }
            }
        }
    }
    Ok(())
}

fn missing(name: &str) -> Finding {
    (
        "reporting-view-missing",
        format!(
            "reporting view {name} is missing; run keepsake migrate on a new database, or recreate it"
        ),
    )
}

fn altered(name: &str, expected: &str) -> Finding {
    (
        "reporting-view-altered",
        format!(
            "reporting view {name} is not the one Keepsake's migrations define (it may show \
             hidden rows or other columns); recreate it: DROP VIEW {name}; {expected}"
        ),
    )
}

async fn postgres_views(tx: &impl Handle, found: &mut Vec<Finding>) -> Result<(), DbErr> {
    for view in VIEWS {
        let name = format!("{SCHEMA}.{}", view.name);
        let rows = query(
            tx,
            "SELECT c.relkind::text AS kind, \
               COALESCE(array_to_string(c.reloptions, ','), '') AS options \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2"
                .to_owned(),
            vec![SCHEMA.into(), view.name.into()],
        )
        .await?;
        let expected = view.create_sql(DbBackend::Postgres, None);
        let Some(row) = rows.first() else {
            found.push(missing(&name));
            continue;
        };
        let (kind, options): (String, String) =
            (row.try_get("", "kind")?, row.try_get("", "options")?);
        if kind != "v" {
            found.push(altered(&name, &expected));
            continue;
        }
        let twin = format!("pg_temp.keepsake_expected_{}", view.name);
        exec(tx)
            .execute_unprepared(&view.create_sql(DbBackend::Postgres, Some(&twin)))
            .await?;
        let same = query(
            tx,
            format!("SELECT pg_get_viewdef('{twin}'::regclass) = pg_get_viewdef('{name}'::regclass) AS same"),
            vec![],
        )
        .await?;
        let same = match same.first() {
            Some(row) => row.try_get::<bool>("", "same")?,
            None => false,
        };
        if !same || !options.split(',').any(|o| o == "security_barrier=true") {
            found.push(altered(&name, &expected));
        }
    }
    Ok(())
}

/// Row-level security is on for `users` and `attachments`, with Keepsake's policy as it was
/// made, for every role and command, and no other permissive policy (they would add rows).
async fn policies(tx: &impl Handle, found: &mut Vec<Finding>) -> Result<(), DbErr> {
    for table in POLICY_TABLES {
        let twin = format!("pg_temp.keepsake_policy_on_{table}");
        exec(tx)
            .execute_unprepared(&format!("CREATE TEMP TABLE {twin} (LIKE {table})"))
            .await?;
        exec(tx)
            .execute_unprepared(&policy_sql(table, &twin))
            .await?;
        let sql = format!(
            "SELECT c.relrowsecurity AS enabled, \
               EXISTS (SELECT 1 FROM pg_policy p, pg_policy t \
                 WHERE p.polrelid = c.oid AND p.polname = $1 AND t.polrelid = '{twin}'::regclass \
                   AND p.polcmd = t.polcmd AND p.polpermissive AND p.polroles = t.polroles \
                   AND pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(t.polqual, t.polrelid) \
                   AND p.polwithcheck IS NULL) AS ours, \
               COALESCE((SELECT string_agg(p.polname::text, ', ' ORDER BY p.polname) \
                 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname <> $1 \
                   AND p.polpermissive), '') AS others \
             FROM pg_class c WHERE c.oid = '{table}'::regclass"
        );
        let rows = query(tx, sql, vec![POLICY.into()]).await?;
        let Some(row) = rows.first() else { continue };
        if !row.try_get::<bool>("", "enabled")? {
            found.push((
                "row-level-security-off",
                format!(
                    "row-level security is off on {table}, so a role granted it by mistake \
                     would read deleted rows; turn it back on: ALTER TABLE {table} ENABLE ROW \
                     LEVEL SECURITY"
                ),
            ));
        }
        if !row.try_get::<bool>("", "ours")? {
            found.push((
                "row-level-security-altered",
                format!(
                    "policy {POLICY} on {table} is missing or not the one Keepsake's \
                     migrations define; recreate it: DROP POLICY IF EXISTS {POLICY} ON \
                     {table}; {}",
                    policy_sql(table, table)
                ),
            ));
        }
        let others: String = row.try_get("", "others")?;
        if !others.is_empty() {
            found.push((
                "row-level-security-widened",
                format!(
                    "{table} has permissive policies besides {POLICY} ({others}); permissive \
                     policies add rows, so other roles may read deleted ones"
                ),
            ));
        }
    }
    Ok(())
}

/// Roles granted schema `reporting` (named in its access list; its owner and superusers
/// aside) with any privilege beyond reading the views: on a table, view or schema of
/// Keepsake's (`settings`, the archive, the base tables), or a write on a reporting view.
/// One `(role, object, privileges)` per role and object, sorted.
async fn over_privileged(
    db: &Db,
    role: Option<&str>,
) -> Result<Vec<(String, String, String)>, DbErr> {
    let sql = format!(
        "WITH readers AS ( \
           SELECT DISTINCT r.oid, r.rolname::text AS rolname \
           FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a \
           JOIN pg_roles r ON r.oid = a.grantee \
           WHERE n.nspname = '{SCHEMA}' AND a.grantee <> n.nspowner AND NOT r.rolsuper \
             AND ($1::text IS NULL OR r.rolname = $1)), \
         home AS (SELECT relnamespace AS oid FROM pg_class WHERE oid = 'users'::regclass), \
         objects AS ( \
           SELECT c.oid, n.nspname = '{SCHEMA}' AS is_view, \
             CASE WHEN n.nspname = '{SCHEMA}' THEN n.nspname || '.' || c.relname \
                  ELSE c.relname::text END AS name \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND (n.oid = (SELECT oid FROM home) OR n.nspname = '{SCHEMA}')), \
         privileges(p) AS (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), \
           ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) \
         SELECT role, object, string_agg(p, ', ' ORDER BY p) AS privileges FROM ( \
           SELECT r.rolname AS role, o.name AS object, p.p \
           FROM readers r CROSS JOIN objects o CROSS JOIN privileges p \
           WHERE NOT (o.is_view AND p.p = 'SELECT') AND CASE \
             WHEN p.p IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') \
               THEN has_any_column_privilege(r.oid, o.oid, p.p) \
             ELSE has_table_privilege(r.oid, o.oid, p.p) END \
           UNION ALL \
           SELECT r.rolname, 'schema ' || n.nspname, 'CREATE' \
           FROM readers r CROSS JOIN pg_namespace n \
           WHERE (n.oid = (SELECT oid FROM home) OR n.nspname = '{SCHEMA}') \
             AND has_schema_privilege(r.oid, n.oid, 'CREATE')) x \
         GROUP BY role, object ORDER BY role, object"
    );
    let mut out = Vec::new();
    for row in query(db, sql, vec![role.map(str::to_owned).into()]).await? {
        out.push((
            row.try_get("", "role")?,
            row.try_get("", "object")?,
            row.try_get("", "privileges")?,
        ));
    }
    Ok(out)
}

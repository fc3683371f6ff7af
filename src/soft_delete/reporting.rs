//! Readers outside the API: `keepsake reporting grant|revoke ROLE` opens or closes the
//! `reporting` schema's views to an existing PostgreSQL role, and nothing else. The views,
//! the row-level security behind them and their names come from the migrations
//! (`migration::reporting`); `reporting_check.rs` verifies them for `keepsake check`.

use migration::reporting::{SCHEMA, VIEWS};
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, RuntimeErr, Statement};

use super::{Db, exec};

/// Why a grant or revoke did nothing.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// SQLite has no roles: whoever can open the file reads all of it.
    #[error(
        "SQLite has no roles, so there is nothing to grant or revoke: whoever can open the \
         database file reads all of it. Point reports at the views reporting_users, \
         reporting_attachments and reporting_deletions and open the file read-only \
         (sqlite3 -readonly FILE, or the URI file:FILE?mode=ro)"
    )]
    NoRoles,
    /// No role of that name exists (grant never creates one).
    #[error(
        "PostgreSQL has no role named \"{0}\" (names are case-sensitive); create it first, \
         e.g. CREATE ROLE {1} LOGIN PASSWORD '…'"
    )]
    NoSuchRole(String, String),
    /// The role is Keepsake's own (or a superuser): it reads everything already.
    #[error("role \"{0}\" {1}; grant reporting to a role of its own")]
    NotAReader(String, &'static str),
    /// The database user running Keepsake may not grant on the views; `sql` is what an
    /// administrator can run instead.
    #[error(
        "the database user \"{user}\" may not grant or revoke on schema {SCHEMA} (only its \
         owner, a superuser or a holder of the grant option may); an administrator can run \
         the SQL printed above"
    )]
    MayNotGrant { user: String, sql: Vec<String> },
    /// Anything else the database said.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// `name` as a PostgreSQL identifier, quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every view, schema-qualified, comma-separated.
fn view_list() -> String {
    VIEWS
        .iter()
        .map(|v| format!("{SCHEMA}.{}", v.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements that give `role` read access to the reporting views and nothing else.
pub fn grant_sql(role: &str) -> Vec<String> {
    let role = quote_ident(role);
    vec![
        format!("GRANT USAGE ON SCHEMA {SCHEMA} TO {role};"),
        format!("GRANT SELECT ON {} TO {role};", view_list()),
    ]
}

/// The statements that take every privilege on the reporting schema and its views back.
pub fn revoke_sql(role: &str) -> Vec<String> {
    let role = quote_ident(role);
    vec![
        format!("REVOKE ALL ON {} FROM {role};", view_list()),
        format!("REVOKE ALL ON SCHEMA {SCHEMA} FROM {role};"),
    ]
}

/// Gives `role` USAGE on schema `reporting` and SELECT on its views. Idempotent; returns one
/// line per privilege saying whether it was granted now or held already, then a warning for
/// each privilege the role holds beyond them (which `keepsake check` reports).
pub async fn grant(db: &Db, role: &str) -> Result<Vec<String>, Refusal> {
    let who = reader(db, role).await?;
    may_grant(db, grant_sql(role)).await?;
    let mut lines = Vec::new();
    let before = held(db, role).await?;
    let tx = db.begin().await?;
    for sql in grant_sql(role) {
        exec(&tx)
            .execute_unprepared(&sql)
            .await
            .map_err(|err| denied(err, &who, grant_sql(role)))?;
    }
    tx.commit().await?;
    for (what, had) in before {
        lines.push(if had {
            format!("{role} already had {what}")
        } else {
            format!("granted {what} to {role}")
        });
    }
    for (table, privileges) in super::reporting_check::beyond_reporting(db, role).await? {
        lines.push(format!(
            "warning: {role} also holds {privileges} on {table}; keepsake check reports it \
             until an administrator runs REVOKE {privileges} ON {table} FROM {}",
            quote_ident(role)
        ));
    }
    Ok(lines)
}

/// Takes back every privilege `role` holds on schema `reporting` and its views. Idempotent.
pub async fn revoke(db: &Db, role: &str) -> Result<Vec<String>, Refusal> {
    let who = reader(db, role).await?;
    may_grant(db, revoke_sql(role)).await?;
    let before = held(db, role).await?;
    let tx = db.begin().await?;
    for sql in revoke_sql(role) {
        exec(&tx)
            .execute_unprepared(&sql)
            .await
            .map_err(|err| denied(err, &who, revoke_sql(role)))?;
    }
    tx.commit().await?;
    Ok(before
        .into_iter()
        .map(|(what, had)| {
            if had {
                format!("revoked {what} from {role}")
            } else {
                format!("{role} did not hold {what}")
            }
        })
        .collect())
}

/// The database user running Keepsake, after checking that `role` exists and is a role that
/// reporting can mean something to (not Keepsake's own, not a superuser).
async fn reader(db: &Db, role: &str) -> Result<String, Refusal> {
    if db.backend() != DbBackend::Postgres {
        return Err(Refusal::NoRoles);
    }
    let sql = format!(
        "SELECT r.rolsuper AS superuser, current_user::text AS me, \
           COALESCE(pg_has_role(r.oid, (SELECT nspowner FROM pg_namespace \
             WHERE nspname = '{SCHEMA}'), 'MEMBER'), false) AS owner \
         FROM pg_roles r WHERE r.rolname = $1"
    );
    let row = exec(db)
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [role.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Err(Refusal::NoSuchRole(role.to_owned(), quote_ident(role)));
    };
    let me: String = row.try_get("", "me")?;
    if row.try_get::<bool>("", "superuser")? {
        return Err(Refusal::NotAReader(
            role.to_owned(),
            "is a superuser and reads everything",
        ));
    }
    if role == me || row.try_get::<bool>("", "owner")? {
        return Err(Refusal::NotAReader(
            role.to_owned(),
            "is Keepsake's own (it owns the tables and the views)",
        ));
    }
    Ok(me)
}

/// Refuses, with the SQL for an administrator, when the user running Keepsake holds no grant
/// option on the schema and every view (owners and superusers hold it implicitly).
async fn may_grant(db: &Db, sql: Vec<String>) -> Result<(), Refusal> {
    // By oid: looking a name up in a schema one may not use is itself an error.
    let names: Vec<String> = VIEWS.iter().map(|v| format!("'{}'", v.name)).collect();
    let query = format!(
        "SELECT current_user::text AS me, \
           has_schema_privilege(n.oid, 'USAGE WITH GRANT OPTION') \
           AND COALESCE((SELECT bool_and(has_table_privilege(c.oid, 'SELECT WITH GRANT OPTION')) \
             FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname IN ({})), false) AS may \
         FROM pg_namespace n WHERE n.nspname = '{SCHEMA}'",
        names.join(", ")
    );
    let row = exec(db)
        .query_one_raw(Statement::from_string(DbBackend::Postgres, query))
        .await?
        .ok_or_else(|| {
            DbErr::Custom(format!("schema {SCHEMA} is missing: run keepsake migrate"))
        })?;
    if row.try_get::<bool>("", "may")? {
        Ok(())
    } else {
        Err(Refusal::MayNotGrant {
            user: row.try_get("", "me")?,
            sql,
        })
    }
}

/// A refused statement as [`Refusal::MayNotGrant`] (the check before it raced a change of
/// rights), anything else as it came.
fn denied(err: DbErr, user: &str, sql: Vec<String>) -> Refusal {
    let code = match &err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned())),
        _ => None,
    };
    if code.as_deref() == Some("42501") {
        Refusal::MayNotGrant {
            user: user.to_owned(),
            sql,
        }
    } else {
        Refusal::Db(err)
    }
}

/// Each privilege reporting means, named for people, and whether `role` holds it now.
async fn held(db: &Db, role: &str) -> Result<Vec<(String, bool)>, DbErr> {
    let mut tests = vec![(
        format!("USAGE on schema {SCHEMA}"),
        format!("has_schema_privilege($1, '{SCHEMA}', 'USAGE')"),
    )];
    for view in VIEWS {
        tests.push((
            format!("SELECT on {SCHEMA}.{}", view.name),
            format!(
                "has_table_privilege($1, '{SCHEMA}.{}', 'SELECT')",
                view.name
            ),
        ));
    }
    let columns: Vec<String> = tests
        .iter()
        .enumerate()
        .map(|(i, (_, test))| format!("{test} AS p{i}"))
        .collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let row = exec(db)
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [role.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("privileges".to_owned()))?;
    tests
        .into_iter()
        .enumerate()
        .map(|(i, (what, _))| Ok((what, row.try_get::<bool>("", &format!("p{i}"))?)))
        .collect()
}

//! Which blobs attachment rows refer to (live, deleted or not yet purged alike), and the lock
//! that keeps an upload of some bytes and the erasure of the same bytes' blob apart.

use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, Statement};

use super::{Handle, Tx, exec};
use crate::entity::attachment;

/// Holds, until `tx` ends, the lock on blob `sha256`: whoever checks that no row refers to a
/// blob before erasing it, and whoever makes a row refer to it after making sure it exists,
/// take it first, so neither acts on what the other is changing. PostgreSQL: a transaction
/// advisory lock on the hash's 64-bit hash. SQLite: every write transaction already holds the
/// database (`BEGIN IMMEDIATE`).
pub async fn lock_blob(tx: &Tx, sha256: &str) -> Result<(), DbErr> {
    let conn = exec(tx);
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))",
        [sha256.into()],
    ))
    .await?;
    Ok(())
}

/// Whether any attachment row, live or deleted, refers to blob `sha256`.
pub async fn blob_in_use(h: &impl Handle, sha256: &str) -> Result<bool, DbErr> {
    let conn = exec(h);
    let query = Query::select()
        .expr(Expr::val(1))
        .from(attachment::Entity)
        .and_where(Expr::col(attachment::Column::Sha256).eq(sha256))
        .limit(1)
        .to_owned();
    Ok(conn
        .query_one_raw(conn.get_database_backend().build(&query))
        .await?
        .is_some())
}

/// Every blob some attachment row, live or deleted, refers to.
pub async fn blobs_in_use(h: &impl Handle) -> Result<Vec<String>, DbErr> {
    let conn = exec(h);
    let query = Query::select()
        .distinct()
        .column(attachment::Column::Sha256)
        .from(attachment::Entity)
        .and_where(Expr::col(attachment::Column::Sha256).is_not_null())
        .to_owned();
    let rows = conn
        .query_all_raw(conn.get_database_backend().build(&query))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "sha256"))
        .collect()
}

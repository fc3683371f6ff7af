//! Which blobs attachment rows refer to (live, deleted or not yet purged alike), and the lock
//! that keeps an upload of some bytes and the erasure of the same bytes' blob apart.

use sea_orm::prelude::DateTimeUtc;
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

/// Distinct blobs and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobTotal {
    /// How many distinct blobs.
    pub blobs: i64,
    /// Their bytes, each blob counted once however many rows hold it.
    pub bytes: i64,
}

/// What the store holds for whom: live rows' blobs, deleted rows' blobs, and the blobs only
/// deleted rows refer to (what purging every deleted row would free).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageFigures {
    pub live: BlobTotal,
    pub deleted: BlobTotal,
    pub only_deleted: BlobTotal,
}

/// The distinct blobs of the attachment rows `held` selects that no row `kept` selects refers
/// to (`kept` empty: none excluded), with `params` bound in order.
async fn blob_total(
    h: &impl Handle,
    held: &str,
    kept: Option<&str>,
    params: Vec<sea_orm::Value>,
) -> Result<BlobTotal, DbErr> {
    let conn = exec(h);
    let backend = conn.get_database_backend();
    let excluded = kept.map_or(String::new(), |kept| {
        format!(
            " AND sha256 NOT IN (SELECT sha256 FROM attachments WHERE sha256 IS NOT NULL AND ({kept}))"
        )
    });
    let mut sql = format!(
        "SELECT COUNT(*) AS blobs, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM \
         (SELECT sha256, MAX(size_bytes) AS size FROM attachments \
          WHERE sha256 IS NOT NULL AND ({held}){excluded} GROUP BY sha256) held_blobs"
    );
    // `?` placeholders in order; PostgreSQL numbers them.
    if backend == DbBackend::Postgres {
        let mut n = 0;
        sql = sql
            .split('?')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.to_owned()
                } else {
                    n += 1;
                    format!("${n}{part}")
                }
            })
            .collect();
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, params))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("a blob total".into()))?;
    Ok(BlobTotal {
        blobs: row.try_get("", "blobs")?,
        bytes: row.try_get("", "bytes")?,
    })
}

/// The store's figures now.
pub async fn storage_figures(h: &impl Handle) -> Result<StorageFigures, DbErr> {
    Ok(StorageFigures {
        live: blob_total(h, "deleted_at IS NULL", None, vec![]).await?,
        deleted: blob_total(h, "deleted_at IS NOT NULL", None, vec![]).await?,
        only_deleted: blob_total(
            h,
            "deleted_at IS NOT NULL",
            Some("deleted_at IS NULL"),
            vec![],
        )
        .await?,
    })
}

/// The blobs a purge of rows deleted before `cutoff` would free: those such rows refer to
/// and no row that stays does (a held owner's rows stay).
pub async fn purge_would_free(h: &impl Handle, cutoff: DateTimeUtc) -> Result<BlobTotal, DbErr> {
    let cutoff = super::to_micros(cutoff);
    const HELD: &str = "owner_id IN (SELECT user_id FROM legal_holds WHERE released_at IS NULL)";
    blob_total(
        h,
        &format!("deleted_at < ? AND NOT {HELD}"),
        Some(&format!("deleted_at IS NULL OR deleted_at >= ? OR {HELD}")),
        vec![cutoff.into(), cutoff.into()],
    )
    .await
}

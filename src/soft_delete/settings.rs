//! The `settings` table and the lock that keeps a job to one server at a time.

use sea_orm::TransactionTrait as _;
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, EntityTrait};

use super::{Db, Handle, exec};
use crate::entity::setting;

/// The value stored under `key` in `settings`.
pub async fn setting(h: &impl Handle, key: &str) -> Result<Option<String>, DbErr> {
    #[allow(clippy::disallowed_methods)] // settings are the core's own table
    let select = setting::Entity::find_by_id(key.to_owned());
    Ok(select.one(&exec(h)).await?.map(|s| s.value))
}

/// Stores `value` under `key` unless a value is there already, and returns the value that is
/// there afterwards: two servers starting at once agree on one.
pub async fn setting_or_insert(h: &impl Handle, key: &str, value: &str) -> Result<String, DbErr> {
    let row = setting::ActiveModel {
        key: sea_orm::Set(key.to_owned()),
        value: sea_orm::Set(value.to_owned()),
    };
    let insert = setting::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&exec(h))
        .await;
    match insert {
        Ok(_) | Err(DbErr::RecordNotInserted) => {}
        Err(err) => return Err(err),
    }
    setting(h, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("setting {key}")))
}

/// Stores `value` under `key` unless a value there already sorts after it, so a setting that
/// only grows (a moment written in one fixed-width format) never goes back, whatever order
/// concurrent writers commit in.
pub(super) async fn raise_setting(h: &impl Handle, key: &str, value: &str) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _};
    let row = setting::ActiveModel {
        key: sea_orm::Set(key.to_owned()),
        value: sea_orm::Set(value.to_owned()),
    };
    let insert = setting::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(setting::Column::Key)
                .update_column(setting::Column::Value)
                .action_and_where(
                    Expr::col((setting::Entity, setting::Column::Value))
                        .lt(Expr::col((Alias::new("excluded"), setting::Column::Value))),
                )
                .to_owned(),
        )
        .exec_without_returning(&exec(h))
        .await;
    match insert {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Runs `job` only if no other Keepsake server is running it: on PostgreSQL under a
/// transaction-scoped advisory lock (`None` when another server holds it); on SQLite, which
/// one process serves, at once.
pub async fn exclusively<T, F>(db: &Db, job: F) -> Result<Option<T>, DbErr>
where
    F: std::future::Future<Output = T>,
{
    if db.backend() != DbBackend::Postgres {
        return Ok(Some(job.await));
    }
    // The lock lives as long as this transaction; the job's own batches run beside it.
    let lock = db.conn.begin().await?;
    if db.transaction_pooler {
        lock.execute_unprepared(super::pooler::FORGET_PREPARED)
            .await?;
    }
    let row = lock
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_try_advisory_xact_lock({PURGE_LOCK_KEY}) AS locked"),
        ))
        .await?;
    let locked = match row {
        Some(row) => row.try_get::<bool>("", "locked")?,
        None => false,
    };
    if !locked {
        return Ok(None);
    }
    let out = job.await;
    lock.commit().await?;
    Ok(Some(out))
}

/// The advisory lock key of the retention purge ("keep" in ASCII).
const PURGE_LOCK_KEY: i64 = 0x6b65_6570;

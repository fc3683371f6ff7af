//! The archive's own retention (`KEEPSAKE_ARCHIVE_RETENTION`): archived rows older than a
//! cutoff erased, oldest first, a batch a transaction.
//!
//! Each batch that erases rows also records, in `settings`, the latest cutoff any batch used
//! ([`ARCHIVE_ERASED_BEFORE`], never lowered), in the same transaction. `keepsake check` reads
//! it: a row is archived no earlier than its deletion's purge began, so a deletion whose purge
//! began at or after that moment still has every archived row, and only older ones may have
//! lost some.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Expr, ExprTrait as _, Order, Query};
use sea_orm::{ColumnTrait as _, DbErr, EntityTrait as _, QueryFilter as _};

use super::settings::{raise_setting, setting};
use super::{Db, Handle, exec, to_micros};
use crate::entity::archive;

/// The `settings` key holding the latest cutoff before which archived rows were erased.
pub const ARCHIVE_ERASED_BEFORE: &str = "archive_erased_before";

/// The moment before which archived rows may have been erased, if any ever were.
pub async fn archive_erased_before(h: &impl Handle) -> Result<Option<DateTimeUtc>, DbErr> {
    let Some(text) = setting(h, ARCHIVE_ERASED_BEFORE).await? else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|at| Some(at.to_utc()))
        .map_err(|err| DbErr::Custom(format!("setting {ARCHIVE_ERASED_BEFORE}: {err}")))
}

/// Erases up to `batch` archived rows archived before `cutoff`, oldest first, in one
/// transaction, and records the cutoff when it erased any; returns how many it erased (fewer
/// than `batch`: none older are left).
pub async fn erase_archived_batch(db: &Db, cutoff: DateTimeUtc, batch: u64) -> Result<u64, DbErr> {
    let cutoff = to_micros(cutoff);
    let tx = db.begin().await?;
    let oldest = Query::select()
        .column(archive::Column::Id)
        .from(archive::Entity)
        .and_where(Expr::col(archive::Column::ArchivedAt).lt(cutoff))
        .order_by(archive::Column::ArchivedAt, Order::Asc)
        .order_by(archive::Column::Id, Order::Asc)
        .limit(batch)
        .to_owned();
    #[allow(clippy::disallowed_methods)] // the archive is the core's own table; never soft-deleted
    let erase = archive::Entity::delete_many();
    let erased = erase
        .filter(archive::Column::Id.in_subquery(oldest))
        .exec(&exec(&tx))
        .await?
        .rows_affected;
    if erased > 0 {
        // One fixed-width format, so the text sorts as the moments do.
        let text = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        raise_setting(&tx, ARCHIVE_ERASED_BEFORE, &text).await?;
    }
    tx.commit().await?;
    Ok(erased)
}

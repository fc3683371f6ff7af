//! Statistics for support and admins: `deletionStats` over a period of the log, and
//! `storageStats`, what the object store holds now for live and for deleted rows.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::deletion::DeletedEntity;
use super::scalars::SafeInt;
use crate::error::Result;
use crate::service::{log, stored_entity};
use crate::soft_delete::BlobTotal;

/// Deletions, restores and purges on one day, for one entity.
#[derive(async_graphql::SimpleObject, Clone, Debug)]
pub struct DeletionDay {
    /// The day, `YYYY-MM-DD` in UTC.
    pub day: String,
    /// What the day's deletions were of.
    pub entity: DeletedEntity,
    /// Deletions made that day.
    pub deletions: i64,
    /// Rows those deletions hid besides the ones asked for (cascades, bulk deletes).
    pub cascaded_rows: i64,
    /// Deletions undone that day.
    pub restores: i64,
    /// Deletions whose rows were purged that day.
    pub purges: i64,
    /// Median seconds from a deletion to its restore, over the restores of that day; null
    /// when there were none.
    pub median_seconds_to_restore: Option<f64>,
}

/// How often a reason was given.
#[derive(async_graphql::SimpleObject, Clone, Debug)]
pub struct ReasonCount {
    /// The reason as given; null for deletions without one.
    pub reason: Option<String>,
    /// How many times it was given.
    pub count: i64,
}

/// What the deletion log says about a period: the business view of deleted data.
#[derive(async_graphql::SimpleObject, Clone, Debug)]
pub struct DeletionStats {
    /// Start of the period (inclusive), to the microsecond.
    pub since: DateTime<Utc>,
    /// End of the period (exclusive), to the microsecond.
    pub until: DateTime<Utc>,
    /// Per day and entity, oldest first.
    pub days: Vec<DeletionDay>,
    /// The ten most given reasons of the period's deletions, most first.
    pub top_reasons: Vec<ReasonCount>,
    /// The ten most given reasons of the period's restores, most first.
    pub top_restore_reasons: Vec<ReasonCount>,
    /// Median seconds from a deletion to its restore, over the period's restores; null when
    /// none.
    pub median_seconds_to_restore: Option<f64>,
}

/// Statistics over the deletion log.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Deletions and restores per day and entity, top reasons and the median time to
    /// restore over `[since, until)` (default: the last 30 days), both taken to the
    /// microsecond (the precision moments are stored at). Support and admins.
    async fn deletion_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the period, inclusive (default: 30 days before `until`).")]
        since: Option<DateTime<Utc>>,
        #[graphql(desc = "End of the period, exclusive (default: now).")] until: Option<
            DateTime<Utc>,
        >,
    ) -> Result<DeletionStats> {
        let viewer = ctx.viewer()?;
        DeletionStats::try_from(log::stats(ctx.db()?, viewer, since, until).await?)
    }

    /// What the object store holds now for live and for deleted attachments, and what a
    /// purge of every deleted one would free. Support and admins.
    async fn storage_stats(&self, ctx: &Context<'_>) -> Result<StorageStats> {
        let viewer = ctx.viewer()?;
        Ok(log::storage(ctx.db()?, viewer).await?.into())
    }
}

impl TryFrom<log::PeriodStats> for DeletionStats {
    type Error = crate::error::Error;

    fn try_from(period: log::PeriodStats) -> Result<DeletionStats> {
        let reasons = |counts: Vec<(Option<String>, i64)>| {
            let counts = counts.into_iter();
            counts
                .map(|(reason, count)| ReasonCount { reason, count })
                .collect()
        };
        let stats = period.stats;
        Ok(DeletionStats {
            since: period.since,
            until: period.until,
            days: stats
                .days
                .into_iter()
                .map(DeletionDay::try_from)
                .collect::<Result<_>>()?,
            top_reasons: reasons(stats.top_reasons),
            top_restore_reasons: reasons(stats.top_restore_reasons),
            median_seconds_to_restore: stats.median_seconds_to_restore,
        })
    }
}

impl TryFrom<crate::soft_delete::DayStats> for DeletionDay {
    type Error = crate::error::Error;

    fn try_from(day: crate::soft_delete::DayStats) -> Result<DeletionDay> {
        Ok(DeletionDay {
            entity: stored_entity(&day.entity)?.into(),
            day: day.day,
            deletions: day.deletions,
            cascaded_rows: day.cascaded_rows,
            restores: day.restores,
            purges: day.purges,
            median_seconds_to_restore: day.median_seconds_to_restore,
        })
    }
}

/// Attachment content in the object store now, each blob counted once however many rows
/// hold it. Bytes are `SafeInt`s: a store passes `Int`'s 2^31 soon.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct StorageStats {
    /// Bytes of the blobs live attachments hold.
    pub live_bytes: SafeInt,
    /// How many distinct blobs live attachments hold.
    pub live_blobs: i64,
    /// Bytes of the blobs deleted (not yet purged) attachments hold; some may be live
    /// attachments' too.
    pub deleted_bytes: SafeInt,
    /// How many distinct blobs deleted attachments hold.
    pub deleted_blobs: i64,
    /// What purging every deleted attachment would free: the bytes of the blobs only deleted
    /// attachments refer to (`purgeDeleted(dryRun: true)` tells it for an age).
    pub purge_frees_bytes: SafeInt,
    /// How many blobs that is.
    pub purge_frees_blobs: i64,
}

impl From<crate::soft_delete::StorageFigures> for StorageStats {
    fn from(figures: crate::soft_delete::StorageFigures) -> StorageStats {
        let bytes = |t: BlobTotal| SafeInt(t.bytes);
        StorageStats {
            live_bytes: bytes(figures.live),
            live_blobs: figures.live.blobs,
            deleted_bytes: bytes(figures.deleted),
            deleted_blobs: figures.deleted.blobs,
            purge_frees_bytes: bytes(figures.only_deleted),
            purge_frees_blobs: figures.only_deleted.blobs,
        }
    }
}

//! The deliberate end of a deleted row: archive it, then erase it, in batches. Used by
//! `purgeDeleted`, `keepsake purge` and the retention job alike; the retention job also drops
//! the outbox's old events and, when the archive has a retention, its old rows.

use std::time::Duration;

use crate::auth::Viewer;
use crate::duration;
use crate::entity::archive;
use crate::error::{Error, Result};
use crate::service::content;
use crate::service::permissions::{Action, require};
use crate::service::{Listing, PageArgs, PageRequest, Total};
use crate::soft_delete::{self, ArchiveFilter, Db, EntityKind, Handle, RowCounts, Scope};
use crate::storage::Storage;

/// Rows per batch (one transaction each) unless asked otherwise.
pub const DEFAULT_BATCH: u64 = 5_000;

/// What a purge did, or on a dry run would do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Users archived and erased (on a dry run: that would be).
    pub users: u64,
    /// Attachments archived and erased (on a dry run: that would be).
    pub attachments: u64,
    /// Rows copied to the archive; 0 on a dry run.
    pub archived: u64,
    /// Bytes of attachment content erased (on a dry run: that would be), each blob once: the
    /// blobs of purged rows that no remaining row refers to.
    pub freed_bytes: u64,
    /// Rows deleted before the cutoff that were skipped (on a dry run: would be) because
    /// their user, or their owner, is under a legal hold.
    pub held: u64,
    /// Whether this was a dry run that changed nothing.
    pub dry_run: bool,
}

/// Parses an `olderThan` duration, naming the argument in the error.
pub fn parse_older_than(text: &str) -> Result<Duration> {
    duration::parse(text).map_err(|problem| Error::bad_input(format!("olderThan: {problem}")))
}

/// `archivedRecords`: purged rows, oldest archived first, for admins.
pub async fn archived(
    h: &impl Handle,
    viewer: &Viewer,
    entity: Option<EntityKind>,
    page: PageArgs<'_>,
) -> Result<Listing<archive::Model>> {
    require(
        viewer,
        Action::Purge,
        None,
        "only an admin may read the archive",
    )?;
    let page = PageRequest::parse(page)?;
    let filter = ArchiveFilter {
        entity,
        since: None,
    };
    let found = filter.page(h, page).await?;
    Ok(Listing::of(
        found,
        page,
        Scope::Live,
        Total::Archive(filter),
    ))
}

/// `purgeDeleted`: admins only; `olderThan` as the client wrote it (`30d`, `24h`, `90s`…).
pub async fn purge_as(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    older_than: &str,
    dry_run: bool,
) -> Result<PurgeReport> {
    // The role first: a member learns nothing from how their argument was written.
    require(
        viewer,
        Action::Purge,
        None,
        "only an admin may purge deleted data",
    )?;
    let older_than = parse_older_than(older_than)?;
    let report = purge(db, storage, older_than, dry_run, DEFAULT_BATCH, |_, _| {}).await?;
    tracing::info!(actor = viewer.id(), ?report, "purge requested");
    Ok(report)
}

/// Archives and erases every row deleted longer than `older_than` ago, `batch` rows per
/// transaction. `progress(done, total)` is told after each batch. An interrupted purge
/// leaves every row either still soft-deleted or archived. After each batch commits, the
/// blobs its attachments held are erased if no other row refers to them (a crash between
/// leaves an orphan blob, never a row without its bytes).
pub async fn purge(
    db: &Db,
    storage: &Storage,
    older_than: Duration,
    dry_run: bool,
    batch: u64,
    progress: impl FnMut(u64, u64),
) -> Result<PurgeReport> {
    purge_until(db, storage, older_than, dry_run, batch, progress, &|| false).await
}

/// [`purge`], asking `stop` before each batch: once it says yes, the purge ends there, its
/// batches so far done whole, the rest left for the next one.
pub async fn purge_until(
    db: &Db,
    storage: &Storage,
    older_than: Duration,
    dry_run: bool,
    batch: u64,
    mut progress: impl FnMut(u64, u64),
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<PurgeReport> {
    if batch == 0 {
        return Err(Error::bad_input("batch size: must be at least 1"));
    }
    let now = soft_delete::now();
    let span = chrono::Duration::from_std(older_than)
        .map_err(|_| Error::bad_input("olderThan: too long a duration"))?;
    // No row was deleted before 1970; a longer olderThan purges nothing, and the cutoff stays
    // inside the range every database can store (PostgreSQL's ends at 4713 BC).
    let cutoff = (now - span).max(chrono::DateTime::UNIX_EPOCH);
    let candidates = soft_delete::purge_candidates(db, cutoff).await?;
    let held = soft_delete::held_rows(db, cutoff).await?;
    if dry_run {
        let frees = soft_delete::purge_would_free(db, cutoff).await?;
        return Ok(PurgeReport {
            users: candidates.users,
            attachments: candidates.attachments,
            archived: 0,
            freed_bytes: u64::try_from(frees.bytes).unwrap_or(0),
            held,
            dry_run: true,
        });
    }
    let total = candidates.total();
    let mut done = RowCounts::default();
    let mut freed = 0u64;
    progress(0, total);
    let mut cursor = soft_delete::PurgeCursor::default();
    while !stop() {
        let outcome =
            soft_delete::purge_batch(db, cutoff, batch, soft_delete::now(), &mut cursor).await?;
        if !outcome.found {
            break;
        }
        for sha256 in &outcome.blobs {
            freed += content::erase_if_unused(db, storage, sha256)
                .await
                .unwrap_or(0);
        }
        let purged = outcome.purged;
        done.users += purged.users;
        done.attachments += purged.attachments;
        progress(done.total(), total.max(done.total()));
    }
    Ok(PurgeReport {
        users: done.users,
        attachments: done.attachments,
        archived: done.total(),
        freed_bytes: freed,
        held,
        dry_run: false,
    })
}

/// What the retention job removes, and after how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Purge rows deleted longer ago than this (`KEEPSAKE_RETENTION`); `None`: never.
    pub rows: Option<Duration>,
    /// Drop the outbox's events older than this (`KEEPSAKE_EVENT_RETENTION`).
    pub events: Duration,
    /// Erase archived rows archived longer ago than this (`KEEPSAKE_ARCHIVE_RETENTION`);
    /// `None`: keep the archive forever.
    pub archive: Option<Duration>,
}

/// What one tick of the retention job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The purge's report, when rows are purged on a schedule.
    pub purge: Option<PurgeReport>,
    /// Events dropped from the outbox.
    pub events_dropped: u64,
    /// Archived rows erased (0 without an archive retention).
    pub archive_erased: u64,
}

/// Drops the outbox's events older than `retention`; returns how many.
pub async fn drop_old_events(db: &Db, retention: Duration) -> Result<u64> {
    let span = chrono::Duration::from_std(retention)
        .map_err(|_| Error::bad_input("event retention: too long a duration"))?;
    let cutoff = (soft_delete::now() - span).max(chrono::DateTime::UNIX_EPOCH);
    Ok(soft_delete::drop_events_before(db, cutoff).await?)
}

/// Erases the archive's rows archived longer than `retention` ago, oldest first, `batch` rows
/// per transaction; returns how many, and logs it when there were any.
pub async fn erase_old_archive(db: &Db, retention: Duration, batch: u64) -> Result<u64> {
    erase_old_archive_until(db, retention, batch, &|| false).await
}

/// [`erase_old_archive`], asking `stop` before each batch.
async fn erase_old_archive_until(
    db: &Db,
    retention: Duration,
    batch: u64,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<u64> {
    if batch == 0 {
        return Err(Error::bad_input("batch size: must be at least 1"));
    }
    let span = chrono::Duration::from_std(retention)
        .map_err(|_| Error::bad_input("archive retention: too long a duration"))?;
    let cutoff = (soft_delete::now() - span).max(chrono::DateTime::UNIX_EPOCH);
    let mut erased = 0;
    while !stop() {
        let done = soft_delete::erase_archived_batch(db, cutoff, batch).await?;
        erased += done;
        if done < batch {
            break;
        }
    }
    if erased > 0 {
        tracing::info!(erased, older_than = ?retention,
            "archived rows erased (KEEPSAKE_ARCHIVE_RETENTION)");
    }
    Ok(erased)
}

/// One tick of the retention job: a purge (when rows are purged on a schedule), then old
/// events dropped and old archived rows erased (when the archive has a retention), unless
/// another server is running a tick. Returns the report, or `None` when another server held
/// the lock.
pub async fn retention_tick(
    db: &Db,
    storage: &Storage,
    retention: Retention,
) -> Result<Option<RetentionReport>> {
    retention_tick_until(db, storage, retention, &|| false).await
}

/// [`retention_tick`], asking `stop` before each batch of its purge and its archive erasure.
async fn retention_tick_until(
    db: &Db,
    storage: &Storage,
    retention: Retention,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Option<RetentionReport>> {
    let tick = async {
        let purge = match retention.rows {
            Some(age) => {
                Some(purge_until(db, storage, age, false, DEFAULT_BATCH, |_, _| {}, stop).await?)
            }
            None => None,
        };
        let events_dropped = drop_old_events(db, retention.events).await?;
        let archive_erased = match retention.archive {
            Some(age) => erase_old_archive_until(db, age, DEFAULT_BATCH, stop).await?,
            None => 0,
        };
        Ok::<_, Error>(RetentionReport {
            purge,
            events_dropped,
            archive_erased,
        })
    };
    let outcome = soft_delete::exclusively(db, tick).await?;
    match outcome {
        None => Ok(None),
        Some(report) => Ok(Some(report?)),
    }
}

/// Runs [`retention_tick`] every `every`, one tick at a time (a slow purge delays the next
/// tick instead of overlapping it), until `stop` turns true: then it returns between two
/// batches (a batch is one transaction, done whole). `on_tick` sees each outcome.
///
/// With a purge on a schedule the first tick runs at once. Without one, a tick only drops
/// events days old, so the first waits one interval: a server that just started does no
/// background work it could do later.
pub async fn retention_loop(
    db: Db,
    storage: Storage,
    retention: Retention,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut on_tick: impl FnMut(&Result<Option<RetentionReport>>) + Send,
) {
    let first = match retention.rows {
        Some(_) => tokio::time::Instant::now(),
        None => tokio::time::Instant::now() + every,
    };
    let mut ticks = tokio::time::interval_at(first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        let stopping = stop.clone();
        let outcome =
            retention_tick_until(&db, &storage, retention, &move || *stopping.borrow()).await;
        match &outcome {
            Ok(Some(report)) if report.purge.is_some() => {
                let held = report.purge.map_or(0, |purge| purge.held);
                tracing::info!(?report, held, "retention purge ran")
            }
            Ok(Some(report)) => tracing::info!(?report, "old events dropped"),
            Ok(None) => tracing::info!("retention job skipped: another server holds the lock"),
            Err(err) => tracing::error!(error = ?err, code = err.code(), "retention purge failed"),
        }
        on_tick(&outcome);
        if *stop.borrow() {
            tracing::info!("retention job stopped: the server is shutting down");
            return;
        }
    }
}

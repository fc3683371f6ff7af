//! Purge: archive, then erase, rows deleted before a cutoff, in claimed batches.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, CaseStatement, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait as _, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait as _,
};

use super::purge_rows::{distinct, take_rows};
use super::{Db, Handle, SoftDeletable, Tx, exec, to_micros};
use super::{events, holds};
use crate::entity::{attachment, deletion, user};

/// How many users and attachments an operation touched (a purge, a seed), or would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Users.
    pub users: u64,
    /// Attachments.
    pub attachments: u64,
}

impl RowCounts {
    /// Users and attachments together.
    pub fn total(self) -> u64 {
        self.users + self.attachments
    }
}

/// Users deleted before `cutoff` none of whose attachments would stay behind.
fn purgeable_users(cutoff: DateTimeUtc) -> Condition {
    let child = Alias::new("child");
    let keeps_a_child = Query::select()
        .expr(Expr::val(1))
        .from_as(attachment::Entity, child.clone())
        .and_where(
            Expr::col((child.clone(), attachment::Column::OwnerId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(
            Expr::col((child.clone(), attachment::Column::DeletedAt))
                .is_null()
                .or(Expr::col((child, attachment::Column::DeletedAt)).gte(cutoff)),
        )
        .to_owned();
    Condition::all()
        .add(user::Column::DeletedAt.lt(cutoff))
        .add(Expr::exists(keeps_a_child).not())
        .add(holds::user_not_held())
}

/// Users no attachment row refers to at all, whatever its state: the users a batch may erase.
/// [`purgeable_users`] lets a child deleted before the cutoff through, since the batches take
/// attachments first; but a user deleted *during* the purge, after its attachment batches
/// ran, has children no batch took yet, and erasing the user would break their foreign key.
/// Such a user is left for the next purge.
fn without_attachments() -> Condition {
    let child = Alias::new("child");
    let any_child = Query::select()
        .expr(Expr::val(1))
        .from_as(attachment::Entity, child.clone())
        .and_where(
            Expr::col((child, attachment::Column::OwnerId))
                .equals((user::Entity, user::Column::Id)),
        )
        .to_owned();
    Condition::all().add(Expr::exists(any_child).not())
}

/// What a purge with this cutoff would remove now.
pub async fn purge_candidates(h: &impl Handle, cutoff: DateTimeUtc) -> Result<RowCounts, DbErr> {
    let cutoff = to_micros(cutoff);
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::DeletedAt.lt(cutoff))
        .filter(holds::owner_not_held())
        .filter(not_restored(attachment::Column::DeletionId))
        .count(&exec(h))
        .await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let users = user::Entity::find()
        .filter(purgeable_users(cutoff))
        .filter(not_restored(user::Column::DeletionId))
        .count(&exec(h))
        .await?;
    Ok(RowCounts { users, attachments })
}

/// Marks the deletions `taken` (this batch erased rows of each) in one statement: as being
/// purged (`purge_started_at`, kept from an earlier batch) and, those left with no rows, as
/// purged; then writes a `deletion.purged` event for each of the latter, last (the batch
/// commits next). A claimed deletion none of whose rows the batch took (a hold placed while
/// it waited for its claim) is left as it was, restorable.
async fn mark_taken(tx: &Tx, taken: &[i64], now: DateTimeUtc) -> Result<(), DbErr> {
    if taken.is_empty() {
        return Ok(());
    }
    let still_has = |table: Alias, column: Alias| {
        Query::select()
            .expr(Expr::val(1))
            .from(table)
            .and_where(Expr::col(column).equals((deletion::Entity, deletion::Column::Id)))
            .to_owned()
    };
    let all_gone = Expr::col(deletion::Column::PurgedAt)
        .is_null()
        .and(Expr::exists(still_has(Alias::new("users"), Alias::new("deletion_id"))).not())
        .and(
            Expr::exists(still_has(
                Alias::new("attachments"),
                Alias::new("deletion_id"),
            ))
            .not(),
        );
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let update = deletion::Entity::update_many();
    let mark = update
        .col_expr(
            deletion::Column::PurgeStartedAt,
            Func::coalesce([Expr::col(deletion::Column::PurgeStartedAt), Expr::val(now)]).into(),
        )
        .col_expr(
            deletion::Column::PurgedAt,
            CaseStatement::new()
                .case(all_gone, Expr::val(now))
                .finally(Expr::col(deletion::Column::PurgedAt))
                .into(),
        )
        .filter(deletion::Column::Id.is_in(taken.iter().copied()));
    if exec(tx).get_database_backend() == DbBackend::Postgres {
        return events::mark_and_record_purged(tx, mark.build(DbBackend::Postgres), now).await;
    }
    mark.exec(&exec(tx)).await?;
    events::record_purged(tx, taken, now).await
}

/// What one purge batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows archived and erased.
    pub purged: RowCounts,
    /// The blobs the erased rows held: each may now be unused (the caller erases those no
    /// other row refers to, after this commit).
    pub blobs: Vec<String>,
    /// Whether rows were due at all: `false` means the purge is done. (Rows can be due and
    /// yet not purged when a restore of their deletion won the race for its lock.)
    pub found: bool,
}

/// How far a purge has read: the greatest id of each kind a batch has looked at. The rows a
/// purge takes were deleted before its cutoff, which is fixed when it starts, so no such row
/// can turn up behind the cursor later (a row a batch passed over was being restored, and is
/// live once that commits); each batch starts past the cursor instead of scanning again over
/// the ids, dead index entries included, that the batches before it erased.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCursor {
    attachments: Option<i64>,
    users: Option<i64>,
}

/// The deletions `ids` that are not restored, locked (`FOR UPDATE`, in id order) for the
/// rest of the transaction. A restore holding one of them makes this wait; a restore that
/// committed first leaves its deletion out. Those whose rows the batch then takes are marked
/// as being purged ([`mark_taken`]) before it commits: from then on none can be restored.
async fn claim_for_purge(tx: &Tx, ids: Vec<i64>) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    let locked: Vec<(i64, Option<DateTimeUtc>)> = select
        .select_only()
        .column(deletion::Column::Id)
        .column(deletion::Column::RestoredAt)
        .filter(deletion::Column::Id.is_in(ids))
        .order_by_asc(deletion::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(&exec(tx))
        .await?;
    Ok(locked
        .into_iter()
        .filter(|(_, restored_at)| restored_at.is_none())
        .map(|(id, _)| id)
        .collect())
}

/// Rows stamped by one of `claimed` (or, for rows a bug left without a deletion, by none).
fn claimed_by<C: ColumnTrait>(deletion_id: C, claimed: &[i64]) -> Condition {
    Condition::any()
        .add(deletion_id.is_null())
        .add(deletion_id.is_in(claimed.iter().copied()))
}

/// Deleted rows whose deletion is not restored: what a purge may take.
fn not_restored<C: ColumnTrait>(deletion_id: C) -> Condition {
    let restored = Query::select()
        .column(deletion::Column::Id)
        .from(deletion::Entity)
        .and_where(deletion::Column::RestoredAt.is_not_null())
        .to_owned();
    Condition::any()
        .add(deletion_id.is_null())
        .add(deletion_id.not_in_subquery(restored))
}

/// Purges one batch of up to `batch` rows deleted before `cutoff`, in one transaction:
/// attachments first, users once none of their attachments remain. Each row erased is copied
/// to `archive` in the same transaction; a failure rolls the whole batch back.
///
/// The batch first claims the deletions of the rows it found (see [`claim_for_purge`]),
/// then locks and takes only rows still hidden by a claimed deletion: a restore and a purge
/// of one deletion never interleave, and a deletion whose purge began is never restored.
pub async fn purge_batch(
    db: &Db,
    cutoff: DateTimeUtc,
    batch: u64,
    now: DateTimeUtc,
    cursor: &mut PurgeCursor,
) -> Result<BatchOutcome, DbErr> {
    // One precision for the cutoff compared with and the moments written: see `stored.rs`.
    let (cutoff, now) = (to_micros(cutoff), to_micros(now));
    let tx = db.begin().await?;
    let attachments_due = Condition::all()
        .add(attachment::Column::DeletedAt.lt(cutoff))
        .add(holds::owner_not_held());
    let mut blobs = Vec::new();
    let attachments =
        purge_rows::<attachment::Entity>(&tx, attachments_due, cursor.attachments, batch, now)
            .await?;
    let purged = match attachments {
        Some(done) => {
            blobs = done.blobs;
            cursor.attachments = Some(done.last);
            RowCounts {
                users: 0,
                attachments: done.rows,
            }
        }
        None => match purge_rows::<user::Entity>(
            &tx,
            purgeable_users(cutoff).add(without_attachments()),
            cursor.users,
            batch,
            now,
        )
        .await?
        {
            Some(done) => {
                cursor.users = Some(done.last);
                RowCounts {
                    users: done.rows,
                    attachments: 0,
                }
            }
            None => return Ok(BatchOutcome::default()),
        },
    };
    tx.commit().await?;
    Ok(BatchOutcome {
        purged,
        blobs,
        found: true,
    })
}

/// What [`purge_rows`] did in one batch.
struct Purged {
    /// Rows archived and erased.
    rows: u64,
    /// The distinct blobs they held.
    blobs: Vec<String>,
    /// The greatest id the batch looked at: the next one starts past it.
    last: i64,
}

/// In `tx`, purges up to `batch` rows of `E` past `after` that `due` selects and no restore
/// took back: claims their deletions, erases the rows still hidden by a claimed one and archives
/// them, and marks the deletions it took rows of (as purged once none is left). `None` when no row
/// was due.
async fn purge_rows<E>(
    tx: &Tx,
    due: Condition,
    after: Option<i64>,
    batch: u64,
    now: DateTimeUtc,
) -> Result<Option<Purged>, DbErr>
where
    E: SoftDeletable,
    E::Model: serde::Serialize,
{
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let mut find = E::find()
        .select_only()
        .column(E::id_column())
        .column(E::deletion_id_column())
        .filter(due.clone())
        .filter(not_restored(E::deletion_id_column()));
    if let Some(after) = after {
        find = find.filter(E::id_column().gt(after));
    }
    let found: Vec<(i64, Option<i64>)> = find
        .order_by_asc(E::id_column())
        .limit(batch)
        .into_tuple()
        .all(&exec(tx))
        .await?;
    let Some(&(last, _)) = found.last() else {
        return Ok(None);
    };
    let claimed = claim_for_purge(
        tx,
        distinct(found.iter().filter_map(|&(_, deletion)| deletion)),
    )
    .await?;
    let found: Vec<i64> = found.iter().map(|&(id, _)| id).collect();
    // The ids the read found, as the range they span: every row in it that is still due was
    // found (the cutoff is in the past, so no row turns due meanwhile), and a range costs the
    // statement two values where a list of the ids cost it thousands.
    let mut in_range = Condition::all().add(E::id_column().lte(last));
    if let Some(after) = after {
        in_range = in_range.add(E::id_column().gt(after));
    }
    let wanted = Condition::all()
        .add(in_range)
        .add(due)
        .add(claimed_by(E::deletion_id_column(), &claimed));
    let taken = take_rows::<E>(tx, wanted, &found, now).await?;
    mark_taken(tx, &taken.deletions, now).await?;
    Ok(Some(Purged {
        rows: taken.rows,
        blobs: taken.blobs,
        last,
    }))
}

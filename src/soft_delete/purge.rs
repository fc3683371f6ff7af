//! Purge: archive, then erase, rows deleted before a cutoff, in claimed batches.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait as _, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::events;
use super::{Db, EntityKind, Handle, SoftDeletable, Stored as _, Tx, exec, to_micros};
use crate::entity::{archive, attachment, deletion, erasure, user};

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

/// Row `row` of `E` as the archive keeps it.
fn snapshot<E>(row: &E::Model, now: DateTimeUtc) -> Result<archive::ActiveModel, DbErr>
where
    E: SoftDeletable,
    E::Model: serde::Serialize,
{
    let json = serde_json::to_string(row).map_err(|e| DbErr::Custom(format!("archiving: {e}")))?;
    Ok(archive::ActiveModel {
        entity: Set(E::KIND.as_str().to_owned()),
        entity_id: Set(E::id_of(row)),
        row: Set(json),
        deletion_id: Set(E::deletion_id_of(row)),
        deleted_at: Set(E::deleted_at_of(row)),
        archived_at: Set(now),
        ..Default::default()
    }
    .stored())
}

/// Marks deletions whose rows are all gone as purged, and writes a `deletion.purged` event
/// for each, last (the batch commits next).
async fn mark_purged(tx: &Tx, deletions: &[i64], now: DateTimeUtc) -> Result<(), DbErr> {
    if deletions.is_empty() {
        return Ok(());
    }
    let still_has = |table: Alias, column: Alias| {
        Query::select()
            .expr(Expr::val(1))
            .from(table)
            .and_where(Expr::col(column).equals((deletion::Entity, deletion::Column::Id)))
            .to_owned()
    };
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let update = deletion::Entity::update_many();
    update
        .col_expr(deletion::Column::PurgedAt, Expr::val(now))
        .filter(deletion::Column::Id.is_in(deletions.iter().copied()))
        .filter(deletion::Column::PurgedAt.is_null())
        .filter(Expr::exists(still_has(Alias::new("users"), Alias::new("deletion_id"))).not())
        .filter(
            Expr::exists(still_has(
                Alias::new("attachments"),
                Alias::new("deletion_id"),
            ))
            .not(),
        )
        .exec(&exec(tx))
        .await?;
    events::record_purged(tx, deletions, now).await
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

/// The deletions `ids` that are not restored, locked (`FOR UPDATE`, in id order) for the
/// rest of the transaction and marked as being purged: from now on none can be restored.
/// A restore holding one of them makes this wait; a restore that committed first leaves
/// its deletion out.
async fn claim_for_purge(tx: &Tx, ids: Vec<i64>, now: DateTimeUtc) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    let claimed: Vec<i64> = select
        .filter(deletion::Column::Id.is_in(ids))
        .order_by_asc(deletion::Column::Id)
        .lock_exclusive()
        .all(&exec(tx))
        .await?
        .into_iter()
        .filter(|d| d.restored_at.is_none())
        .map(|d| d.id)
        .collect();
    if !claimed.is_empty() {
        #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
        let update = deletion::Entity::update_many();
        update
            .col_expr(deletion::Column::PurgeStartedAt, Expr::val(now))
            .filter(deletion::Column::Id.is_in(claimed.iter().copied()))
            .filter(deletion::Column::PurgeStartedAt.is_null())
            .exec(&exec(tx))
            .await?;
    }
    Ok(claimed)
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
/// attachments first, users once none of their attachments remain. Each row is copied to
/// `archive` before it is erased; a failure rolls the whole batch back.
///
/// The batch first claims the deletions of the rows it found (see [`claim_for_purge`]),
/// then locks and takes only rows still hidden by a claimed deletion: a restore and a purge
/// of one deletion never interleave, and a deletion whose purge began is never restored.
pub async fn purge_batch(
    db: &Db,
    cutoff: DateTimeUtc,
    batch: u64,
    now: DateTimeUtc,
) -> Result<BatchOutcome, DbErr> {
    // One precision for the cutoff compared with and the moments written: see `stored.rs`.
    let (cutoff, now) = (to_micros(cutoff), to_micros(now));
    let tx = db.begin().await?;
    let attachments_due = Condition::all().add(attachment::Column::DeletedAt.lt(cutoff));
    let mut blobs = Vec::new();
    let purged = match purge_rows::<attachment::Entity>(&tx, attachments_due, batch, now).await? {
        Some((attachments, held)) => {
            blobs = held;
            RowCounts {
                users: 0,
                attachments,
            }
        }
        None => match purge_rows::<user::Entity>(
            &tx,
            purgeable_users(cutoff).add(without_attachments()),
            batch,
            now,
        )
        .await?
        {
            Some((users, _)) => RowCounts {
                users,
                attachments: 0,
            },
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

/// In `tx`, purges up to `batch` rows of `E` that `due` selects and no restore took back:
/// claims their deletions, locks the rows still hidden by a claimed one, archives them,
/// erases them, and marks the deletions left with no rows as purged. Returns how many rows
/// it purged and the distinct blobs they held, or `None` when no row was due.
async fn purge_rows<E>(
    tx: &Tx,
    due: Condition,
    batch: u64,
    now: DateTimeUtc,
) -> Result<Option<(u64, Vec<String>)>, DbErr>
where
    E: SoftDeletable,
    E::Model: serde::Serialize,
{
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let found = E::find()
        .filter(due.clone())
        .filter(not_restored(E::deletion_id_column()))
        .order_by_asc(E::id_column())
        .limit(batch)
        .all(&exec(tx))
        .await?;
    if found.is_empty() {
        return Ok(None);
    }
    let claimed = claim_for_purge(
        tx,
        distinct(found.iter().filter_map(E::deletion_id_of)),
        now,
    )
    .await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let rows = E::find()
        .filter(E::id_column().is_in(found.iter().map(E::id_of)))
        .filter(due)
        .filter(claimed_by(E::deletion_id_column(), &claimed))
        .order_by_asc(E::id_column())
        .lock_exclusive()
        .all(&exec(tx))
        .await?;
    if !rows.is_empty() {
        // An erased user's rows hold placeholders only, and their tombstone is the record:
        // the archive keeps nothing of theirs.
        let erased = erased_rows::<E>(tx, &rows).await?;
        let snapshots = rows
            .iter()
            .filter(|row| !erased.contains(&E::id_of(row)))
            .map(|row| snapshot::<E>(row, now))
            .collect::<Result<Vec<_>, _>>()?;
        if !snapshots.is_empty() {
            archive::Entity::insert_many(snapshots)
                .exec_without_returning(&exec(tx))
                .await?;
        }
        #[allow(clippy::disallowed_methods)] // the purge: erasing after archiving
        let erase = E::delete_many();
        erase
            .filter(E::id_column().is_in(rows.iter().map(E::id_of)))
            .exec(&exec(tx))
            .await?;
    }
    mark_purged(tx, &claimed, now).await?;
    let mut blobs: Vec<String> = rows.iter().filter_map(E::blob_of).collect();
    blobs.sort_unstable();
    blobs.dedup();
    Ok(Some((rows.len() as u64, blobs)))
}

/// The ids of those of `rows` that belong to an erased user: the user, or their attachments.
async fn erased_rows<E: SoftDeletable>(tx: &Tx, rows: &[E::Model]) -> Result<Vec<i64>, DbErr> {
    let erased = Query::select()
        .column(erasure::Column::UserId)
        .from(erasure::Entity)
        .to_owned();
    let ids = rows.iter().map(E::id_of);
    let query = match E::KIND {
        EntityKind::User => Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::Id.is_in(ids))
            .and_where(user::Column::Id.in_subquery(erased))
            .to_owned(),
        EntityKind::Attachment => Query::select()
            .column(attachment::Column::Id)
            .from(attachment::Entity)
            .and_where(attachment::Column::Id.is_in(ids))
            .and_where(attachment::Column::OwnerId.in_subquery(erased))
            .to_owned(),
    };
    let conn = exec(tx);
    let found = conn
        .query_all_raw(conn.get_database_backend().build(&query))
        .await?;
    found
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

/// The distinct values of `ids`, in ascending order.
fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

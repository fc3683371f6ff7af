//! Purge: archive, then erase, rows deleted before a cutoff, in claimed batches.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{Db, EntityKind, Handle, Tx, exec};
use crate::entity::{archive, attachment, deletion, user};

/// Rows a purge removes, or would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Users archived and erased.
    pub users: u64,
    /// Attachments archived and erased.
    pub attachments: u64,
}

impl PurgeCounts {
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

/// What a purge with this cutoff would remove now.
pub async fn purge_candidates(h: &impl Handle, cutoff: DateTimeUtc) -> Result<PurgeCounts, DbErr> {
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
    Ok(PurgeCounts { users, attachments })
}

fn snapshot<M: serde::Serialize>(
    kind: EntityKind,
    id: i64,
    row: &M,
    deletion_id: Option<i64>,
    deleted_at: Option<DateTimeUtc>,
    now: DateTimeUtc,
) -> Result<archive::ActiveModel, DbErr> {
    let json = serde_json::to_string(row).map_err(|e| DbErr::Custom(format!("archiving: {e}")))?;
    Ok(archive::ActiveModel {
        entity: Set(kind.as_str().to_owned()),
        entity_id: Set(id),
        row: Set(json),
        deletion_id: Set(deletion_id),
        deleted_at: Set(deleted_at),
        archived_at: Set(now),
        ..Default::default()
    })
}

/// Marks deletions whose rows are all gone as purged.
async fn mark_purged(tx: &Tx, deletions: Vec<i64>, now: DateTimeUtc) -> Result<(), DbErr> {
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
        .filter(deletion::Column::Id.is_in(deletions))
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
    Ok(())
}

/// What one purge batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows archived and erased.
    pub purged: PurgeCounts,
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
    let tx = db.begin().await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let due = attachment::Entity::find()
        .filter(attachment::Column::DeletedAt.lt(cutoff))
        .filter(not_restored(attachment::Column::DeletionId))
        .order_by_asc(attachment::Column::Id)
        .limit(batch)
        .all(&exec(&tx))
        .await?;
    if !due.is_empty() {
        let claimed =
            claim_for_purge(&tx, distinct(due.iter().filter_map(|a| a.deletion_id)), now).await?;
        #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
        let attachments = attachment::Entity::find()
            .filter(attachment::Column::Id.is_in(due.iter().map(|a| a.id)))
            .filter(attachment::Column::DeletedAt.lt(cutoff))
            .filter(claimed_by(attachment::Column::DeletionId, &claimed))
            .order_by_asc(attachment::Column::Id)
            .lock_exclusive()
            .all(&exec(&tx))
            .await?;
        let snapshots = attachments
            .iter()
            .map(|a| {
                snapshot(
                    EntityKind::Attachment,
                    a.id,
                    a,
                    a.deletion_id,
                    a.deleted_at,
                    now,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !snapshots.is_empty() {
            archive::Entity::insert_many(snapshots)
                .exec_without_returning(&exec(&tx))
                .await?;
            #[allow(clippy::disallowed_methods)] // the purge: erasing after archiving
            let erase = attachment::Entity::delete_many();
            erase
                .filter(attachment::Column::Id.is_in(attachments.iter().map(|a| a.id)))
                .exec(&exec(&tx))
                .await?;
        }
        mark_purged(&tx, claimed, now).await?;
        tx.commit().await?;
        return Ok(BatchOutcome {
            purged: PurgeCounts {
                users: 0,
                attachments: attachments.len() as u64,
            },
            found: true,
        });
    }
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let due = user::Entity::find()
        .filter(purgeable_users(cutoff))
        .filter(not_restored(user::Column::DeletionId))
        .order_by_asc(user::Column::Id)
        .limit(batch)
        .all(&exec(&tx))
        .await?;
    if due.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let claimed =
        claim_for_purge(&tx, distinct(due.iter().filter_map(|u| u.deletion_id)), now).await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(due.iter().map(|u| u.id)))
        .filter(purgeable_users(cutoff))
        .filter(claimed_by(user::Column::DeletionId, &claimed))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .all(&exec(&tx))
        .await?;
    let snapshots = users
        .iter()
        .map(|u| snapshot(EntityKind::User, u.id, u, u.deletion_id, u.deleted_at, now))
        .collect::<Result<Vec<_>, _>>()?;
    if !snapshots.is_empty() {
        archive::Entity::insert_many(snapshots)
            .exec_without_returning(&exec(&tx))
            .await?;
        #[allow(clippy::disallowed_methods)] // the purge: erasing after archiving
        let erase = user::Entity::delete_many();
        erase
            .filter(user::Column::Id.is_in(users.iter().map(|u| u.id)))
            .exec(&exec(&tx))
            .await?;
    }
    mark_purged(&tx, claimed, now).await?;
    tx.commit().await?;
    Ok(BatchOutcome {
        purged: PurgeCounts {
            users: users.len() as u64,
            attachments: 0,
        },
        found: true,
    })
}

/// The distinct values of `ids`, in ascending order.
fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

//! Restores: undo one deletion exactly, and the rules a restore checks first.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, QueryStatementBuilder as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait as _, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait as _, Set,
    SqlErr,
};

use super::events::{self, EventType};
use super::{EntityKind, Handle, SoftDeletable, Stamp, Stored as _, Tx, exec, to_micros};
use crate::entity::{attachment, deletion, erasure, user};
use crate::error::LIVE_USER_EMAIL;

/// Why a restore could not happen. Whatever the reason, nothing was changed.
#[derive(Debug)]
pub enum RestoreRefused {
    /// No such deletion.
    NotFound,
    /// The deletion was restored already.
    AlreadyRestored(DateTimeUtc),
    /// A purge has begun erasing the deletion's rows (`finished`: and erased the last one),
    /// so it can no longer come back whole; its rows are in the archive.
    Purged {
        started: DateTimeUtc,
        finished: Option<DateTimeUtc>,
    },
    /// Some attachment it hid belongs to an owner hidden by another deletion.
    ParentDeleted { owner: i64 },
    /// A user it hid has an email a live user now holds.
    Conflict,
    /// A user it hid, or the owner of an attachment it hid, was erased: their data is gone
    /// for good, so nothing of theirs comes back.
    Erased { user: i64 },
}

/// Why [`restore`] failed: a refusal (nothing changed) or the database.
#[derive(Debug)]
pub enum RestoreError {
    /// The restore may not happen; the caller drops the transaction.
    Refused(RestoreRefused),
    /// The database failed.
    Database(DbErr),
}

impl From<DbErr> for RestoreError {
    fn from(err: DbErr) -> RestoreError {
        RestoreError::Database(err)
    }
}

impl From<RestoreRefused> for RestoreError {
    fn from(why: RestoreRefused) -> RestoreError {
        RestoreError::Refused(why)
    }
}

/// The deletion with this id, locked for the rest of the transaction.
pub async fn deletion_for_update(tx: &Tx, id: i64) -> Result<Option<LockedDeletion>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find_by_id(id);
    Ok(select
        .lock_exclusive()
        .one(&exec(tx))
        .await?
        .map(LockedDeletion))
}

/// A deletion read `FOR UPDATE` in a transaction, its row locked until that transaction ends:
/// what [`restore`] is given, so that it need not read and lock the row again. Only this
/// module makes one, and only from such a read; use it in the transaction that read it.
#[derive(Clone, Debug)]
pub struct LockedDeletion(deletion::Model);

impl std::ops::Deref for LockedDeletion {
    type Target = deletion::Model;

    fn deref(&self) -> &deletion::Model {
        &self.0
    }
}

impl LockedDeletion {
    /// The deletion as read.
    pub fn into_model(self) -> deletion::Model {
        self.0
    }
}

/// Deletion `id`, locked, if `member` may know of it: they made it, and it hid rows of
/// theirs alone ([`hid_only_rows_of`]). `None` otherwise, with no lock taken: a member never
/// holds a lock on someone else's deletion, and one statement answers whether the deletion
/// is missing or someone else's.
pub async fn members_deletion_for_update(
    tx: &Tx,
    id: i64,
    member: i64,
) -> Result<Option<LockedDeletion>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find_by_id(id);
    Ok(select
        .filter(deletion::Column::ActorId.eq(member))
        .filter(super::log::hid_only_rows_of(member))
        .lock_exclusive()
        .one(&exec(tx))
        .await?
        .map(LockedDeletion))
}

/// The deletion hiding row `id` of `E`, locked, if `member` may know of it (as
/// [`members_deletion_for_update`]); `None` for a missing row, a live one, or one hidden by
/// a deletion that is someone else's to know of: one statement for each.
pub async fn members_deletion_hiding_for_update<E: SoftDeletable>(
    tx: &Tx,
    id: i64,
    member: i64,
) -> Result<Option<LockedDeletion>, DbErr> {
    let hiding = Query::select()
        .column(E::deletion_id_column())
        .from(E::default())
        .and_where(E::id_column().eq(id))
        .to_owned();
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    Ok(select
        .filter(deletion::Column::Id.in_subquery(hiding))
        .filter(deletion::Column::ActorId.eq(member))
        .filter(super::log::hid_only_rows_of(member))
        .lock_exclusive()
        .one(&exec(tx))
        .await?
        .map(LockedDeletion))
}

/// Undoes deletion `logged` exactly: clears the rows stamped with it, no others, records who
/// restored it, when and why, and writes its `deletion.restored` event. Refusals change
/// nothing (the caller drops the transaction).
///
/// Concurrency: the deletion's row is locked first (`logged` is locked in `tx`: read by
/// [`deletion_for_update`] or a member's equivalent), so two restores of it, or a restore and
/// a purge of it, run one after the other (a purge marks `purge_started_at` under the same
/// lock). Then the owners of the attachments it brings back are share-locked before they are
/// checked, so a concurrent `deleteUser` of an owner either commits first (and this restore
/// is `ParentDeleted`) or waits and then cascades to what this restore brought back.
pub async fn restore(
    tx: &Tx,
    logged: &LockedDeletion,
    stamp: &Stamp,
) -> Result<deletion::Model, RestoreError> {
    let id = logged.id;
    if let Some(started) = logged.purge_started_at.or(logged.purged_at) {
        let finished = logged.purged_at;
        return Err(RestoreRefused::Purged { started, finished }.into());
    }
    if let Some(at) = logged.restored_at {
        return Err(RestoreRefused::AlreadyRestored(at).into());
    }
    lock_owners_of_hidden_attachments(tx, id).await?;
    // After the locks (a statement of its own, so it sees what committed while they were
    // awaited): an erasure that held them has committed its tombstone by now; and an
    // attachment comes back only under a live owner, or one this deletion brings back.
    let (erased, orphan) = erased_or_orphaned(tx, id).await?;
    if let Some(user) = erased {
        return Err(RestoreRefused::Erased { user }.into());
    }
    if let Some(owner) = orphan {
        return Err(RestoreRefused::ParentDeleted { owner }.into());
    }
    // A deletion of attachments stamped no user (only `delete_user` stamps users, with a
    // deletion of its own): no users to bring back.
    let users_too = EntityKind::parse(&logged.entity) != Some(EntityKind::Attachment);
    if users_too {
        match clear_deleted::<user::Entity>(tx, id).await {
            Ok(_) => {}
            Err(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(msg))
                    if LIVE_USER_EMAIL.is_named_in(&msg) =>
                {
                    return Err(RestoreRefused::Conflict.into());
                }
                _ => return Err(err.into()),
            },
        }
    }
    clear_deleted::<attachment::Entity>(tx, id).await?;
    if exec(tx).get_database_backend() == DbBackend::Postgres {
        // The log's update and the event in one statement.
        #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
        let update = deletion::Entity::update_many();
        let update = update
            .col_expr(deletion::Column::RestoredAt, Expr::val(to_micros(stamp.at)))
            .col_expr(deletion::Column::RestoredBy, Expr::val(stamp.actor))
            .col_expr(
                deletion::Column::RestoreReason,
                Expr::val(stamp.reason.clone()),
            )
            .filter(deletion::Column::Id.eq(id))
            .build(DbBackend::Postgres);
        return events::write_with_event(tx, update, EventType::DeletionRestored, stamp.at)
            .await?
            .ok_or_else(|| RestoreError::from(DbErr::RecordNotUpdated));
    }
    let mut row = logged.0.clone().into_active_model();
    row.restored_at = Set(Some(stamp.at));
    row.restored_by = Set(Some(stamp.actor));
    row.restore_reason = Set(stamp.reason.clone());
    let restored = row.stored().update(&exec(tx)).await?;
    let at = restored.restored_at.unwrap_or(stamp.at);
    events::record(tx, EventType::DeletionRestored, id, at).await?;
    Ok(restored)
}

/// Share-locks (PostgreSQL `FOR SHARE`) the owners of the attachments hidden by `deletion`,
/// until the transaction ends: their deletes wait for it. SQLite's write transaction holds
/// the whole database already.
async fn lock_owners_of_hidden_attachments(tx: &Tx, deletion: i64) -> Result<(), DbErr> {
    let owners = Query::select()
        .column(attachment::Column::OwnerId)
        .from(attachment::Entity)
        .and_where(attachment::Column::DeletionId.eq(deletion))
        .to_owned();
    #[allow(clippy::disallowed_methods)] // a lock inside the core's restore, any scope
    let select = user::Entity::find();
    select
        .filter(user::Column::Id.in_subquery(owners))
        .order_by_asc(user::Column::Id)
        .lock_shared()
        .all(&exec(tx))
        .await?;
    Ok(())
}

/// Whether every row deletion `logged` hid belongs to user `owner`: the user themself, or
/// attachments they own. A member's rights over a deletion follow from this (and not from
/// having been its actor under another role).
pub async fn hid_only_rows_of(
    tx: &Tx,
    logged: &deletion::Model,
    owner: i64,
) -> Result<bool, DbErr> {
    match EntityKind::parse(&logged.entity) {
        Some(EntityKind::User) => Ok(logged.entity_id == owner),
        // A restored bulk deletion no longer marks its rows: whose they were is unknown, so
        // it is no one's (the first row alone would vouch for the others).
        Some(EntityKind::Attachment)
            if logged.cascade_count > 0 && logged.restored_at.is_some() =>
        {
            Ok(false)
        }
        Some(EntityKind::Attachment) => {
            #[allow(clippy::disallowed_methods)] // ownership of a deletion's rows, any scope
            let first = attachment::Entity::find_by_id(logged.entity_id);
            let first_is_theirs = first
                .one(&exec(tx))
                .await?
                .is_some_and(|a| a.owner_id == owner);
            #[allow(clippy::disallowed_methods)] // ownership of a deletion's rows, any scope
            let foreign = attachment::Entity::find()
                .filter(attachment::Column::DeletionId.eq(logged.id))
                .filter(attachment::Column::OwnerId.ne(owner))
                .count(&exec(tx))
                .await?;
            Ok(first_is_theirs && foreign == 0)
        }
        None => Ok(false),
    }
}

/// In one statement: an erased user among those `deletion` hid or whose attachments it hid,
/// and the owner of an attachment it hid whose owner is deleted by another deletion, if any.
async fn erased_or_orphaned(tx: &Tx, deletion: i64) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let users = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::DeletionId.eq(deletion))
        .to_owned();
    let owners = Query::select()
        .column(attachment::Column::OwnerId)
        .from(attachment::Entity)
        .and_where(attachment::Column::DeletionId.eq(deletion))
        .to_owned();
    let erased = Query::select()
        .column(erasure::Column::UserId)
        .from(erasure::Entity)
        .cond_where(
            Condition::any()
                .add(erasure::Column::UserId.in_subquery(users))
                .add(erasure::Column::UserId.in_subquery(owners)),
        )
        .limit(1)
        .to_owned();
    let owner = Alias::new("owner");
    let owner_deleted_elsewhere = Query::select()
        .expr(Expr::val(1))
        .from_as(user::Entity, owner.clone())
        .and_where(
            Expr::col((owner.clone(), user::Column::Id))
                .equals((attachment::Entity, attachment::Column::OwnerId)),
        )
        .and_where(Expr::col((owner.clone(), user::Column::DeletedAt)).is_not_null())
        .and_where(
            Expr::col((owner.clone(), user::Column::DeletionId))
                .is_null()
                .or(Expr::col((owner, user::Column::DeletionId)).ne(deletion)),
        )
        .to_owned();
    let orphan = Query::select()
        .column((attachment::Entity, attachment::Column::OwnerId))
        .from(attachment::Entity)
        .and_where(Expr::col((attachment::Entity, attachment::Column::DeletionId)).eq(deletion))
        .and_where(Expr::exists(owner_deleted_elsewhere))
        .limit(1)
        .to_owned();
    let both = Query::select()
        .expr_as(
            Expr::SubQuery(None, Box::new(erased.into_sub_query_statement())),
            Alias::new("erased"),
        )
        .expr_as(
            Expr::SubQuery(None, Box::new(orphan.into_sub_query_statement())),
            Alias::new("orphan"),
        )
        .to_owned();
    let conn = exec(tx);
    let row = conn
        .query_one_raw(conn.get_database_backend().build(&both))
        .await?
        .ok_or_else(|| DbErr::Custom("the restore's checks returned no row".into()))?;
    Ok((row.try_get("", "erased")?, row.try_get("", "orphan")?))
}

/// Brings back every row of `E` hidden by `deletion`; returns how many.
async fn clear_deleted<E: SoftDeletable>(h: &impl Handle, deletion: i64) -> Result<u64, DbErr> {
    #[allow(clippy::disallowed_methods)] // set-based restore, the core's own write
    let update = E::update_many();
    let result = update
        .col_expr(
            E::deleted_at_column(),
            Expr::val(Option::<DateTimeUtc>::None),
        )
        .col_expr(E::deleted_by_column(), Expr::val(Option::<i64>::None))
        .col_expr(E::deletion_id_column(), Expr::val(Option::<i64>::None))
        .filter(E::deletion_id_column().eq(deletion))
        .exec(&exec(h))
        .await?;
    Ok(result.rows_affected)
}

//! Legal holds: while a user is held, nothing of theirs is purged (nor erased). The core owns
//! `legal_holds`, the log of every hold and release; placing and releasing are each one
//! transaction, and the purge asks [`user_not_held`] and [`owner_not_held`] of every row it
//! takes.
//!
//! **Holds and purges serialize.** A purge decides which rows to erase in a statement that
//! runs after it has locked (claimed) the deletions hiding them. Placing a hold locks the
//! same deletions, in the same order (by id), then the user's row. So a hold placed while a
//! purge has already found the user's rows either waits for that purge's batch to commit
//! (the purge claimed first: it wins, and the hold then finds what is left, or no user), or
//! makes the purge wait; the purge then reads the rows again once the hold is committed and
//! skips them. A claim left with nothing taken is undone ([`unclaim_untaken`]), so a
//! deletion a hold kept from the purge can still be restored.

use std::collections::HashMap;

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, UnionType};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, Condition, ConnectionTrait as _, DbErr, EntityTrait,
    IntoActiveModel as _, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Handle, Tx, exec, to_micros};
use crate::entity::{archive, attachment, deletion, legal_hold, user};

/// Why a hold could not be placed or released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldRefused {
    /// No user with that id (never existed, or purged).
    NoSuchUser,
    /// Placing: the user is held already, by this hold.
    AlreadyHeld(legal_hold::Model),
    /// Releasing: the user is not held.
    NotHeld,
}

/// Who places or releases a hold, when and why (a reason is required).
#[derive(Clone, Debug)]
pub struct HoldStamp {
    /// The acting admin's id.
    pub actor: i64,
    /// Why.
    pub reason: String,
    /// The moment ([`super::now`]).
    pub at: DateTimeUtc,
}

/// `SELECT 1 FROM legal_holds WHERE user_id = <user> AND released_at IS NULL`: the active
/// hold of the user an outer query's column names.
fn active_hold_of(user: Expr) -> SelectStatement {
    let hold = Alias::new("hold");
    Query::select()
        .expr(Expr::val(1))
        .from_as(legal_hold::Entity, hold.clone())
        .and_where(Expr::col((hold.clone(), legal_hold::Column::UserId)).eq(user))
        .and_where(Expr::col((hold, legal_hold::Column::ReleasedAt)).is_null())
        .to_owned()
}

/// Users who are not under an active hold: the purge takes no other (and so does erasure).
pub fn user_not_held() -> Condition {
    Condition::all()
        .add(Expr::exists(active_hold_of(Expr::col((user::Entity, user::Column::Id)))).not())
}

/// Attachments whose owner is not under an active hold: the purge takes no other.
pub fn owner_not_held() -> Condition {
    let owner = Expr::col((attachment::Entity, attachment::Column::OwnerId));
    Condition::all().add(Expr::exists(active_hold_of(owner)).not())
}

/// The active hold of user `user_id`, if any: what erasure asks before it erases a user.
pub async fn active_hold(
    h: &impl Handle,
    user_id: i64,
) -> Result<Option<legal_hold::Model>, DbErr> {
    Ok(active_holds(h, &[user_id]).await?.remove(&user_id))
}

/// The active holds of `users`, by user id (a user without one is absent): one statement.
pub async fn active_holds(
    h: &impl Handle,
    users: &[i64],
) -> Result<HashMap<i64, legal_hold::Model>, DbErr> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    #[allow(clippy::disallowed_methods)] // the hold log is the core's own table
    let select = legal_hold::Entity::find();
    let found = select
        .filter(legal_hold::Column::UserId.is_in(users.iter().copied()))
        .filter(legal_hold::Column::ReleasedAt.is_null())
        .all(&exec(h))
        .await?;
    Ok(found.into_iter().map(|hold| (hold.user_id, hold)).collect())
}

/// Every hold of `users`, released or not, newest first, by user id: one statement.
pub async fn hold_history(
    h: &impl Handle,
    users: &[i64],
) -> Result<HashMap<i64, Vec<legal_hold::Model>>, DbErr> {
    let mut by_user: HashMap<i64, Vec<legal_hold::Model>> = HashMap::new();
    if users.is_empty() {
        return Ok(by_user);
    }
    #[allow(clippy::disallowed_methods)] // the hold log is the core's own table
    let select = legal_hold::Entity::find();
    let found = select
        .filter(legal_hold::Column::UserId.is_in(users.iter().copied()))
        .order_by_desc(legal_hold::Column::Id)
        .all(&exec(h))
        .await?;
    for hold in found {
        by_user.entry(hold.user_id).or_default().push(hold);
    }
    Ok(by_user)
}

/// The deletions hiding user `user_id` or any of their attachments.
async fn deletions_hiding(tx: &Tx, user_id: i64) -> Result<Vec<i64>, DbErr> {
    let mut of_user = Query::select()
        .column(user::Column::DeletionId)
        .from(user::Entity)
        .and_where(user::Column::Id.eq(user_id))
        .and_where(user::Column::DeletionId.is_not_null())
        .to_owned();
    let of_attachments = Query::select()
        .column(attachment::Column::DeletionId)
        .from(attachment::Entity)
        .and_where(attachment::Column::OwnerId.eq(user_id))
        .and_where(attachment::Column::DeletionId.is_not_null())
        .to_owned();
    let union = of_user
        .union(UnionType::Distinct, of_attachments)
        .to_owned();
    let conn = exec(tx);
    let statement = conn.get_database_backend().build(&union);
    let mut ids = Vec::new();
    for row in conn.query_all_raw(statement).await? {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Locks (`FOR UPDATE`, by id: the purge's order) the deletions `ids`.
async fn lock_deletions(tx: &Tx, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    select
        .select_only()
        .column(deletion::Column::Id)
        .filter(deletion::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(deletion::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .all(&exec(tx))
        .await?;
    Ok(())
}

/// Locks what a purge of user `user_id`'s rows would lock, in the purge's order: the
/// deletions hiding them, then the user's row (live or deleted), which it returns.
async fn lock_user(tx: &Tx, user_id: i64) -> Result<Option<user::Model>, DbErr> {
    let hiding = deletions_hiding(tx, user_id).await?;
    lock_deletions(tx, &hiding).await?;
    #[allow(clippy::disallowed_methods)] // holds reach live and deleted users alike
    let select = user::Entity::find();
    let row = select
        .filter(user::Column::Id.eq(user_id))
        .lock_exclusive()
        .one(&exec(tx))
        .await?;
    Ok(row)
}

/// In `tx`, places a hold on user `user_id` (live or deleted): locks what a purge of their
/// rows would lock (see the module), then records the hold. Returns the user and the hold.
pub async fn place_hold(
    tx: &Tx,
    user_id: i64,
    stamp: &HoldStamp,
) -> Result<Result<(user::Model, legal_hold::Model), HoldRefused>, DbErr> {
    let Some(row) = lock_user(tx, user_id).await? else {
        return Ok(Err(HoldRefused::NoSuchUser));
    };
    if let Some(held) = active_hold(tx, user_id).await? {
        return Ok(Err(HoldRefused::AlreadyHeld(held)));
    }
    let hold = legal_hold::ActiveModel {
        user_id: Set(user_id),
        reason: Set(stamp.reason.clone()),
        placed_at: Set(to_micros(stamp.at)),
        placed_by: Set(stamp.actor),
        ..Default::default()
    }
    .insert(&exec(tx))
    .await?;
    Ok(Ok((row, hold)))
}

/// In `tx`, releases the active hold on user `user_id`, recording who, when and why.
/// Returns the user and the released hold.
pub async fn release_hold(
    tx: &Tx,
    user_id: i64,
    stamp: &HoldStamp,
) -> Result<Result<(user::Model, legal_hold::Model), HoldRefused>, DbErr> {
    let Some(row) = lock_user(tx, user_id).await? else {
        return Ok(Err(HoldRefused::NoSuchUser));
    };
    let Some(held) = active_hold(tx, user_id).await? else {
        return Ok(Err(HoldRefused::NotHeld));
    };
    let mut release = held.into_active_model();
    release.released_at = Set(Some(to_micros(stamp.at)));
    release.released_by = Set(Some(stamp.actor));
    release.release_reason = Set(Some(stamp.reason.clone()));
    let released = release.update(&exec(tx)).await?;
    Ok(Ok((row, released)))
}

/// How many rows deleted before `cutoff` a purge skips now because their user (or owner)
/// is held: held users and the held users' deleted attachments.
pub async fn held_rows(h: &impl Handle, cutoff: DateTimeUtc) -> Result<u64, DbErr> {
    let cutoff = to_micros(cutoff);
    // From the holds' side (`IN` the held users), so the database starts from the few holds
    // and reaches their rows by index, not by testing each deleted row for a hold.
    let held = || {
        Query::select()
            .column(legal_hold::Column::UserId)
            .from(legal_hold::Entity)
            .and_where(legal_hold::Column::ReleasedAt.is_null())
            .to_owned()
    };
    #[allow(clippy::disallowed_methods)] // counts deleted rows a purge skips
    let users = user::Entity::find()
        .filter(user::Column::DeletedAt.lt(cutoff))
        .filter(user::Column::Id.in_subquery(held()))
        .count(&exec(h))
        .await?;
    #[allow(clippy::disallowed_methods)] // counts deleted rows a purge skips
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::DeletedAt.lt(cutoff))
        .filter(attachment::Column::OwnerId.in_subquery(held()))
        .count(&exec(h))
        .await?;
    Ok(users + attachments)
}

/// `keepsake check`'s "no held row was purged": every archived row (a purged user, or an
/// attachment, by its owner) archived while its user was under a hold, as
/// `("held-row-purged", message)`. Two statements: the holds, then the archive entries from
/// the first hold on.
pub(super) async fn findings(h: &impl Handle) -> Result<Vec<(&'static str, String)>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the hold log is the core's own table
    let holds = legal_hold::Entity::find()
        .order_by_asc(legal_hold::Column::Id)
        .all(&exec(h))
        .await?;
    let Some(first) = holds.iter().map(|hold| hold.placed_at).min() else {
        return Ok(Vec::new());
    };
    #[allow(clippy::disallowed_methods)] // the archive is the core's own table
    let archived = archive::Entity::find()
        .filter(archive::Column::ArchivedAt.gte(first))
        .order_by_asc(archive::Column::Id)
        .all(&exec(h))
        .await?;
    let mut found = Vec::new();
    for entry in archived {
        let user = match entry.entity.as_str() {
            "user" => Some(entry.entity_id),
            _ => serde_json::from_str::<serde_json::Value>(&entry.row)
                .ok()
                .and_then(|row| row["owner_id"].as_i64()),
        };
        let Some(user) = user else { continue };
        let at = entry.archived_at;
        let Some(hold) = holds.iter().find(|hold| {
            hold.user_id == user
                && hold.placed_at <= at
                && hold.released_at.is_none_or(|released| released > at)
        }) else {
            continue;
        };
        use crate::ids::{Kind, encode};
        let what = match entry.entity.as_str() {
            "user" => format!("user {}", encode(Kind::User, entry.entity_id)),
            _ => format!(
                "attachment {} of user {}",
                encode(Kind::Attachment, entry.entity_id),
                encode(Kind::User, user)
            ),
        };
        found.push((
            "held-row-purged",
            format!(
                "{what} was purged (archive entry {}) at {} while under a legal hold placed at {} (\"{}\")",
                entry.id,
                at.to_rfc3339(),
                hold.placed_at.to_rfc3339(),
                hold.reason
            ),
        ));
    }
    Ok(found)
}

//! Legal holds under the role table: admins place and release them on live and deleted
//! users alike, with a reason; support and admins read them. A member learns nothing of a
//! hold: the mutations refuse them before anything is read, and `User.legalHold` is
//! `FORBIDDEN` for them whether or not the user is held.

use std::collections::HashMap;

use crate::auth::Viewer;
use crate::entity::{legal_hold, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::deletions::MAX_REASON_CHARS;
use crate::service::permissions::{Action, require};
use crate::service::required_text;
use crate::soft_delete::{self, Db, Handle, HoldRefused, HoldStamp, Scope};

/// A user and the hold just placed on or released from them.
#[derive(Clone, Debug)]
pub struct Held {
    /// The user as it is now, with the scope the viewer reads them in.
    pub user: user::Model,
    /// The scope `user` was read in: live, or with deleted rows for a deleted user.
    pub scope: Scope,
    /// The hold placed or released.
    pub hold: legal_hold::Model,
}

/// `FORBIDDEN` unless `viewer` may read legal holds (support and admins).
pub fn may_read(viewer: &Viewer) -> Result<()> {
    require(
        viewer,
        Action::ReadHolds,
        None,
        "only support and admins may read legal holds",
    )
}

/// The stamp of a hold change by `viewer`: the role first, then the reason (required).
fn stamp(viewer: &Viewer, reason: &str) -> Result<HoldStamp> {
    require(
        viewer,
        Action::Hold,
        None,
        "only an admin may place or release a legal hold",
    )?;
    Ok(HoldStamp {
        actor: viewer.id(),
        reason: required_text("reason", reason, MAX_REASON_CHARS)?,
        at: soft_delete::now(),
    })
}

fn refusal(user_id: i64, why: HoldRefused) -> Error {
    let user = ids::encode(Kind::User, user_id);
    match why {
        HoldRefused::NoSuchUser => Error::not_found(format!("no user with id {user}")),
        HoldRefused::AlreadyHeld(hold) => Error::Conflict(format!(
            "user {user} is already under a legal hold, placed at {} (\"{}\"); release it first",
            hold.placed_at.to_rfc3339(),
            hold.reason
        )),
        HoldRefused::NotHeld => Error::Conflict(format!(
            "user {user} is not under a legal hold: there is none to release"
        )),
    }
}

/// The scope the viewer reads `row` in: live, or (for a deleted user) with deleted rows.
fn scope_of(viewer: &Viewer, row: &user::Model) -> Result<Scope> {
    Ok(match row.deleted_at {
        None => Scope::Live,
        Some(_) => Scope::WithDeleted(viewer.see_deleted()?),
    })
}

/// `placeLegalHold`: admins only; the user may be live or deleted.
pub async fn place(db: &Db, viewer: &Viewer, user_id: i64, reason: &str) -> Result<Held> {
    let stamp = stamp(viewer, reason)?;
    let tx = db.begin().await?;
    let (row, hold) = soft_delete::place_hold(&tx, user_id, &stamp)
        .await?
        .map_err(|why| refusal(user_id, why))?;
    tx.commit().await?;
    tracing::info!(user = user_id, actor = viewer.id(), "legal hold placed");
    Ok(Held {
        scope: scope_of(viewer, &row)?,
        user: row,
        hold,
    })
}

/// `releaseLegalHold`: admins only; `CONFLICT` when the user is not held.
pub async fn release(db: &Db, viewer: &Viewer, user_id: i64, reason: &str) -> Result<Held> {
    let stamp = stamp(viewer, reason)?;
    let tx = db.begin().await?;
    let (row, hold) = soft_delete::release_hold(&tx, user_id, &stamp)
        .await?
        .map_err(|why| refusal(user_id, why))?;
    tx.commit().await?;
    tracing::info!(user = user_id, actor = viewer.id(), "legal hold released");
    Ok(Held {
        scope: scope_of(viewer, &row)?,
        user: row,
        hold,
    })
}

/// The active holds of `users` (for the loaders): one statement.
pub async fn active(
    h: &impl Handle,
    users: &[i64],
) -> Result<HashMap<i64, legal_hold::Model>, sea_orm::DbErr> {
    soft_delete::active_holds(h, users).await
}

/// Every hold of `users`, newest first (for the loaders): one statement.
pub async fn history(
    h: &impl Handle,
    users: &[i64],
) -> Result<HashMap<i64, Vec<legal_hold::Model>>, sea_orm::DbErr> {
    soft_delete::hold_history(h, users).await
}

//! Deletes under the role table; restores are [`super::restore`], reading the log is
//! [`super::log`].
//!
//! Every change runs in one transaction that locks what it checks, so a refusal or a crash
//! leaves the old state and a success leaves the whole new one. The set-based writes
//! themselves live in [`crate::soft_delete`].

use sea_orm::ColumnTrait;

use crate::auth::Viewer;
use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::optional_text;
use crate::service::permissions::{Action, Reach, may, reach, require};
use crate::soft_delete::{self, Db, Scope, Scoped, Stamp};

/// The most ids one `deleteAttachments` takes.
pub const MAX_BULK: usize = 100;
/// The longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

pub(super) fn stamp(viewer: &Viewer, reason: Option<String>) -> Result<Stamp> {
    stamp_by(viewer.id(), reason)
}

/// Who (user `actor`), why and now, for the log.
pub(super) fn stamp_by(actor: i64, reason: Option<String>) -> Result<Stamp> {
    let reason = optional_text("reason", reason.as_deref(), MAX_REASON_CHARS)?;
    Ok(Stamp {
        actor,
        reason,
        at: soft_delete::now(),
    })
}

fn may_delete(viewer: &Viewer) -> Result<()> {
    if reach(viewer.role(), Action::Delete) == Reach::No {
        Err(Error::forbidden(
            "support may read deleted data but not delete anything",
        ))
    } else {
        Ok(())
    }
}

pub(super) fn user_not_found(id: i64) -> Error {
    Error::not_found(format!("no user with id {}", ids::encode(Kind::User, id)))
}

pub(super) fn attachment_not_found(id: i64) -> Error {
    Error::not_found(format!(
        "no attachment with id {}",
        ids::encode(Kind::Attachment, id)
    ))
}

/// `deleteUser`: oneself, or anyone as an admin. Hides the user and its live attachments
/// as one deletion.
pub async fn delete_user(
    db: &Db,
    viewer: &Viewer,
    id: i64,
    reason: Option<String>,
) -> Result<deletion::Model> {
    may_delete(viewer)?;
    let stamp = stamp(viewer, reason)?;
    let tx = db.begin().await?;
    Scoped::<user::Entity>::live()
        .for_update()
        .by_id(&tx, id)
        .await?
        .ok_or_else(|| user_not_found(id))?;
    require(
        viewer,
        Action::Delete,
        Some(id),
        "a member may delete only their own account",
    )?;
    let logged = soft_delete::delete_user(&tx, id, &stamp)
        .await?
        .ok_or_else(|| user_not_found(id))?;
    tx.commit().await?;
    tracing::info!(
        deletion = logged.id,
        user = id,
        actor = viewer.id(),
        cascaded = logged.cascade_count,
        "user deleted"
    );
    Ok(logged)
}

/// `deleteAttachment` and `deleteAttachments`: one's own, or anyone's as an admin, all as
/// one deletion. Any id that is not a live attachment the viewer may see is `NOT_FOUND`
/// and nothing is deleted.
pub async fn delete_attachments(
    db: &Db,
    viewer: &Viewer,
    ids: &[i64],
    reason: Option<String>,
) -> Result<deletion::Model> {
    may_delete(viewer)?;
    let mut distinct = Vec::with_capacity(ids.len());
    for id in ids {
        if !distinct.contains(id) {
            distinct.push(*id);
        }
    }
    if distinct.is_empty() {
        return Err(Error::bad_input("ids: give at least one attachment id"));
    }
    if distinct.len() > MAX_BULK {
        return Err(Error::bad_input(format!(
            "ids: at most {MAX_BULK} attachments at once"
        )));
    }
    let stamp = stamp(viewer, reason)?;
    let tx = db.begin().await?;
    let found = Scoped::<attachment::Entity>::live()
        .for_update()
        .filter(attachment::Column::Id.is_in(distinct.iter().copied()))
        .all(&tx)
        .await?;
    for id in &distinct {
        let visible = found
            .iter()
            .any(|a| a.id == *id && may(viewer, Action::Delete, Some(a.owner_id)));
        if !visible {
            return Err(attachment_not_found(*id));
        }
    }
    let logged = soft_delete::delete_attachments(&tx, &distinct, &stamp)
        .await?
        .ok_or_else(|| attachment_not_found(distinct[0]))?;
    tx.commit().await?;
    tracing::info!(
        deletion = logged.id,
        attachments = distinct.len(),
        actor = viewer.id(),
        "attachments deleted"
    );
    Ok(logged)
}

/// The scope a child inherits: its own arguments when given, else its parent's.
pub fn child_scope(
    viewer: &Viewer,
    parent: Scope,
    include_deleted: Option<bool>,
    only_deleted: Option<bool>,
) -> Result<Scope> {
    if include_deleted.is_none() && only_deleted.is_none() {
        return Ok(parent);
    }
    viewer.scope(
        include_deleted.unwrap_or(false),
        only_deleted.unwrap_or(false),
    )
}

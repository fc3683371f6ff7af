//! Deletes and restores under the role table; reading the log is [`super::log`].
//!
//! Every change runs in one transaction that locks what it checks, so a refusal or a crash
//! leaves the old state and a success leaves the whole new one. The set-based writes
//! themselves live in [`crate::soft_delete`].

use std::time::Duration;

use chrono::Utc;
use sea_orm::ColumnTrait;

use crate::auth::{Role, Viewer};
use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::optional_text;
use crate::soft_delete::{
    self, Db, EntityKind, RestoreError, RestoreRefused, RowState, Scope, Scoped, Stamp, Tx,
};

/// The most ids one `deleteAttachments` takes.
pub const MAX_BULK: usize = 100;
/// The longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

fn stamp(viewer: &Viewer, reason: Option<String>) -> Result<Stamp> {
    let reason = optional_text("reason", reason.as_deref(), MAX_REASON_CHARS)?;
    Ok(Stamp {
        actor: viewer.id(),
        reason,
        at: Utc::now(),
    })
}

fn may_delete(viewer: &Viewer) -> Result<()> {
    if viewer.role() == Role::Support {
        Err(Error::forbidden(
            "support may read deleted data but not delete anything",
        ))
    } else {
        Ok(())
    }
}

fn user_not_found(id: i64) -> Error {
    Error::not_found(format!("no user with id {}", ids::encode(Kind::User, id)))
}

fn attachment_not_found(id: i64) -> Error {
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
    if viewer.id() != id && viewer.role() != Role::Admin {
        return Err(Error::forbidden(
            "a member may delete only their own account",
        ));
    }
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
            .any(|a| a.id == *id && (viewer.role() == Role::Admin || a.owner_id == viewer.id()));
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

fn deletion_not_found(id: i64) -> Error {
    Error::not_found(format!(
        "no deletion with id {}",
        ids::encode(Kind::Deletion, id)
    ))
}

/// Whether `viewer` may know of deletion `logged` at all. Support and admins read the whole
/// log. A member knows only deletions they made *of their own rows*: rights follow the
/// current role, so an admin demoted to member keeps no hold on deletions they made of
/// others' data. What a viewer may not know of answers exactly like what does not exist.
async fn may_know_of(tx: &Tx, viewer: &Viewer, logged: &deletion::Model) -> Result<bool> {
    match viewer.role() {
        Role::Admin | Role::Support => Ok(true),
        Role::Member => Ok(logged.actor_id == Some(viewer.id())
            && soft_delete::hid_only_rows_of(tx, logged, viewer.id()).await?),
    }
}

/// Whether `viewer`, who may know of `logged`, may undo it: admins any; members within the
/// undo window; support never.
fn may_restore(viewer: &Viewer, logged: &deletion::Model, undo_window: Duration) -> Result<()> {
    match viewer.role() {
        Role::Admin => Ok(()),
        Role::Support => Err(Error::forbidden(
            "support may read deleted data but not restore it",
        )),
        Role::Member => {
            let age = Utc::now().signed_duration_since(logged.deleted_at);
            let window = chrono::Duration::from_std(undo_window).unwrap_or(chrono::Duration::MAX);
            if age > window {
                return Err(Error::forbidden(format!(
                    "the undo window ({}s) has passed; ask an admin to restore it",
                    undo_window.as_secs()
                )));
            }
            Ok(())
        }
    }
}

/// Locks deletion `id` and returns it if the viewer may know of it; `None` otherwise, which
/// callers answer exactly as for a missing id.
async fn known_deletion_for_update(
    tx: &Tx,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<deletion::Model>> {
    let Some(logged) = soft_delete::deletion_for_update(tx, id).await? else {
        return Ok(None);
    };
    Ok(may_know_of(tx, viewer, &logged).await?.then_some(logged))
}

async fn restore_in(
    tx: &Tx,
    viewer: &Viewer,
    logged: &deletion::Model,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<deletion::Model> {
    may_restore(viewer, logged, undo_window)?;
    let stamp = stamp(viewer, reason)?;
    soft_delete::restore(tx, logged.id, &stamp)
        .await
        .map_err(|err| match err {
            RestoreError::Refused(why) => refusal(logged.id, why),
            RestoreError::Database(err) => err.into(),
        })
}

/// A refused restore of deletion `id`, in words that say what to do.
fn refusal(id: i64, why: RestoreRefused) -> Error {
    let deletion = ids::encode(Kind::Deletion, id);
    match why {
        RestoreRefused::NotFound => deletion_not_found(id),
        RestoreRefused::AlreadyRestored(at) => Error::bad_input(format!(
            "deletionId: deletion {deletion} was already restored at {}",
            at.to_rfc3339()
        )),
        RestoreRefused::Purged {
            finished: Some(at), ..
        } => Error::Conflict(format!(
            "deletion {deletion} was purged at {}: its rows are in the archive and cannot be restored",
            at.to_rfc3339()
        )),
        RestoreRefused::Purged { started, .. } => Error::Conflict(format!(
            "a purge of deletion {deletion} began at {}: its rows are being archived and it can no longer be restored",
            started.to_rfc3339()
        )),
        RestoreRefused::ParentDeleted { owner } => Error::ParentDeleted(format!(
            "the owner {} is deleted; restore the owner first",
            ids::encode(Kind::User, owner)
        )),
        RestoreRefused::Conflict => Error::Conflict(
            "a live user now holds this user's email; change that user's email first".into(),
        ),
    }
}

/// `restore`: undoes exactly one deletion, its cascade included.
pub async fn restore(
    db: &Db,
    viewer: &Viewer,
    deletion_id: i64,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<deletion::Model> {
    let tx = db.begin().await?;
    let logged = known_deletion_for_update(&tx, viewer, deletion_id)
        .await?
        .ok_or_else(|| deletion_not_found(deletion_id))?;
    let restored = restore_in(&tx, viewer, &logged, reason, undo_window).await?;
    tx.commit().await?;
    tracing::info!(
        deletion = deletion_id,
        actor = viewer.id(),
        "deletion restored"
    );
    Ok(restored)
}

/// The deletion hiding row `id` of `E`, locked, if the viewer may know of it. `Ok(None)`: the
/// row is live. `not_found` when there is no such row or the viewer may not know of its
/// deletion. The row's deletion is read, then locked, then read again: a restore or purge
/// that changed it meanwhile is seen.
async fn hiding_deletion_for_update<E: soft_delete::SoftDeletable>(
    tx: &Tx,
    viewer: &Viewer,
    id: i64,
    not_found: fn(i64) -> Error,
) -> Result<Option<deletion::Model>> {
    for _ in 0..3 {
        let deletion_id = match soft_delete::row_state::<E>(tx, id).await? {
            RowState::Missing => return Err(not_found(id)),
            RowState::Live => return Ok(None),
            RowState::HiddenBy(deletion_id) => deletion_id,
        };
        let logged = known_deletion_for_update(tx, viewer, deletion_id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if soft_delete::row_state::<E>(tx, id).await? == RowState::HiddenBy(deletion_id)
            || logged.restored_at.is_some()
            || logged.purge_started_at.is_some()
        {
            return Ok(Some(logged));
        }
    }
    Err(Error::Conflict(
        "the row changed while it was being restored; try again".into(),
    ))
}

/// `restoreUser`: undoes the deletion that hid this user.
pub async fn restore_user(
    db: &Db,
    viewer: &Viewer,
    id: i64,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<user::Model> {
    let tx = db.begin().await?;
    // Live users are visible to everyone, so "not deleted" tells nothing new.
    let logged = hiding_deletion_for_update::<user::Entity>(&tx, viewer, id, user_not_found)
        .await?
        .ok_or_else(|| Error::bad_input("id: this user is not deleted"))?;
    restore_in(&tx, viewer, &logged, reason, undo_window).await?;
    let user = Scoped::<user::Entity>::live()
        .by_id(&tx, id)
        .await?
        .ok_or_else(|| user_not_found(id))?;
    tx.commit().await?;
    tracing::info!(
        deletion = logged.id,
        user = id,
        actor = viewer.id(),
        "user restored"
    );
    Ok(user)
}

/// `restoreAttachment`: undoes the deletion that hid this attachment. One hidden by its
/// owner's deletion comes back with its owner: `PARENT_DELETED` here.
pub async fn restore_attachment(
    db: &Db,
    viewer: &Viewer,
    id: i64,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<attachment::Model> {
    let tx = db.begin().await?;
    let Some(logged) =
        hiding_deletion_for_update::<attachment::Entity>(&tx, viewer, id, attachment_not_found)
            .await?
    else {
        // Live: "not deleted" only to those who may see it; to others, as if missing.
        let visible = Scoped::<attachment::Entity>::live()
            .by_id(&tx, id)
            .await?
            .is_some_and(|a| viewer.is_staff() || a.owner_id == viewer.id());
        return Err(if visible {
            Error::bad_input("id: this attachment is not deleted")
        } else {
            attachment_not_found(id)
        });
    };
    if EntityKind::parse(&logged.entity) == Some(EntityKind::User) {
        return Err(Error::ParentDeleted(format!(
            "this attachment was hidden by its owner's deletion; restore the owner {} (or deletion {})",
            ids::encode(Kind::User, logged.entity_id),
            ids::encode(Kind::Deletion, logged.id)
        )));
    }
    restore_in(&tx, viewer, &logged, reason, undo_window).await?;
    let restored = Scoped::<attachment::Entity>::live()
        .by_id(&tx, id)
        .await?
        .ok_or_else(|| attachment_not_found(id))?;
    tx.commit().await?;
    tracing::info!(
        deletion = logged.id,
        attachment = id,
        actor = viewer.id(),
        "attachment restored"
    );
    Ok(restored)
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

//! Restores under the role table: one deletion exactly (`restore`), or the deletion hiding
//! one row (`restoreUser`, `restoreAttachment`), with refusals that say what to do first.
//! What a member may still undo, and the undo credential, are [`super::undo`].
//!
//! The deletion's row is locked before anything is checked, so a restore never races a purge
//! or another restore of it; the undo itself lives in [`crate::soft_delete::restore`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::permissions::{Action, Reach, knows_every_deletion, may, reach};
use crate::soft_delete::{
    self, Db, EntityKind, LockedDeletion, RestoreError, RestoreRefused, RowState, Scope, Scoped,
    Stamp, Tx,
};

use super::deletions::{attachment_not_found, stamp, user_not_found};

pub(super) fn deletion_not_found(id: i64) -> Error {
    Error::not_found(format!(
        "no deletion with id {}",
        ids::encode(Kind::Deletion, id)
    ))
}

/// Whether `viewer` may know of deletion `logged` at all. Support and admins read the whole
/// log. A member knows only deletions they made *of their own rows*: rights follow the
/// current role, so an admin demoted to member keeps no hold on deletions they made of
/// others' data. What a viewer may not know of answers exactly like what does not exist.
pub(super) async fn may_know_of(
    tx: &Tx,
    viewer: &Viewer,
    logged: &deletion::Model,
) -> Result<bool> {
    if knows_every_deletion(viewer) {
        return Ok(true);
    }
    Ok(logged.actor_id == Some(viewer.id())
        && soft_delete::hid_only_rows_of(tx, logged, viewer.id()).await?)
}

/// Whether `viewer`, who may know of `logged`, may undo it: admins any; members within the
/// undo window; support never.
pub(super) fn may_restore(
    viewer: &Viewer,
    logged: &deletion::Model,
    undo_window: Duration,
) -> Result<()> {
    match reach(viewer.role(), Action::Restore) {
        Reach::All => Ok(()),
        Reach::No => Err(Error::forbidden(
            "support may read deleted data but not restore it",
        )),
        Reach::Own => inside_window(logged, undo_window),
    }
}

/// Until when a member may undo `logged`: its time plus the undo window.
pub fn undo_until(logged: &deletion::Model, undo_window: Duration) -> DateTime<Utc> {
    let window = chrono::Duration::from_std(undo_window).unwrap_or(chrono::Duration::MAX);
    logged
        .deleted_at
        .checked_add_signed(window)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `FORBIDDEN` once the undo window of `logged` has passed.
pub(super) fn inside_window(logged: &deletion::Model, undo_window: Duration) -> Result<()> {
    if soft_delete::now() > undo_until(logged, undo_window) {
        return Err(Error::forbidden(format!(
            "the undo window ({}s) has passed; ask an admin to restore it",
            undo_window.as_secs()
        )));
    }
    Ok(())
}

/// Locks deletion `id` and returns it if the viewer may know of it; `None` otherwise, which
/// callers answer exactly as for a missing id. For a member, one statement decides and
/// locks only a deletion they may know of: a missing deletion and someone else's take the
/// same statement, and no lock.
async fn known_deletion_for_update(
    tx: &Tx,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<LockedDeletion>> {
    if !knows_every_deletion(viewer) {
        return Ok(soft_delete::members_deletion_for_update(tx, id, viewer.id()).await?);
    }
    let Some(logged) = soft_delete::deletion_for_update(tx, id).await? else {
        return Ok(None);
    };
    Ok(may_know_of(tx, viewer, &logged).await?.then_some(logged))
}

async fn restore_in(
    tx: &Tx,
    viewer: &Viewer,
    logged: &LockedDeletion,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<deletion::Model> {
    may_restore(viewer, logged, undo_window)?;
    undo(tx, logged, &stamp(viewer, reason)?).await
}

/// Undoes `logged` (locked in `tx`), or says in words why it cannot be.
pub(super) async fn undo(
    tx: &Tx,
    logged: &LockedDeletion,
    stamp: &Stamp,
) -> Result<deletion::Model> {
    soft_delete::restore(tx, logged, stamp)
        .await
        .map_err(|err| match err {
            RestoreError::Refused(why) => refusal(logged.id, why),
            RestoreError::Database(err) => err.into(),
        })
}

/// A refused restore of deletion `id`, in words that say what to do.
pub(super) fn refusal(id: i64, why: RestoreRefused) -> Error {
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
        RestoreRefused::Erased { user } => Error::Conflict(format!(
            "user {} was erased: their personal data is gone for good, so deletion {deletion} \
             cannot be restored",
            ids::encode(Kind::User, user)
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
    let restored = match restore_in(&tx, viewer, &logged, reason, undo_window).await {
        Ok(restored) => restored,
        Err(refused) => {
            drop(tx); // rolled back: the holder is read outside it
            return Err(naming_the_holder(db, viewer, &logged, refused).await);
        }
    };
    tx.commit().await?;
    tracing::info!(
        deletion = deletion_id,
        actor = viewer.id(),
        "deletion restored"
    );
    Ok(restored)
}

/// What a restore by row id finds.
enum Found<M> {
    /// The deletion hiding the row, locked; the viewer may know of it.
    Hidden(LockedDeletion),
    /// The row is live: read whole when the member path read it, else only known live.
    Live(Option<M>),
}

/// The deletion hiding row `id` of `E`, locked, if the viewer may know of it, or that the
/// row is live. `not_found` when there is no such row or the viewer may not know of its
/// deletion. The row's deletion is read, then locked, then read again: a restore or purge
/// that changed it meanwhile is seen.
///
/// A member takes one path for every row they may not know of (missing, someone else's,
/// hidden by someone else's deletion): the deletion they may know of, none found, then the
/// live row, none found. Two statements each, no lock, the same answer.
async fn hiding_deletion_for_update<E>(
    tx: &Tx,
    viewer: &Viewer,
    id: i64,
    not_found: fn(i64) -> Error,
) -> Result<Found<E::Model>>
where
    E: soft_delete::SoftDeletable,
    E::Model: Sync,
{
    for _ in 0..3 {
        let logged = if !knows_every_deletion(viewer) {
            let known =
                soft_delete::members_deletion_hiding_for_update::<E>(tx, id, viewer.id()).await?;
            let Some(logged) = known else {
                let live = Scoped::<E>::live().by_id(tx, id).await?;
                return match live {
                    Some(row) => Ok(Found::Live(Some(row))),
                    None => Err(not_found(id)),
                };
            };
            logged
        } else {
            let deletion_id = match soft_delete::row_state::<E>(tx, id).await? {
                RowState::Missing => return Err(not_found(id)),
                RowState::Live => return Ok(Found::Live(None)),
                RowState::HiddenBy(deletion_id) => deletion_id,
            };
            known_deletion_for_update(tx, viewer, deletion_id)
                .await?
                .ok_or_else(|| not_found(id))?
        };
        if soft_delete::row_state::<E>(tx, id).await? == RowState::HiddenBy(logged.id)
            || logged.restored_at.is_some()
            || logged.purge_started_at.is_some()
        {
            return Ok(Found::Hidden(logged));
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
    let logged =
        match hiding_deletion_for_update::<user::Entity>(&tx, viewer, id, user_not_found).await? {
            Found::Hidden(logged) => logged,
            Found::Live(_) => return Err(Error::bad_input("id: this user is not deleted")),
        };
    let restore = Restore::new(viewer, reason, undo_window);
    match restore
        .row::<user::Entity>(tx, &logged, id, user_not_found)
        .await
    {
        Ok(user) => Ok(user),
        Err(refused) => Err(naming_the_holder(db, viewer, &logged, refused).await),
    }
}

/// A user deletion's restore refused because a live user now holds the email: for staff,
/// who may read emails, the refusal names that user, so the admin knows whose email to
/// change. Any other refusal, or a viewer who may not read emails, is left as it was.
async fn naming_the_holder(
    db: &Db,
    viewer: &Viewer,
    logged: &deletion::Model,
    refused: Error,
) -> Error {
    let in_force = logged.restored_at.is_none() && logged.purge_started_at.is_none();
    let is_user = EntityKind::parse(&logged.entity) == Some(EntityKind::User);
    let (Error::Conflict(_), true, true, Ok(proof)) =
        (&refused, in_force, is_user, viewer.see_deleted())
    else {
        return refused;
    };
    let hidden = Scoped::<user::Entity>::new(Scope::OnlyDeleted(proof))
        .by_id(db, logged.entity_id)
        .await;
    let Ok(Some(hidden)) = hidden else {
        return refused;
    };
    match super::users::find_by_email(db, &hidden.email).await {
        Ok(Some(holder)) => Error::Conflict(format!(
            "{} now belongs to a live user, {} ({}); change that user's email first",
            hidden.email,
            holder.name,
            ids::encode(Kind::User, holder.id)
        )),
        _ => refused,
    }
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
    let found =
        hiding_deletion_for_update::<attachment::Entity>(&tx, viewer, id, attachment_not_found)
            .await?;
    let logged = match found {
        Found::Hidden(logged) => logged,
        Found::Live(row) => {
            // Live: "not deleted" only to those who may see it; to others, as if missing.
            let row = match row {
                Some(row) => Some(row),
                None => Scoped::<attachment::Entity>::live().by_id(&tx, id).await?,
            };
            let visible =
                row.is_some_and(|a| may(viewer, Action::ReadAttachments, Some(a.owner_id)));
            return Err(if visible {
                Error::bad_input("id: this attachment is not deleted")
            } else {
                attachment_not_found(id)
            });
        }
    };
    if EntityKind::parse(&logged.entity) == Some(EntityKind::User) {
        if soft_delete::erasure_of(&tx, logged.entity_id)
            .await?
            .is_some()
        {
            return Err(refusal(
                logged.id,
                RestoreRefused::Erased {
                    user: logged.entity_id,
                },
            ));
        }
        return Err(Error::ParentDeleted(format!(
            "this attachment was hidden by its owner's deletion; restore the owner {} (or deletion {})",
            ids::encode(Kind::User, logged.entity_id),
            ids::encode(Kind::Deletion, logged.id)
        )));
    }
    let restore = Restore::new(viewer, reason, undo_window);
    restore
        .row::<attachment::Entity>(tx, &logged, id, attachment_not_found)
        .await
}

/// A restore of one row's deletion, by `viewer`, for `reason`.
struct Restore<'a> {
    viewer: &'a Viewer,
    reason: Option<String>,
    undo_window: Duration,
}

impl<'a> Restore<'a> {
    fn new(viewer: &'a Viewer, reason: Option<String>, undo_window: Duration) -> Restore<'a> {
        Restore {
            viewer,
            reason,
            undo_window,
        }
    }

    /// Undoes `logged` (the deletion hiding row `id` of `E`, locked in `tx`), commits, and
    /// returns the row, live again.
    async fn row<E>(
        self,
        tx: Tx,
        logged: &LockedDeletion,
        id: i64,
        not_found: fn(i64) -> Error,
    ) -> Result<E::Model>
    where
        E: soft_delete::SoftDeletable,
        E::Model: Sync,
    {
        restore_in(&tx, self.viewer, logged, self.reason, self.undo_window).await?;
        let row = Scoped::<E>::live()
            .by_id(&tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        tx.commit().await?;
        tracing::info!(
            deletion = logged.id,
            entity = E::KIND.as_str(),
            id,
            actor = self.viewer.id(),
            "row restored"
        );
        Ok(row)
    }
}

//! What one may still undo: `recentDeletions` (one's own deletions inside the undo window,
//! with the proof to list what each hid), and the undo credential that deleting one's own
//! account returns, which can restore that deletion and nothing else.

use std::time::Duration;

use crate::auth::{Tokens, UndoGrant, Viewer};
use crate::entity::deletion;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::permissions::{Action, Reach, reach};
use crate::soft_delete::{self, Db, EntityKind, SeeHidden, Tx};

use super::deletions::stamp_by;
use super::restore::{deletion_not_found, inside_window, undo, undo_until};

/// Whether `logged` is `user`'s deletion of their own account (and of nothing but their
/// own rows): the one kind of deletion an undo credential is given for and may restore.
async fn is_own_account_deletion(tx: &Tx, logged: &deletion::Model, user: i64) -> Result<bool> {
    Ok(EntityKind::parse(&logged.entity) == Some(EntityKind::User)
        && logged.entity_id == user
        && logged.actor_id == Some(user)
        && soft_delete::hid_only_rows_of(tx, logged, user).await?)
}

/// The undo credential `deleteUser` returns, once, when `viewer` has just deleted their own
/// account (`logged`): it can only restore that deletion, until [`undo_until`]. `None` for
/// any other deletion.
pub fn undo_credential(
    tokens: &Tokens,
    viewer: &Viewer,
    logged: &deletion::Model,
    undo_window: Duration,
) -> Result<Option<String>> {
    let own_account = EntityKind::parse(&logged.entity) == Some(EntityKind::User)
        && logged.entity_id == viewer.id()
        && logged.actor_id == Some(viewer.id());
    if !own_account {
        return Ok(None);
    }
    let until = undo_until(logged, undo_window);
    Ok(Some(tokens.issue_undo(viewer.id(), logged.id, until)?))
}

/// `restore` with an undo credential: the one deletion it names, if that is still its
/// holder's deletion of their own account, in force and inside the undo window. The holder
/// is recorded as the restorer.
pub async fn restore_with_undo_credential(
    db: &Db,
    grant: &UndoGrant,
    deletion_id: i64,
    reason: Option<String>,
    undo_window: Duration,
) -> Result<deletion::Model> {
    if deletion_id != grant.deletion() {
        return Err(Error::forbidden(format!(
            "this undo credential can only restore deletion {}",
            ids::encode(Kind::Deletion, grant.deletion())
        )));
    }
    let stamp = stamp_by(grant.user(), reason)?;
    let tx = db.begin().await?;
    let logged = soft_delete::deletion_for_update(&tx, deletion_id)
        .await?
        .ok_or_else(|| deletion_not_found(deletion_id))?;
    // Signed by us for exactly this; checked again so that no credential reaches further.
    if !is_own_account_deletion(&tx, &logged, grant.user()).await? {
        return Err(deletion_not_found(deletion_id));
    }
    inside_window(&logged, undo_window)?;
    let restored = undo(&tx, &logged, &stamp).await?;
    tx.commit().await?;
    tracing::info!(
        deletion = deletion_id,
        user = grant.user(),
        "own account restored with an undo credential"
    );
    Ok(restored)
}

/// The most deletions `recentDeletions` lists.
pub const MAX_RECENT: u64 = 100;

/// A deletion the viewer may undo now, with the proof that lets them see the rows it hides
/// (what Undo would bring back) though they may not see deleted rows otherwise.
#[derive(Clone, Debug)]
pub struct Undoable {
    pub deletion: deletion::Model,
    pub proof: SeeHidden,
}

/// `recentDeletions`: the viewer's own deletions they may still undo, newest first: made
/// by them, in force, inside the undo window, and (for a member) of their own rows only, as
/// `restore` would check. Each carries the proof to list the rows it hides.
///
/// One statement whatever it finds: every check `restore` makes before it would undo one of
/// them (who may know of it, who may restore it, the window) is part of the query.
pub async fn recent(
    db: &Db,
    viewer: &Viewer,
    first: Option<i32>,
    undo_window: Duration,
) -> Result<Vec<Undoable>> {
    let first = match first {
        None => 20,
        Some(n) if (0..=MAX_RECENT as i32).contains(&n) => n as u64,
        Some(_) => {
            return Err(Error::bad_input(format!(
                "first: must be between 0 and {MAX_RECENT}"
            )));
        }
    };
    let only_rows_of = match reach(viewer.role(), Action::Restore) {
        // Support may restore nothing, so has nothing to undo.
        Reach::No => return Ok(Vec::new()),
        Reach::All => None,
        // A member's rights over a deletion follow from owning its rows (`may_know_of`).
        Reach::Own => Some(viewer.id()),
    };
    let window = chrono::Duration::from_std(undo_window).unwrap_or(chrono::Duration::MAX);
    let since = soft_delete::now()
        .checked_sub_signed(window)
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let filter = soft_delete::DeletionFilter {
        actor: Some(viewer.id()),
        since: Some(since),
        in_force: true,
        only_rows_of,
        ..Default::default()
    };
    let page = filter
        .page(db, soft_delete::Window::forward(first, None))
        .await?;
    Ok(page
        .rows
        .into_iter()
        .map(|deletion| {
            // The one grant of the narrow proof, for a deletion the query above found to
            // pass a restore's own checks for this viewer (clippy.toml).
            #[allow(clippy::disallowed_methods)]
            let proof = SeeHidden::for_undoable(deletion.id);
            Undoable { deletion, proof }
        })
        .collect())
}

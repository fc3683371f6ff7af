//! `eraseUser`: the right to be forgotten. Who may (admins anyone, a member their own
//! account), the reason, the one transaction ([`crate::soft_delete::erase_user`]), then the
//! blobs no row holds any more, then (SQLite) the write-ahead log truncated so no old page
//! keeps what was erased. What goes and what stays: docs/erasure.md.

use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::entity::erasure;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::content;
use crate::service::deletions::MAX_REASON_CHARS;
use crate::service::permissions::{Action, Reach, may, reach};
use crate::service::required_text;
use crate::soft_delete::{self, Db, EraseError, EraseRefused, ErasureFigures, Stamp};
use crate::storage::Storage;

/// What an erasure did, or on a dry run would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErasureReport {
    /// The user.
    pub user_id: i64,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The figures; a dry run's are the real run's.
    pub figures: ErasureFigures,
    /// When it happened; `None` on a dry run.
    pub erased_at: Option<DateTime<Utc>>,
}

/// Whether `viewer` may erase user `id`: admins anyone, a member themself, support no one.
fn may_erase(viewer: &Viewer, id: i64) -> Result<()> {
    match reach(viewer.role(), Action::Erase) {
        Reach::No => Err(Error::forbidden(
            "support may read deleted data but not erase anyone's",
        )),
        _ if may(viewer, Action::Erase, Some(id)) => Ok(()),
        _ => Err(Error::forbidden(
            "a member may erase only their own account",
        )),
    }
}

/// `eraseUser`: checks, then erases user `id` in one transaction (or, on a dry run, measures
/// it and changes nothing); after the commit removes the blobs no row holds and truncates
/// SQLite's log.
pub async fn erase_user(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    id: i64,
    reason: &str,
    dry_run: bool,
) -> Result<ErasureReport> {
    // The role first: someone who may not erase learns nothing from their arguments.
    may_erase(viewer, id)?;
    let reason = required_text("reason", reason, MAX_REASON_CHARS)?;
    let stamp = Stamp {
        actor: viewer.id(),
        reason: Some(reason),
        at: soft_delete::now(),
    };
    let tx = db.begin().await?;
    let erased = match soft_delete::erase_user(&tx, id, &stamp, dry_run).await {
        Ok(erased) => erased,
        Err(EraseError::Database(err)) => return Err(err.into()),
        Err(EraseError::Refused(why)) => {
            drop(tx);
            return Err(refusal(id, why));
        }
    };
    if dry_run {
        tx.rollback().await?;
        return Ok(ErasureReport {
            user_id: id,
            dry_run: true,
            figures: erased.figures,
            erased_at: None,
        });
    }
    tx.commit().await?;
    let mut removed = 0usize;
    for sha256 in &erased.blobs {
        removed += usize::from(
            content::erase_if_unused(db, storage, sha256)
                .await
                .is_some(),
        );
    }
    let truncated = soft_delete::truncate_log(db).await.unwrap_or(false);
    if !truncated {
        tracing::warn!(
            user = id,
            "after an erasure the SQLite log could not be truncated now (a reader held it); the \
             next checkpoint does it"
        );
    }
    tracing::info!(
        user = id,
        actor = viewer.id(),
        figures = ?erased.figures,
        blobs_removed = removed,
        "user erased"
    );
    Ok(ErasureReport {
        user_id: id,
        dry_run: false,
        figures: erased.figures,
        erased_at: erased.tombstone.map(|t| t.erased_at),
    })
}

/// A refused erasure, in words.
fn refusal(id: i64, why: EraseRefused) -> Error {
    let user = ids::encode(Kind::User, id);
    match why {
        EraseRefused::NotFound => Error::not_found(format!("no user with id {user}")),
        EraseRefused::AlreadyErased(tombstone) => Error::Conflict(format!(
            "user {user} was already erased at {}; there is nothing left to erase",
            tombstone.erased_at.to_rfc3339()
        )),
        EraseRefused::Held(hold) => Error::Conflict(format!(
            "user {user} is under a legal hold ({hold}); release it before erasing"
        )),
    }
}

/// `User.erasure`: the tombstone, for support, admins and the user themself; `None` for
/// anyone else and for a user never erased.
pub fn erasure_for(
    viewer: &Viewer,
    user: i64,
    tombstone: Option<erasure::Model>,
) -> Option<erasure::Model> {
    may(viewer, Action::ReadEmail, Some(user))
        .then_some(tombstone)
        .flatten()
}

//! Attachments: a member sees and creates only their own; support and admins see all.

use chrono::Utc;
use sea_orm::{ColumnTrait, Set};

use crate::auth::{Role, Viewer};
use crate::entity::{attachment, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::required_text;
use crate::soft_delete::{self, Db, Handle, Scope, Scoped};

/// An attachment to record.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub owner_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// The live attachment with this id, if the viewer may see it. Another member's attachment
/// is as invisible as a missing one.
pub async fn get(
    h: &impl Handle,
    viewer: &Viewer,
    scope: Scope,
    id: i64,
) -> Result<Option<attachment::Model>> {
    let found = Scoped::<attachment::Entity>::new(scope)
        .by_id(h, id)
        .await?;
    Ok(found.filter(|a| viewer.is_staff() || a.owner_id == viewer.id()))
}

/// Fails with `FORBIDDEN` unless the viewer may list `owner`'s attachments: their own, or
/// anyone's as support or admin.
pub fn may_list(viewer: &Viewer, owner: i64) -> Result<()> {
    if viewer.is_staff() || owner == viewer.id() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "a member may list only their own attachments",
        ))
    }
}

/// The attachments a listing may show: one owner's, or (no owner given) all the viewer may
/// see. A member asking for someone else's attachments is `FORBIDDEN`.
pub fn list_scope(
    viewer: &Viewer,
    scope: Scope,
    owner_id: Option<i64>,
) -> Result<Scoped<attachment::Entity>> {
    let owner_id = match owner_id {
        Some(owner) => {
            may_list(viewer, owner)?;
            Some(owner)
        }
        None if viewer.is_staff() => None,
        None => Some(viewer.id()),
    };
    let query = Scoped::new(scope);
    Ok(match owner_id {
        Some(owner) => query.filter(attachment::Column::OwnerId.eq(owner)),
        None => query,
    })
}

fn check_content_type(value: &str) -> Result<String> {
    let value = required_text("contentType", value, 255)?.to_lowercase();
    match value.split_once('/') {
        Some((kind, sub)) if !kind.is_empty() && !sub.is_empty() && !value.contains(' ') => {
            Ok(value)
        }
        _ => Err(Error::bad_input(format!(
            "contentType: '{value}' is not a media type like image/png"
        ))),
    }
}

/// Checks and records an attachment, without a permission check or an owner check: for
/// callers that have done both (in the same transaction).
pub async fn insert(h: &impl Handle, new: NewAttachment) -> Result<attachment::Model> {
    let filename = required_text("filename", &new.filename, 255)?;
    let content_type = check_content_type(&new.content_type)?;
    if new.size_bytes < 0 {
        return Err(Error::bad_input(format!(
            "sizeBytes: must not be negative (got {})",
            new.size_bytes
        )));
    }
    let row = attachment::ActiveModel {
        owner_id: Set(new.owner_id),
        filename: Set(filename),
        content_type: Set(content_type),
        size_bytes: Set(new.size_bytes),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    Ok(soft_delete::insert(h, row).await?)
}

/// `createAttachment`: for oneself, or for anyone as an admin. The owner must be live.
pub async fn create(db: &Db, viewer: &Viewer, new: NewAttachment) -> Result<attachment::Model> {
    if new.owner_id != viewer.id() && viewer.role() != Role::Admin {
        return Err(Error::forbidden(
            "you may add attachments only to your own account",
        ));
    }
    // The owner's row stays share-locked until the insert commits: a concurrent deleteUser
    // waits for it and then cascades to the new attachment too, or wins first and this
    // insert finds no live owner. Never a live attachment under a deleted user.
    let tx = db.begin().await?;
    let owner = Scoped::<user::Entity>::live()
        .for_share()
        .by_id(&tx, new.owner_id)
        .await?;
    if owner.is_none() {
        return Err(Error::not_found(format!(
            "ownerId: no user with id {}",
            ids::encode(Kind::User, new.owner_id)
        )));
    }
    let created = insert(&tx, new).await?;
    tx.commit().await?;
    Ok(created)
}

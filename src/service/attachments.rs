//! Attachments: a member sees and creates only their own; support and admins see all.

use sea_orm::{ColumnTrait, Set};

use crate::auth::Viewer;
use crate::entity::{attachment, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::keys::{AttachmentKey, OwnerPage, Rows};
use crate::service::permissions::{Action, may, require};
use crate::service::{InScope, Listing, PageArgs, PageRequest, Total, deletions, required_text};
use crate::soft_delete::{self, Columns, Db, Handle, Scope, Scoped, Tx};

/// An attachment to record.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub owner_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// The SHA-256 of its bytes, when they are uploaded with it (already in storage).
    pub sha256: Option<String>,
}

/// Whether `viewer` may see attachment `a`: their own, or anyone's as support or admin.
pub fn may_see(viewer: &Viewer, a: &attachment::Model) -> bool {
    may(viewer, Action::ReadAttachments, Some(a.owner_id))
}

/// `attachment(id, includeDeleted)`: the attachment with this global id, if the viewer may
/// see it in the scope asked for.
pub async fn find(
    rows: &impl Rows,
    viewer: &Viewer,
    id: &str,
    include_deleted: bool,
) -> Result<Option<InScope<attachment::Model>>> {
    let scope = viewer.scope(include_deleted, false)?;
    let id = ids::decode(Kind::Attachment, id)?;
    let found = rows.attachment(AttachmentKey(id, scope)).await?;
    Ok(found
        .filter(|a| may_see(viewer, a))
        .map(|row| InScope { row, scope }))
}

/// Fails with `FORBIDDEN` unless the viewer may list `owner`'s attachments: their own, or
/// anyone's as support or admin.
pub fn may_list(viewer: &Viewer, owner: i64) -> Result<()> {
    require(
        viewer,
        Action::ReadAttachments,
        Some(owner),
        "a member may list only their own attachments",
    )
}

/// `attachments`: one owner's (`ownerId`, a global id), or all the viewer may see.
pub async fn list(
    h: &impl Handle,
    viewer: &Viewer,
    owner_id: Option<&str>,
    include_deleted: bool,
    only_deleted: bool,
    page: PageArgs<'_>,
) -> Result<Listing<attachment::Model>> {
    let scope = viewer.scope(include_deleted, only_deleted)?;
    let page = PageRequest::parse(page)?;
    let owner_id = owner_id.map(|id| ids::decode(Kind::User, id)).transpose()?;
    let query = list_scope(viewer, scope, owner_id)?;
    let found = query.clone().page(h, page).await?;
    Ok(Listing::of(found, page, scope, Total::Attachments(query)))
}

/// `User.attachments`: which page of `owner`'s attachments to read. Without
/// `includeDeleted`/`onlyDeleted` the scope the owner was read in carries down. A member may
/// list only their own.
pub fn owner_page(
    viewer: &Viewer,
    parent: Scope,
    owner: i64,
    page: PageArgs<'_>,
    include_deleted: Option<bool>,
    only_deleted: Option<bool>,
) -> Result<OwnerPage> {
    let page = PageRequest::parse(page)?;
    let scope = deletions::child_scope(viewer, parent, include_deleted, only_deleted)?;
    may_list(viewer, owner)?;
    Ok(OwnerPage {
        owner,
        scope,
        page,
        columns: Columns::all(),
    })
}

/// The attachments a listing may show: one owner's, or (no owner given) all the viewer may
/// see. A member asking for someone else's attachments is `FORBIDDEN`.
fn list_scope(
    viewer: &Viewer,
    scope: Scope,
    owner_id: Option<i64>,
) -> Result<Scoped<attachment::Entity>> {
    let owner_id = match owner_id {
        Some(owner) => {
            may_list(viewer, owner)?;
            Some(owner)
        }
        None if may(viewer, Action::ReadAttachments, None) => None,
        None => Some(viewer.id()),
    };
    let query = Scoped::new(scope);
    Ok(match owner_id {
        Some(owner) => query.filter(attachment::Column::OwnerId.eq(owner)),
        None => query,
    })
}

/// A media type as HTTP writes one (`type/subtype`, then `; name=value` parameters whose
/// value is a token or a quoted string), stored wholly lower-case with one space after each
/// `;`: `Text/Plain;Charset=UTF-8` is kept as `text/plain; charset=utf-8`. Anything else (a
/// list such as `text/html,text/plain`, a space inside a name, no subtype) is refused: the
/// value goes out as the `Content-Type` of downloads.
pub(crate) fn check_content_type(value: &str) -> Result<String> {
    let value = required_text("contentType", value, 255)?;
    let refused = || {
        Error::bad_input(format!(
            "contentType: '{value}' is not one media type like image/png or \
             text/plain; charset=utf-8"
        ))
    };
    let lower = value.to_ascii_lowercase();
    let mut parts = lower.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').ok_or_else(refused)?;
    if !is_token(kind) || !is_token(subtype) {
        return Err(refused());
    }
    let mut normal = format!("{kind}/{subtype}");
    for parameter in parts {
        let (name, value) = parameter.trim().split_once('=').ok_or_else(refused)?;
        if !is_token(name) || !(is_token(value) || is_quoted_string(value)) {
            return Err(refused());
        }
        normal.push_str("; ");
        normal.push_str(name);
        normal.push('=');
        normal.push_str(value);
    }
    Ok(normal)
}

/// An HTTP token: one or more of the characters a media type's names may hold.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An HTTP quoted string: `"…"` of visible ASCII and spaces, with `\` escapes.
fn is_quoted_string(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut escaped = false;
    for b in inner.bytes() {
        match (escaped, b) {
            (true, b' ' | b'\t' | 0x21..=0x7e) => escaped = false,
            (true, _) => return false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return false,
            (false, b' ' | b'\t' | 0x21..=0x7e) => {}
            (false, _) => return false,
        }
    }
    !escaped
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
        sha256: Set(new.sha256),
        created_at: Set(soft_delete::now()),
        ..Default::default()
    };
    Ok(soft_delete::insert(h, row).await?)
}

/// `createAttachment`: for oneself, or for anyone as an admin. The owner must be live.
pub async fn create(db: &Db, viewer: &Viewer, new: NewAttachment) -> Result<attachment::Model> {
    may_create(viewer, new.owner_id)?;
    let tx = db.begin().await?;
    lock_live_owner(&tx, new.owner_id).await?;
    let created = insert(&tx, new).await?;
    tx.commit().await?;
    Ok(created)
}

/// `FORBIDDEN` unless `viewer` may add attachments to `owner`: their own, or anyone's as an
/// admin.
pub(crate) fn may_create(viewer: &Viewer, owner: i64) -> Result<()> {
    require(
        viewer,
        Action::CreateAttachments,
        Some(owner),
        "you may add attachments only to your own account",
    )
}

/// Share-locks `owner`'s live row until `tx` ends, or `NOT_FOUND`: a concurrent deleteUser
/// waits for the insert that follows and then cascades to it too, or wins first and the
/// insert finds no live owner. Never a live attachment under a deleted user.
pub(crate) async fn lock_live_owner(tx: &Tx, owner: i64) -> Result<()> {
    let found = Scoped::<user::Entity>::live()
        .for_share()
        .by_id(tx, owner)
        .await?;
    if found.is_none() {
        return Err(Error::not_found(format!(
            "ownerId: no user with id {}",
            ids::encode(Kind::User, owner)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_content_type;

    #[test]
    fn content_types_are_one_media_type_stored_lower_case() {
        for (given, stored) in [
            ("image/png", "image/png"),
            ("Text/Plain;Charset=UTF-8", "text/plain; charset=utf-8"),
            ("text/html;charset=utf-7", "text/html; charset=utf-7"),
            (
                "multipart/mixed ; boundary=\"A B\"",
                "multipart/mixed; boundary=\"a b\"",
            ),
            ("application/vnd.api+json", "application/vnd.api+json"),
        ] {
            assert_eq!(check_content_type(given).unwrap(), stored, "{given}");
        }
        for refused in [
            "TEXT/HTML,text/plain",
            "text",
            "text/",
            "/plain",
            "text/pl ain",
            "text/plain; charset",
            "text/plain; charset=\"open",
            "text/plain; =utf-8",
            "tëxt/plain",
            "text/plain; a=b c",
        ] {
            assert!(check_content_type(refused).is_err(), "{refused}");
        }
    }
}

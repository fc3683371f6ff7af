//! Attachments in the schema: the `Attachment` type's fields here; which columns a selection
//! reads in `columns.rs`; the fields written straight into the response in `leaves.rs`; the
//! roots (`attachment`, `attachments`, the mutations) in `roots.rs`.

mod columns;
mod leaves;
mod roots;
#[cfg(test)]
mod tests;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::loaders::UserKey;
use super::scalars::SafeInt;
use super::types::{Attachment, Deletion, User};
use crate::entity::attachment::Column as C;
use crate::error::Result;
use crate::ids::{self, Kind};

pub(crate) use columns::columns_for;
pub use roots::{AttachmentMutation, AttachmentQuery};

/// A file a user keeps: its name, type and size, and its bytes (downloaded from
/// `GET /attachments/{id}/content`). Deleted attachments are hidden unless asked for with
/// `includeDeleted` by support and admins.
#[Object]
impl Attachment {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Attachment, self.row.id))
    }

    /// The file's name.
    async fn filename(&self) -> Result<&str> {
        self.read(C::Filename)?;
        Ok(&self.row.filename)
    }

    /// The file's media type, like `image/png`.
    async fn content_type(&self) -> Result<&str> {
        self.read(C::ContentType)?;
        Ok(&self.row.content_type)
    }

    /// The file's size in bytes: counted from the bytes once they are uploaded
    /// (`PUT /attachments/{id}/content`), as the client gave it before.
    async fn size_bytes(&self) -> Result<SafeInt> {
        self.read(C::SizeBytes)?;
        Ok(SafeInt(self.row.size_bytes))
    }

    /// The SHA-256 (hex) of the uploaded bytes, also their `ETag`; null while none were
    /// uploaded. Download them from `GET /attachments/{id}/content`.
    async fn sha256(&self) -> Result<Option<&str>> {
        self.read(C::Sha256)?;
        Ok(self.row.sha256.as_deref())
    }

    /// When the attachment was recorded.
    async fn created_at(&self) -> Result<DateTime<Utc>> {
        self.read(C::CreatedAt)?;
        Ok(self.row.created_at)
    }

    /// When the attachment was deleted; null while live.
    async fn deleted_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(C::DeletedAt)?;
        Ok(self.row.deleted_at)
    }

    /// The deletion that hid this attachment (its own, or its owner's cascade).
    async fn deletion(&self, ctx: &Context<'_>) -> Result<Option<Deletion>> {
        self.read(C::DeletionId)?;
        super::deletion::of_row(ctx, self.row.deletion_id, self.scope).await
    }

    /// The user who keeps it, in the scope the attachment was read in: null when that user
    /// is deleted and deleted rows were not asked for.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        ctx.viewer()?;
        let key = UserKey(self.row.owner_id, self.scope);
        let owner = ctx.loaders()?.load_one(key).await?.flatten();
        Ok(owner.map(|u| User::new(u, self.scope)))
    }
}

//! The roots about attachments: `attachment`, `attachments` and the attachment mutations.

use async_graphql::{Context, ID, InputObject, Object};

use crate::entity::attachment;
use crate::error::Result;
use crate::graphql::ContextExt;
use crate::graphql::loaders::{UserKey, prefetch};
use crate::graphql::roots;
use crate::graphql::scalars::SafeInt;
use crate::graphql::types::{Attachment, AttachmentConnection, Deletion};
use crate::graphql::upload::Upload;
use crate::ids::{self, Kind};
use crate::service::{Listing, PageArgs, attachments, deletions, restore, uploads};
use crate::soft_delete::Scope;

/// Loads a page's owners in one go when `owner` is selected.
async fn prefetch_owners(ctx: &Context<'_>, listing: &Listing<attachment::Model>) -> Result<()> {
    let look = ctx.look_ahead();
    if look.field("nodes").field("owner").exists()
        || look.field("edges").field("node").field("owner").exists()
    {
        let keys = listing
            .rows
            .iter()
            .map(|a| UserKey(a.owner_id, listing.scope));
        prefetch(ctx.loaders()?, keys).await?;
    }
    Ok(())
}

/// Fields for `createAttachment`: the file itself (`file`, sent as the GraphQL multipart
/// request spec says), or, the older way, its metadata alone (`filename`, `contentType`,
/// `sizeBytes`), whose bytes may follow with `PUT /attachments/{id}/content`.
#[derive(InputObject)]
pub struct CreateAttachmentInput {
    /// The owner's id: yourself, or anyone as an admin.
    pub owner_id: ID,
    /// The file's bytes (multipart request): `sizeBytes` and `sha256` come from them.
    pub file: Option<Upload>,
    /// The file's name, 1 to 255 characters; with `file`, defaults to the uploaded name (or
    /// `upload` when the file's part carries none).
    pub filename: Option<String>,
    /// The media type, like `image/png`; with `file`, defaults to the part's type. It must fit
    /// what the bytes show.
    pub content_type: Option<String>,
    /// The size in bytes, 0 or more, without `file` (required then); with `file`, the bytes
    /// are counted and this is ignored.
    pub size_bytes: Option<SafeInt>,
}

/// Queries about attachments.
#[derive(Default)]
pub struct AttachmentQuery;

#[Object]
impl AttachmentQuery {
    /// An attachment by id, or null when there is none the viewer may see.
    async fn attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachment's id.")] id: ID,
        #[graphql(
            desc = "Also find a deleted attachment (support and admins).",
            default = false
        )]
        include_deleted: bool,
    ) -> Result<Option<Attachment>> {
        let viewer = ctx.viewer()?;
        let found =
            attachments::find(roots::loaders(ctx).await?, viewer, &id, include_deleted).await?;
        Ok(found.map(Attachment::from))
    }

    /// Attachments, oldest first: one owner's, or all the viewer may see (a member: their
    /// own). Deleted ones with `includeDeleted`/`onlyDeleted` (support and admins).
    #[allow(clippy::too_many_arguments)] // one per GraphQL argument
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Page backward: the last rows, 0 to 100 (default 20), before `before` or up to the end."
        )]
        last: Option<i32>,
        #[graphql(desc = "Page backward: end before this cursor (a `startCursor`).")]
        before: Option<String>,
        #[graphql(desc = "Only this user's attachments.")] owner_id: Option<ID>,
        #[graphql(
            name = "includeDeleted",
            default = false,
            desc = "Deleted attachments too (support and admins)."
        )]
        include: bool,
        #[graphql(
            name = "onlyDeleted",
            default = false,
            desc = "Deleted attachments only (support and admins)."
        )]
        only: bool,
    ) -> Result<AttachmentConnection> {
        let viewer = ctx.viewer()?;
        let owner = owner_id.as_deref().map(String::as_str);
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let listing = attachments::list(ctx.db()?, viewer, owner, include, only, page).await?;
        prefetch_owners(ctx, &listing).await?;
        Ok(AttachmentConnection::of(listing, Attachment::new))
    }
}

/// Changes to attachments.
#[derive(Default)]
pub struct AttachmentMutation;

#[Object]
impl AttachmentMutation {
    /// Records an attachment for a live user: yourself, or anyone as an admin.
    async fn create_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachment: its owner, and its file or its metadata.")]
        input: CreateAttachmentInput,
    ) -> Result<Attachment> {
        let viewer = ctx.viewer()?;
        let file = match input.file {
            Some(file) => Some(file.value(ctx)?),
            None => None,
        };
        let new = uploads::NewAttachment {
            owner_id: ids::decode(Kind::User, &input.owner_id)?,
            filename: input.filename,
            content_type: input.content_type,
            size_bytes: input.size_bytes.map(|n| n.0),
            file: file.map(|f| uploads::UploadedFile {
                filename: f.filename,
                content_type: f.content_type,
                file: f.content,
            }),
        };
        let (db, storage, max) = (ctx.db()?, ctx.storage()?, ctx.max_upload()?);
        let created = uploads::create(db, storage, viewer, new, max).await?;
        Ok(Attachment::new(created, Scope::Live))
    }

    /// Soft-deletes one attachment: your own, or anyone's as an admin.
    async fn delete_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachment's id.")] id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<Deletion> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::Attachment, &id)?;
        let logged = deletions::delete_attachments(ctx.db()?, viewer, &[id], reason).await?;
        Ok(Deletion::new(logged, Scope::Live))
    }

    /// Soft-deletes up to 100 attachments as one deletion, restored as one. If any id is not
    /// a live attachment you may delete, nothing is deleted.
    async fn delete_attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The attachments' ids, 1 to 100.")] ids: Vec<ID>,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<Deletion> {
        let viewer = ctx.viewer()?;
        let ids = ids
            .iter()
            .map(|id| ids::decode(Kind::Attachment, id))
            .collect::<Result<Vec<_>>>()?;
        let logged = deletions::delete_attachments(ctx.db()?, viewer, &ids, reason).await?;
        Ok(Deletion::new(logged, Scope::Live))
    }

    /// Undoes the deletion that hid this attachment. `PARENT_DELETED` while its owner is
    /// deleted.
    async fn restore_attachment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deleted attachment's id.")] id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<Attachment> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::Attachment, &id)?;
        let window = ctx.undo_window()?;
        let restored = restore::restore_attachment(ctx.db()?, viewer, id, reason, window).await?;
        Ok(Attachment::new(restored, Scope::Live))
    }
}

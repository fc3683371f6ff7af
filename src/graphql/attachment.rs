//! Attachments in the schema: `attachment`, `attachments`, `createAttachment`, and the
//! `Attachment` type.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::connection::{self, connection};
use super::{ContextExt, User, or_null};
use crate::entity::attachment;
use crate::ids::{self, Kind};
use crate::service::{PageRequest, attachments, users};

/// A file's metadata, kept by its owner.
#[derive(Clone, Debug)]
pub struct Attachment(pub(crate) attachment::Model);

impl Attachment {
    pub(crate) fn row_id(&self) -> i64 {
        self.0.id
    }
}

connection!(
    AttachmentConnection,
    AttachmentEdge,
    Attachment,
    attachment::Entity,
    "attachments"
);

#[Object]
impl Attachment {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Attachment, self.0.id))
    }

    /// The file's name.
    async fn filename(&self) -> &str {
        &self.0.filename
    }

    /// The file's media type, like `image/png`.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// The file's size in bytes.
    async fn size_bytes(&self) -> i64 {
        self.0.size_bytes
    }

    /// When the attachment was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The user who keeps it; null when that user is not visible.
    async fn owner(&self, ctx: &Context<'_>) -> Option<User> {
        let owner = async {
            ctx.viewer()?;
            users::get(ctx.db()?, self.0.owner_id).await
        };
        or_null(ctx, owner.await).map(User)
    }
}

/// Fields for `createAttachment`.
#[derive(InputObject)]
pub struct CreateAttachmentInput {
    /// The owner's id: yourself, or anyone as an admin.
    pub owner_id: ID,
    /// The file's name, 1 to 255 characters.
    pub filename: String,
    /// The media type, like `image/png`.
    pub content_type: String,
    /// The size in bytes, 0 or more.
    pub size_bytes: i64,
}

/// Queries about attachments.
#[derive(Default)]
pub struct AttachmentQuery;

#[Object]
impl AttachmentQuery {
    /// A live attachment by id, or null when there is none the viewer may see.
    async fn attachment(&self, ctx: &Context<'_>, id: ID) -> Option<Attachment> {
        let attachment = async {
            let viewer = ctx.viewer()?;
            let id = ids::decode(Kind::Attachment, &id)?;
            attachments::get(ctx.db()?, viewer, id).await
        };
        or_null(ctx, attachment.await).map(Attachment)
    }

    /// Live attachments, oldest first: one owner's, or all the viewer may see (a member:
    /// their own).
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only this user's attachments.")] owner_id: Option<ID>,
    ) -> Result<AttachmentConnection> {
        let viewer = ctx.viewer()?;
        let page = PageRequest::parse(first, after.as_deref())?;
        let owner_id = owner_id
            .map(|id| ids::decode(Kind::User, &id))
            .transpose()?;
        let scope = attachments::list_scope(viewer, owner_id)?;
        Ok(AttachmentConnection::load(ctx.db()?, scope, page, Attachment).await?)
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
        input: CreateAttachmentInput,
    ) -> Result<Attachment> {
        let viewer = ctx.viewer()?;
        let new = attachments::NewAttachment {
            owner_id: ids::decode(Kind::User, &input.owner_id)?,
            filename: input.filename,
            content_type: input.content_type,
            size_bytes: input.size_bytes,
        };
        Ok(Attachment(
            attachments::create(ctx.db()?, viewer, new).await?,
        ))
    }
}

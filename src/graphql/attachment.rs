//! Attachments in the schema: `attachment`, `attachments`, the attachment mutations, and
//! the `Attachment` type.

use async_graphql::{Context, ID, InputObject, Object, ScalarType, SelectionField, Value};
use chrono::{DateTime, Utc};

use super::connection::{self, connection};
use super::deletion::Deletion;
use super::leaves::Leaves;
use super::loaders::{UserKey, prefetch};
use super::scalars::SafeInt;
use super::upload::Upload;
use super::{ContextExt, User};
use crate::entity::attachment;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::json;
use crate::service::PageArgs;
use crate::service::{InScope, Listing, attachments, deletions, restore, uploads};
use crate::soft_delete::{Columns, Scope};

use attachment::Column as C;

/// A file's metadata, kept by its owner.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub(crate) row: attachment::Model,
    /// The scope this attachment was read in; its owner inherits it.
    pub(crate) scope: Scope,
    /// The columns `row` was read with. A field whose column was not read answers an
    /// internal error, never the default that stands in the model for it.
    columns: Columns<attachment::Entity>,
}

impl Attachment {
    /// An attachment read with every column.
    pub(crate) fn new(row: attachment::Model, scope: Scope) -> Attachment {
        Attachment::read_with(row, scope, Columns::all())
    }

    /// An attachment read with only `columns` ([`columns_for`] its selection).
    pub(crate) fn read_with(
        row: attachment::Model,
        scope: Scope,
        columns: Columns<attachment::Entity>,
    ) -> Attachment {
        Attachment {
            row,
            scope,
            columns,
        }
    }

    pub(crate) fn row_id(&self) -> i64 {
        self.row.id
    }

    /// Whether the row holds `column`, or the error that says it does not.
    fn read(&self, column: attachment::Column) -> Result<()> {
        if self.columns.has(column) {
            return Ok(());
        }
        use sea_orm::IdenStatic as _;
        Err(Error::Internal(anyhow::anyhow!(
            "attachment {} was read without its column `{}`",
            self.row.id,
            column.as_str()
        )))
    }
}

/// What a field of `Attachment` reads beyond the id and the owner.
enum Reads {
    Nothing,
    Column(attachment::Column),
    /// A field this table does not know: it gets every column.
    Unknown,
}

/// The column field `name` of `Attachment` reads. A field added to the type and not here
/// reads every column ([`Reads::Unknown`]), so it can never meet a default.
fn column_of(name: &str) -> Reads {
    match name {
        "id" | "owner" | "__typename" => Reads::Nothing,
        "filename" => Reads::Column(C::Filename),
        "contentType" => Reads::Column(C::ContentType),
        "sizeBytes" => Reads::Column(C::SizeBytes),
        "sha256" => Reads::Column(C::Sha256),
        "createdAt" => Reads::Column(C::CreatedAt),
        "deletedAt" => Reads::Column(C::DeletedAt),
        "deletion" => Reads::Column(C::DeletionId),
        _ => Reads::Unknown,
    }
}

/// The columns a selection of an attachment connection (`nodes`, `edges { node }`) reads:
/// the id and the owner, and each field's column. Fragments count whatever their type
/// condition, so the set may be larger than needed, never smaller; fields that `@skip` or
/// `@include` leave out are gone from the document before execution, here as there;
/// anything this does not know reads every column.
pub(crate) fn columns_for(connection: &SelectionField<'_>) -> Columns<attachment::Entity> {
    let mut columns = Columns::id().with(C::OwnerId);
    for field in connection.selection_set() {
        let known = match field.name() {
            "nodes" => add_fields(&field, &mut columns),
            "edges" => field.selection_set().all(|edge| match edge.name() {
                "node" => add_fields(&edge, &mut columns),
                "cursor" | "__typename" => true,
                _ => false,
            }),
            "pageInfo" | "totalCount" | "__typename" => true,
            _ => false,
        };
        if !known {
            return Columns::all();
        }
    }
    columns
}

/// Adds the columns of an attachment's selected fields; `false` for a field it does not
/// know.
fn add_fields(node: &SelectionField<'_>, columns: &mut Columns<attachment::Entity>) -> bool {
    node.selection_set()
        .all(|field| match column_of(field.name()) {
            Reads::Nothing => true,
            Reads::Column(column) => {
                *columns = columns.with(column);
                true
            }
            Reads::Unknown => false,
        })
}

impl From<InScope<attachment::Model>> for Attachment {
    fn from(found: InScope<attachment::Model>) -> Attachment {
        Attachment::new(found.row, found.scope)
    }
}

impl Leaves for Attachment {
    /// Each arm checks its own column (not `column_of`'s table, which decided what to
    /// read), so a wrong entry there is an error, never a default written as a value.
    fn leaf(&self, name: &str) -> Option<Value> {
        let (row, has) = (&self.row, |column| self.columns.has(column));
        Some(match name {
            "id" => Value::String(ids::encode(Kind::Attachment, row.id)),
            "filename" if has(C::Filename) => Value::String(row.filename.clone()),
            "contentType" if has(C::ContentType) => Value::String(row.content_type.clone()),
            "sizeBytes" if has(C::SizeBytes) => Value::from(row.size_bytes),
            "sha256" if has(C::Sha256) => row
                .sha256
                .as_ref()
                .map_or(Value::Null, |s| Value::String(s.clone())),
            "createdAt" if has(C::CreatedAt) => row.created_at.to_value(),
            "deletedAt" if has(C::DeletedAt) => row
                .deleted_at
                .as_ref()
                .map_or(Value::Null, ScalarType::to_value),
            _ => return None,
        })
    }

    /// The yardstick's fields, written without a `Value` or a `String` between.
    fn write_leaf(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let (row, has) = (&self.row, |column| self.columns.has(column));
        match name {
            "id" => {
                out.push(b'"');
                ids::encode_into(Kind::Attachment, row.id, out);
                out.push(b'"');
            }
            "filename" if has(C::Filename) => return json::write_str(&row.filename, out).is_ok(),
            "sizeBytes" if has(C::SizeBytes) => {
                out.extend_from_slice(itoa::Buffer::new().format(row.size_bytes).as_bytes())
            }
            _ => match self.leaf(name) {
                Some(value) => return json::write_value(&value, out).is_ok(),
                None => return false,
            },
        }
        true
    }
}

connection!(
    AttachmentConnection,
    AttachmentEdge,
    Attachment,
    "attachments"
);

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
        let found = attachments::find(
            super::roots::loaders(ctx).await?,
            viewer,
            &id,
            include_deleted,
        )
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> attachment::Model {
        attachment::Model {
            id: 7,
            owner_id: 3,
            filename: "a.txt".into(),
            content_type: "text/plain".into(),
            size_bytes: 42,
            created_at: chrono::Utc::now(),
            deleted_at: None,
            deleted_by: None,
            deletion_id: None,
            sha256: None,
        }
    }

    /// A row read without a column never answers the default that stands in for it: the
    /// leaf path declines and the resolver's check is an internal error.
    #[test]
    fn a_field_whose_column_was_not_read_is_an_error_not_a_default() {
        let narrow = Columns::id().with(C::OwnerId).with(C::SizeBytes);
        let a = Attachment::read_with(row(), Scope::Live, narrow);
        assert!(a.read(C::SizeBytes).is_ok());
        for column in [
            C::Filename,
            C::ContentType,
            C::Sha256,
            C::CreatedAt,
            C::DeletedAt,
        ] {
            assert!(
                matches!(a.read(column), Err(Error::Internal(_))),
                "{column:?}"
            );
        }
        let mut out = Vec::new();
        assert!(a.write_leaf("sizeBytes", &mut out));
        assert_eq!(out, b"42");
        for field in [
            "filename",
            "contentType",
            "sha256",
            "createdAt",
            "deletedAt",
        ] {
            assert!(!a.write_leaf(field, &mut Vec::new()), "{field}");
            assert!(a.leaf(field).is_none(), "{field}");
        }
        // `id` and the owner are always read.
        assert!(a.leaf("id").is_some());
        let whole = Attachment::new(row(), Scope::Live);
        assert!(whole.leaf("filename").is_some() && whole.read(C::Sha256).is_ok());
    }

    /// Every field of the type is in [`column_of`]'s table: one left out would read every
    /// column (safe, but the pruning would silently stop).
    #[test]
    fn every_field_of_attachment_is_mapped_to_its_column() {
        let sdl = crate::graphql::sdl();
        let body = sdl
            .split("type Attachment implements Node {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("the Attachment type in the schema");
        let (mut fields, mut in_doc) = (0, false);
        for line in body.lines().map(str::trim) {
            if let Some(doc) = line.strip_prefix("\"\"\"") {
                // `"""` opens or closes a description; `"""text"""` is one on its own.
                if doc.is_empty() || !doc.ends_with("\"\"\"") {
                    in_doc = !in_doc;
                }
                continue;
            }
            if in_doc || line.is_empty() {
                continue;
            }
            let name = line.split(['(', ':']).next().unwrap_or_default().trim();
            fields += 1;
            assert!(!matches!(column_of(name), Reads::Unknown), "{name}");
        }
        assert!(fields >= 9, "{body}");
    }

    /// A selection reads the id, the owner and its fields' columns, and nothing else; a
    /// field the table does not know reads every column; fragments and edges count.
    #[tokio::test]
    async fn a_selection_reads_only_its_columns() {
        let base = || Columns::<attachment::Entity>::id().with(C::OwnerId);
        let cases = [
            (
                "{ probe { nodes { id filename sizeBytes } } }",
                base().with(C::Filename).with(C::SizeBytes),
            ),
            (
                "{ probe { totalCount pageInfo { hasNextPage } nodes { __typename id owner } } }",
                base(),
            ),
            (
                "{ probe { edges { cursor node { sha256 } } } }",
                base().with(C::Sha256),
            ),
            (
                "{ probe { nodes { ... on Node { createdAt } ...F } } } fragment F on Node { deletedAt deletion }",
                base()
                    .with(C::CreatedAt)
                    .with(C::DeletedAt)
                    .with(C::DeletionId),
            ),
            (
                "{ probe { ...C } } fragment C on Connection { nodes { contentType } }",
                base().with(C::ContentType),
            ),
            // async-graphql drops skipped fields before execution, so they read nothing.
            ("{ probe { nodes { filename @skip(if: true) } } }", base()),
            (
                "{ probe { nodes { filename @include(if: true) } } }",
                base().with(C::Filename),
            ),
            ("{ probe { nodes { id unknownField } } }", Columns::all()),
        ];
        for (query, expected) in cases {
            assert_eq!(probe::columns(query).await, vec![expected], "{query}");
        }
        // Two selections of one field under other keys: each its own columns.
        assert_eq!(
            probe::columns("{ a: probe { nodes { filename } } b: probe { nodes { sha256 } } }")
                .await,
            vec![base().with(C::Filename), base().with(C::Sha256)]
        );
    }

    /// A schema whose `probe` field has the shape of an attachment connection and records
    /// the columns [`columns_for`] reads for its selection.
    mod probe {
        use std::sync::{Arc, Mutex};

        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

        use super::super::columns_for;
        use crate::entity::attachment;
        use crate::soft_delete::Columns;

        #[derive(SimpleObject, Default)]
        pub struct Node {
            id: i32,
            filename: i32,
            content_type: i32,
            size_bytes: i32,
            sha256: i32,
            created_at: i32,
            deleted_at: i32,
            deletion: i32,
            owner: i32,
            unknown_field: i32,
        }

        #[derive(SimpleObject, Default)]
        pub struct Edge {
            cursor: i32,
            node: Node,
        }

        #[derive(SimpleObject, Default)]
        pub struct Info {
            has_next_page: bool,
        }

        #[derive(SimpleObject, Default)]
        pub struct Connection {
            nodes: Vec<Node>,
            edges: Vec<Edge>,
            page_info: Info,
            total_count: i32,
        }

        type Seen = Mutex<Vec<Columns<attachment::Entity>>>;

        pub struct Query;

        #[Object]
        impl Query {
            async fn probe(&self, ctx: &async_graphql::Context<'_>) -> Connection {
                let seen = ctx.data_unchecked::<Arc<Seen>>();
                seen.lock().unwrap().push(columns_for(&ctx.field()));
                Connection::default()
            }
        }

        /// The columns read for each `probe` of `query`.
        pub async fn columns(query: &str) -> Vec<Columns<attachment::Entity>> {
            let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
            let seen: Arc<Seen> = Arc::default();
            let response = schema
                .execute(async_graphql::Request::new(query).data(seen.clone()))
                .await;
            assert!(response.errors.is_empty(), "{query}: {:?}", response.errors);
            let seen = seen.lock().unwrap();
            seen.clone()
        }
    }
}

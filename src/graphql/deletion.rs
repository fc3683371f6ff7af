//! The deletion log in the schema: `deletions`, `deletion`, `restore`, and the `Deletion`
//! type that every delete returns.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::arguments::argument;
use super::leaves::Leaves;
use super::loaders::{DeletionKey, HiddenCount, HiddenPage, UserKey, prefetch};
use super::types::{Attachment, AttachmentConnection, Deletion, DeletionConnection, User};
use crate::entity::deletion;
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::PageArgs;
use crate::service::{Listing, deletions, log, restore, stored_entity, undo};
use crate::soft_delete::{EntityKind, Scope};

/// What a deletion was asked for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::soft_delete::EntityKind")]
pub enum DeletedEntity {
    /// A user (and, in one deletion, their attachments).
    User,
    /// One or more attachments.
    Attachment,
}

impl Deletion {
    async fn person(
        &self,
        ctx: &Context<'_>,
        id: Option<i64>,
        include_deleted: Option<bool>,
    ) -> Result<Option<User>> {
        let viewer = ctx.viewer()?;
        let scope = deletions::child_scope(viewer, self.scope, include_deleted, None)?;
        let Some(id) = id else {
            return Ok(None);
        };
        let user = ctx.loaders()?.load_one(UserKey(id, scope)).await?.flatten();
        Ok(user.map(|u| User::new(u, scope)))
    }
}

/// Log pages are small and read by staff: their fields resolve one by one.
impl Leaves for Deletion {
    fn leaf(&self, _: &str) -> Option<async_graphql::Value> {
        None
    }
}

/// `User.deletion` and `Attachment.deletion`: the log entry that hid a row, batched, for
/// those who may read the log; children inherit the row's scope.
pub(crate) async fn of_row(
    ctx: &Context<'_>,
    deletion_id: Option<i64>,
    scope: Scope,
) -> Result<Option<Deletion>> {
    let viewer = ctx.viewer()?;
    let Some(id) = deletion_id else {
        return Ok(None);
    };
    log::may_read_log(viewer)?;
    let found = ctx.loaders()?.load_one(DeletionKey(id)).await?;
    Ok(found.map(|d| Deletion::new(d, scope)))
}

/// One soft delete: who, when and why, what it hid (a user with their attachments, or
/// attachments), and whether it was undone (`restore`) or purged. An entry of the deletion
/// log, which support and admins read.
#[Object]
impl Deletion {
    /// Opaque global id; pass it to `restore`.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::Deletion, self.row.id))
    }

    /// What was deleted: a user (with its attachments) or attachments.
    async fn entity(&self) -> Result<DeletedEntity> {
        Ok(stored_entity(&self.row.entity)?.into())
    }

    /// The id of the row the deletion was asked for (the first one, for a bulk delete).
    async fn entity_id(&self) -> ID {
        let kind = EntityKind::parse(&self.row.entity).map_or(Kind::Attachment, Kind::from);
        ID(ids::encode(kind, self.row.entity_id))
    }

    /// Who deleted: null when that user is not visible in this scope (pass
    /// `includeDeleted: true` to see a deleted actor).
    async fn actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Show the actor even when deleted (support and admins). Default: the scope the deletion was read in."
        )]
        include_deleted: Option<bool>,
    ) -> Result<Option<User>> {
        self.person(ctx, self.row.actor_id, include_deleted).await
    }

    /// The actor's id, even when the actor is no longer visible.
    async fn actor_id(&self) -> Option<ID> {
        self.row.actor_id.map(|id| ID(ids::encode(Kind::User, id)))
    }

    /// Why, as the actor put it.
    async fn reason(&self) -> Option<&str> {
        self.row.reason.as_deref()
    }

    /// When.
    async fn deleted_at(&self) -> DateTime<Utc> {
        self.row.deleted_at
    }

    /// Rows hidden besides the one asked for: a user's attachments, or the other attachments
    /// of a bulk delete.
    async fn cascade_count(&self) -> i64 {
        self.row.cascade_count
    }

    /// Every row this deletion hid (`1 + cascadeCount`).
    async fn row_count(&self) -> i64 {
        self.row.cascade_count.saturating_add(1)
    }

    /// When it was undone; null while in force.
    async fn restored_at(&self) -> Option<DateTime<Utc>> {
        self.row.restored_at
    }

    /// Who undid it.
    async fn restored_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Show the restorer even when deleted (support and admins). Default: the scope the deletion was read in."
        )]
        include_deleted: Option<bool>,
    ) -> Result<Option<User>> {
        self.person(ctx, self.row.restored_by, include_deleted)
            .await
    }

    /// Why it was undone, as the restorer put it.
    async fn restore_reason(&self) -> Option<&str> {
        self.row.restore_reason.as_deref()
    }

    /// When a purge began erasing its rows; from then on it cannot be restored.
    async fn purge_started_at(&self) -> Option<DateTime<Utc>> {
        self.row.purge_started_at
    }

    /// When its rows were purged for good (archived first); null until then.
    async fn purged_at(&self) -> Option<DateTime<Utc>> {
        self.row.purged_at
    }

    /// Until when a member may undo it (`deletedAt` plus the server's undo window); admins
    /// may restore it at any time before a purge.
    async fn undo_until(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(restore::undo_until(&self.row, ctx.undo_window()?))
    }

    /// Given once, in the answer of `deleteUser` for your own account: a credential that can
    /// do one thing, `restore` this deletion, until `undoUntil` (send it as the bearer
    /// token). Null everywhere else.
    async fn undo_token(&self) -> Option<&str> {
        self.undo_token.as_deref()
    }

    /// What the deletion was asked for, in words that outlast it: a user's `Name <email>`,
    /// or the (first) attachment's filename; kept once the deletion is restored or purged
    /// (read from the row, or from the archive). Support and admins; null for others.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        log::subject(ctx.db()?, ctx.viewer()?, &self.row).await
    }

    /// The user this deletion hides, for a deletion of a user while it is in force. Hidden
    /// rows are deleted rows: null unless `includeDeleted` (support and admins).
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default,
            desc = "Show the deleted user this deletion hides (support and admins)."
        )]
        include_deleted: bool,
    ) -> Result<Option<User>> {
        let (loaders, viewer) = (ctx.loaders()?, ctx.viewer()?);
        let found = log::hidden_user(loaders, viewer, &self.row, include_deleted).await?;
        Ok(found.map(User::from))
    }

    /// The attachments this deletion hides now, oldest first: a user's cascade, or the
    /// attachments of a bulk delete; none once it is restored or purged. Hidden rows are
    /// deleted rows: none unless `includeDeleted` (support and admins).
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
        #[graphql(
            default,
            desc = "Show the deleted attachments this deletion hides (support and admins; a member too, on a deletion from recentDeletions)."
        )]
        include_deleted: bool,
    ) -> Result<AttachmentConnection> {
        let viewer = ctx.viewer()?;
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let key = log::hidden_page(viewer, &self.row, include_deleted, self.undoable, page)?;
        // One batched statement for every deletion of the response.
        let listing = ctx.loaders()?.load_one(key).await?;
        let listing = listing.unwrap_or_else(|| key.listing(Vec::new()));
        Ok(AttachmentConnection::of(listing, Attachment::new))
    }
}

/// Reading the deletion log.
#[derive(Default)]
pub struct DeletionQuery;

#[Object]
impl DeletionQuery {
    /// The deletion log, newest first (support and admins).
    #[allow(clippy::too_many_arguments)] // one per GraphQL argument
    async fn deletions(
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
        #[graphql(desc = "Only deletions of users, or of attachments.")] entity: Option<
            DeletedEntity,
        >,
        #[graphql(desc = "Only deletions by this user.")] actor_id: Option<ID>,
        #[graphql(
            desc = "Only deletions by a user whose email or name contains this text (in any case, by Unicode full case folding, accents counting; at most 200 characters)."
        )]
        actor: Option<String>,
        #[graphql(
            desc = "Only deletions at or after this moment, taken to the microsecond (the precision moments are stored at)."
        )]
        since: Option<DateTime<Utc>>,
        #[graphql(desc = "Only deletions before this moment, taken to the microsecond.")]
        until: Option<DateTime<Utc>>,
        #[graphql(
            desc = "Only deletions whose reason contains this text (in any case, by Unicode full case folding, accents counting; at most 200 characters)."
        )]
        reason: Option<String>,
        #[graphql(
            desc = "Only deletions that still hide a user whose email or name, or an attachment whose filename, contains this text (in any case, by Unicode full case folding, accents counting; at most 200 characters)."
        )]
        search: Option<String>,
    ) -> Result<DeletionConnection> {
        let viewer = ctx.viewer()?;
        let filters = log::LogFilters {
            entity: entity.map(Into::into),
            actor_id: actor_id.as_deref().map(String::as_str),
            actor: actor.as_deref(),
            since,
            until,
            reason: reason.as_deref(),
            search: search.as_deref(),
        };
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let listing = log::list(ctx.db()?, viewer, filters, page).await?;
        prefetch_people(ctx, &listing).await?;
        Ok(DeletionConnection::of(listing, Deletion::new))
    }

    /// Your own deletions you may still undo, newest first: made by you, in force, inside
    /// the undo window (`undoUntil`), and, for a member, of your own rows only. What they
    /// hid stays deleted, but here you may list it: `attachments(includeDeleted: true)`
    /// shows what Undo (`restore`) would bring back.
    async fn recent_deletions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, 0 to 100 (default 20).")] first: Option<i32>,
    ) -> Result<Vec<Deletion>> {
        let (db, viewer, window) = (ctx.db()?, ctx.viewer()?, ctx.undo_window()?);
        let found = undo::recent(db, viewer, first, window).await?;
        Ok(found.into_iter().map(Deletion::undoable).collect())
    }

    /// One deletion log entry (support and admins).
    async fn deletion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deletion's id.")] id: ID,
    ) -> Result<Option<Deletion>> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::Deletion, &id)?;
        let found = log::get(ctx.db()?, viewer, id).await?;
        Ok(found.map(|d| Deletion::new(d, Scope::Live)))
    }
}

/// Loads in one go what a page of the log's entries will ask for, so the statements a page
/// costs never depend on the loaders' batching window: actors and restorers (live scope),
/// the users entries hide (`user`), and the pages and counts of the attachments they hide
/// (`attachments`), each selection (aliases included) with its own arguments.
async fn prefetch_people(ctx: &Context<'_>, listing: &Listing<deletion::Model>) -> Result<()> {
    let (viewer, loaders) = (ctx.viewer()?, ctx.loaders()?);
    let look = ctx.look_ahead();
    let selects = |field: &str| {
        look.field("nodes").field(field).exists()
            || look.field("edges").field("node").field(field).exists()
    };
    if selects("actor") || selects("restoredBy") {
        let mut keys = Vec::new();
        for d in &listing.rows {
            keys.extend([d.actor_id, d.restored_by].into_iter().flatten());
        }
        let keys = keys.into_iter().map(|id| UserKey(id, Scope::Live));
        prefetch(loaders, keys).await?;
    }
    let selections = |field: &str| {
        let nodes = look.field("nodes").field(field).selection_fields();
        let edges = look
            .field("edges")
            .field("node")
            .field(field)
            .selection_fields();
        nodes.into_iter().chain(edges).collect::<Vec<_>>()
    };
    let mut users = Vec::new();
    for selection in selections("user") {
        let Some(include) = argument::<bool>(&selection, "includeDeleted") else {
            continue;
        };
        // A member's refusal is the resolver's to report.
        let Ok(scope) = viewer.scope(include.unwrap_or(false), false) else {
            continue;
        };
        let hid_users = listing
            .rows
            .iter()
            .filter(|d| EntityKind::parse(&d.entity) == Some(EntityKind::User));
        users.extend(hid_users.map(|d| UserKey(d.entity_id, scope)));
    }
    if !users.is_empty() {
        prefetch(loaders, users).await?;
    }
    let (mut pages, mut counts) = (Vec::new(), Vec::new());
    for selection in selections("attachments") {
        let args = (
            argument::<i32>(&selection, "first"),
            argument::<String>(&selection, "after"),
            argument::<i32>(&selection, "last"),
            argument::<String>(&selection, "before"),
            argument::<bool>(&selection, "includeDeleted"),
        );
        let (Some(first), Some(after), Some(last), Some(before), Some(include)) = args else {
            continue;
        };
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let include = include.unwrap_or(false);
        let keys = listing
            .rows
            .iter()
            .filter_map(|d| log::hidden_page(viewer, d, include, None, page).ok());
        let keys: Vec<HiddenPage> = keys.collect();
        if selection.selection_set().any(|f| f.name() == "totalCount") {
            counts.extend(keys.iter().map(|k| HiddenCount(k.deletion, k.view)));
        }
        if selection
            .selection_set()
            .any(|f| f.name() != "totalCount" && f.name() != "__typename")
        {
            pages.extend(keys);
        }
    }
    if !pages.is_empty() {
        prefetch(loaders, pages).await?;
    }
    if !counts.is_empty() {
        prefetch(loaders, counts).await?;
    }
    Ok(())
}

/// Undoing deletions.
#[derive(Default)]
pub struct DeletionMutation;

#[Object]
impl DeletionMutation {
    /// Undoes one whole deletion, its cascade included, and nothing else: admins any; a
    /// member their own within the undo window; support never. Sent with the `undoToken` of
    /// a deleted account, it restores that account's deletion and nothing else.
    async fn restore(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deletion's id (from `deleteUser`, `deleteAttachment`, the log).")]
        deletion_id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<Deletion> {
        let id = ids::decode(Kind::Deletion, &deletion_id)?;
        let (db, window) = (ctx.db()?, ctx.undo_window()?);
        let restored = match ctx.undo_grant() {
            Some(grant) => {
                undo::restore_with_undo_credential(db, grant, id, reason, window).await?
            }
            None => restore::restore(db, ctx.viewer()?, id, reason, window).await?,
        };
        Ok(Deletion::new(restored, Scope::Live))
    }
}

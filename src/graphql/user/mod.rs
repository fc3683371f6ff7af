//! Users in the schema: `me`, `user`, `users`, the user mutations, and the `User` type's
//! fields here; a page of users written in one pass in `leaves.rs`.

mod leaves;

use async_graphql::{Context, Enum, ID, InputObject, Object, SelectionField};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::arguments::argument;
use super::erasure::Erasure;
use super::loaders::{self, AttachmentCount, ErasureKey, UserKey, prefetch};
use super::types::{Attachment, AttachmentConnection, Deletion, User, UserConnection};
use crate::auth;
use crate::entity::{attachment, user};
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::PageArgs;
use crate::service::keys::OwnerPage;
use crate::service::{Listing, attachments, deletions, erase, restore, undo, users};
use crate::soft_delete::{Columns, Scope};

/// What a user may do.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::auth::Role")]
pub enum Role {
    /// Sees live data: everyone's names, their own email and attachments.
    Member,
    /// Reads everything, deleted rows and the deletion log included; changes nothing.
    Support,
    /// May do anything.
    Admin,
}

/// A person who keeps attachments. Everyone signed in sees live users' names; an email only
/// its owner, support and admins. Deleted users are hidden unless asked for with
/// `includeDeleted` by support and admins.
#[Object]
impl User {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::User, self.row.id))
    }

    /// The user's email: readable by the user themself, support and admins; anyone else
    /// gets `null` and a `FORBIDDEN` error for this field.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(Some(users::email(ctx.viewer()?, &self.row)?))
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// What the user may do.
    async fn role(&self) -> Result<Role> {
        Ok(users::role(&self.row)?.into())
    }

    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the user was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }

    /// When the user was deleted; null while live. Only those who may see deleted rows ever
    /// see a deleted user.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.row.deleted_at
    }

    /// The deletion that hid this user: who, when, why.
    async fn deletion(&self, ctx: &Context<'_>) -> Result<Option<Deletion>> {
        super::deletion::of_row(ctx, self.row.deletion_id, self.scope).await
    }

    /// The legal hold on this user, null when there is none (support and admins; members
    /// get `null` and `FORBIDDEN` whether or not the user is held).
    async fn legal_hold(&self, ctx: &Context<'_>) -> Result<Option<super::hold::LegalHold>> {
        super::hold::active_of(ctx, self.row.id).await
    }

    /// Every legal hold placed on this user, newest first, released ones with who released
    /// them, when and why (support and admins).
    async fn legal_holds(&self, ctx: &Context<'_>) -> Result<Vec<super::hold::LegalHold>> {
        super::hold::history_of(ctx, self.row.id).await
    }

    /// The record of this user's erasure (the right to be forgotten): when, by whom, why,
    /// how much went. Null when never erased, and for anyone but support, admins and the
    /// user themself.
    async fn erasure(&self, ctx: &Context<'_>) -> Result<Option<Erasure>> {
        let found = ctx
            .loaders()?
            .load_one(ErasureKey(self.row.id))
            .await?
            .flatten();
        Ok(erase::erasure_for(ctx.viewer()?, self.row.id, found).map(Erasure))
    }

    /// The user's attachments, oldest first. A member may list only their own. Without
    /// `includeDeleted`/`onlyDeleted` the scope this user was read in carries down.
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
        #[graphql(
            name = "includeDeleted",
            desc = "Also deleted attachments (support and admins). Default: the parent's scope."
        )]
        include: Option<bool>,
        #[graphql(
            name = "onlyDeleted",
            desc = "Only deleted attachments (support and admins). Default: the parent's scope."
        )]
        only: Option<bool>,
    ) -> Result<AttachmentConnection> {
        let arguments = PageArguments {
            first,
            after,
            last,
            before,
            include,
            only,
        };
        // The same plan the read-ahead made for this selection (`prefetch_children`).
        let columns = super::attachment::columns_for(&ctx.field());
        let key = arguments.plan(ctx.viewer()?, self.scope, self.row.id, columns)?;
        // One batched, SQL-paged statement for every user of the response.
        let listing = loaders::owner_page(ctx.loaders()?, key).await?;
        let listing = listing.unwrap_or_else(|| key.listing(Vec::new()));
        Ok(AttachmentConnection::of(listing, |row, scope| {
            Attachment::read_with(row, scope, key.columns)
        }))
    }
}

/// Loads in one go what a page of users' children will ask for: when selected, their
/// attachments in the scope they inherit, and each user as an owner (so
/// `attachments { owner }` costs nothing more).
async fn prefetch_children(ctx: &Context<'_>, listing: &Listing<user::Model>) -> Result<()> {
    let (viewer, loaders, scope) = (ctx.viewer()?, ctx.loaders()?, listing.scope);
    let rows = &listing.rows;
    let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
    super::hold::prefetch_for(ctx, &ids).await?;
    let look = ctx.look_ahead();
    let asks_owner = ["nodes", "edges"].iter().any(|connection| {
        let user = match *connection {
            "nodes" => look.field("nodes"),
            _ => look.field("edges").field("node"),
        };
        let attachments = user.field("attachments");
        attachments.field("nodes").field("owner").exists()
            || attachments
                .field("edges")
                .field("node")
                .field("owner")
                .exists()
    });
    if asks_owner {
        loaders
            .feed_many(rows.iter().map(|u| (UserKey(u.id, scope), Some(u.clone()))))
            .await;
    }
    if look.field("nodes").field("erasure").exists()
        || look.field("edges").field("node").field("erasure").exists()
    {
        prefetch(loaders, rows.iter().map(|u| ErasureKey(u.id))).await?;
    }
    // Each `attachments` selection (aliases may ask for several pages) in one load.
    let nodes = look.field("nodes").field("attachments");
    let edges = look.field("edges").field("node").field("attachments");
    let mut keys = Vec::new();
    let mut counts = Vec::new();
    for selection in nodes
        .selection_fields()
        .into_iter()
        .chain(edges.selection_fields())
    {
        let Some(arguments) = PageArguments::of(&selection) else {
            continue;
        };
        let columns = super::attachment::columns_for(&selection);
        // Owners whose page the resolver would refuse are left for it to report.
        let pages = rows
            .iter()
            .filter_map(|u| arguments.plan(viewer, scope, u.id, columns).ok());
        let pages: Vec<_> = pages.collect();
        if selection.selection_set().any(|f| f.name() == "totalCount") {
            counts.extend(pages.iter().map(|p| AttachmentCount(p.owner, p.scope)));
        }
        keys.extend(pages);
    }
    if !keys.is_empty() {
        loaders::read_pages(loaders, &keys).await?;
    }
    if !counts.is_empty() {
        prefetch(loaders, counts).await?;
    }
    Ok(())
}

/// The arguments of one `User.attachments` field. The resolver gets them from async-graphql;
/// the read-ahead reads them from the selection, variables and defaults resolved, with the
/// same coercion (`InputType::parse`); both plan the page with [`PageArguments::plan`], so
/// the page read ahead is the page the resolver asks for.
pub(super) struct PageArguments {
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    include: Option<bool>,
    only: Option<bool>,
}

impl PageArguments {
    /// The selection's arguments, or `None` when one does not coerce (the resolver reports
    /// it).
    pub(super) fn of(selection: &SelectionField<'_>) -> Option<PageArguments> {
        Some(PageArguments {
            first: argument(selection, "first")?,
            after: argument(selection, "after")?,
            last: argument(selection, "last")?,
            before: argument(selection, "before")?,
            include: argument(selection, "includeDeleted")?,
            only: argument(selection, "onlyDeleted")?,
        })
    }

    /// The page of `owner`'s attachments these arguments ask for, read with `columns`
    /// (`columns_for` the selection); `FORBIDDEN` or `BAD_USER_INPUT` as the resolver answers.
    pub(super) fn plan(
        &self,
        viewer: &auth::Viewer,
        parent: Scope,
        owner: i64,
        columns: Columns<attachment::Entity>,
    ) -> Result<OwnerPage> {
        let page = PageArgs {
            first: self.first,
            after: self.after.as_deref(),
            last: self.last,
            before: self.before.as_deref(),
        };
        let key = attachments::owner_page(viewer, parent, owner, page, self.include, self.only)?;
        Ok(key.reading(columns))
    }
}

/// Fields for `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Unique among live users; stored trimmed and lower-case.
    pub email: String,
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Defaults to MEMBER.
    #[graphql(default_with = "Role::Member")]
    pub role: Role,
}

/// Fields for `updateUser`; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// A new email, unique among live users.
    pub email: Option<String>,
    /// A new display name.
    pub name: Option<String>,
    /// A new role (admins only).
    pub role: Option<Role>,
}

/// Queries about users.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let viewer = ctx.viewer()?;
        let me = users::me(ctx.db()?, viewer).await?;
        Ok(me.map(|u| User::new(u, Scope::Live)))
    }

    /// A user by id, or null when there is none the viewer may see.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
        #[graphql(
            desc = "Also find a deleted user (support and admins).",
            default = false
        )]
        include_deleted: bool,
    ) -> Result<Option<User>> {
        let viewer = ctx.viewer()?;
        let user = users::find(
            super::roots::loaders(ctx).await?,
            viewer,
            &id,
            include_deleted,
        )
        .await?;
        Ok(user.map(User::from))
    }

    /// Users, oldest first: live ones, or with `includeDeleted`/`onlyDeleted` (support and
    /// admins) deleted ones too or only.
    #[allow(clippy::too_many_arguments)] // one per GraphQL argument
    async fn users(
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
        #[graphql(default = false, desc = "Deleted users too (support and admins).")]
        include_deleted: bool,
        #[graphql(default = false, desc = "Deleted users only (support and admins).")]
        only_deleted: bool,
    ) -> Result<UserConnection> {
        let viewer = ctx.viewer()?;
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let listing = users::list(ctx.db()?, viewer, include_deleted, only_deleted, page).await?;
        prefetch_children(ctx, &listing).await?;
        Ok(UserConnection::of(listing, User::new))
    }
}

/// Changes to users.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user (admins only). A live user with the same email is a `CONFLICT`.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let new = users::NewUser {
            email: input.email,
            name: input.name,
            role: input.role.into(),
        };
        Ok(User::new(
            users::create(ctx.db()?, viewer, new).await?,
            Scope::Live,
        ))
    }

    /// Changes a user: oneself, or anyone as an admin. Only admins change roles and emails
    /// (a member who could set their email would learn which addresses others hold).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
        #[graphql(desc = "What to change; omitted fields stay.")] input: UpdateUserInput,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let changes = users::UserChanges {
            email: input.email,
            name: input.name,
            role: input.role.map(Into::into),
        };
        Ok(User::new(
            users::update(ctx.db()?, viewer, id, changes).await?,
            Scope::Live,
        ))
    }

    /// Soft-deletes a user (oneself, or anyone as an admin) and, in the same transaction,
    /// their live attachments, as one deletion. Their email is free again at once. Deleting
    /// your own account signs you out and returns, once, `undoToken`.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id: yourself, or anyone as an admin.")] id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<Deletion> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let logged = deletions::delete_user(ctx.db()?, viewer, id, reason).await?;
        let undo = undo::undo_credential(ctx.tokens()?, viewer, &logged, ctx.undo_window()?)?;
        Ok(Deletion::new(logged, Scope::Live).with_undo_token(undo))
    }

    /// Undoes the deletion that hid this user (admins; a member within the undo window).
    /// `CONFLICT` when a live user now holds the email.
    async fn restore_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deleted user's id.")] id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let window = ctx.undo_window()?;
        let user = restore::restore_user(ctx.db()?, viewer, id, reason, window).await?;
        Ok(User::new(user, Scope::Live))
    }
}

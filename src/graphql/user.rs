//! Users in the schema: `me`, `user`, `users`, the user mutations, and the `User` type.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::attachment::AttachmentConnection;
use super::connection::{self, TotalCount, connection};
use super::deletion::Deletion;
use super::loaders::{AttachmentCount, AttachmentPage, UserKey, prefetch};
use super::{Attachment, ContextExt, or_null};
use crate::auth;
use crate::entity::user;
use crate::error::Error;
use crate::ids::{self, Kind};
use crate::service::{PageRequest, attachments, deletions, users};
use crate::soft_delete::Scope;

/// What a user may do.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sees live data: everyone's names, their own email and attachments.
    Member,
    /// Reads everything, deleted rows and the deletion log included; changes nothing.
    Support,
    /// May do anything.
    Admin,
}

impl From<auth::Role> for Role {
    fn from(role: auth::Role) -> Role {
        match role {
            auth::Role::Member => Role::Member,
            auth::Role::Support => Role::Support,
            auth::Role::Admin => Role::Admin,
        }
    }
}

impl From<Role> for auth::Role {
    fn from(role: Role) -> auth::Role {
        match role {
            Role::Member => auth::Role::Member,
            Role::Support => auth::Role::Support,
            Role::Admin => auth::Role::Admin,
        }
    }
}

/// A person who keeps attachments.
#[derive(Clone, Debug)]
pub struct User {
    pub(crate) row: user::Model,
    /// The scope this user was read in; its children inherit it.
    pub(crate) scope: Scope,
}

impl User {
    pub(crate) fn new(row: user::Model, scope: Scope) -> User {
        User { row, scope }
    }

    pub(crate) fn row_id(&self) -> i64 {
        self.row.id
    }
}

connection!(UserConnection, UserEdge, User, "users");

#[Object]
impl User {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::User, self.row.id))
    }

    /// The user's email: readable by the user themself, support and admins; anyone else
    /// gets `null` and a `FORBIDDEN` error for this field.
    async fn email(&self, ctx: &Context<'_>) -> Option<String> {
        let email = ctx.viewer().and_then(|viewer| {
            if users::may_read_email(viewer, &self.row) {
                Ok(Some(self.row.email.clone()))
            } else {
                Err(Error::forbidden(
                    "email: only the user themself, support and admins may read it",
                ))
            }
        });
        or_null(ctx, email)
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// What the user may do.
    async fn role(&self) -> Result<Role> {
        auth::Role::parse(&self.row.role)
            .map(Role::from)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "user {} has an unknown role {:?}",
                    self.row.id,
                    self.row.role
                ))
                .into()
            })
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
    async fn deletion(&self, ctx: &Context<'_>) -> Option<Deletion> {
        super::deletion::of_row(ctx, self.row.deletion_id, self.scope).await
    }

    /// The user's attachments, oldest first. A member may list only their own. Without
    /// `includeDeleted`/`onlyDeleted` the scope this user was read in carries down.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Also deleted attachments (support and admins). Default: the parent's scope."
        )]
        include_deleted: Option<bool>,
        #[graphql(
            desc = "Only deleted attachments (support and admins). Default: the parent's scope."
        )]
        only_deleted: Option<bool>,
    ) -> Result<AttachmentConnection> {
        let viewer = ctx.viewer()?;
        let page = PageRequest::parse(first, after.as_deref())?;
        let scope = deletions::child_scope(viewer, self.scope, include_deleted, only_deleted)?;
        attachments::may_list(viewer, self.row.id)?;
        // One batched, SQL-paged statement for every user of the response.
        let key = AttachmentPage {
            owner: self.row.id,
            scope,
            first: page.first,
            after: page.after,
        };
        let mut rows = ctx
            .loaders()?
            .load_one(key)
            .await
            .map_err(Error::from)?
            .unwrap_or_default();
        let has_next_page = rows.len() as u64 > page.first;
        rows.truncate(page.first as usize);
        Ok(AttachmentConnection::new(
            rows.into_iter()
                .map(|a| Attachment::new(a, scope))
                .collect(),
            has_next_page,
            page,
            TotalCount::OfOwner(self.row.id, scope),
        ))
    }
}

/// Loads in one go what a page of users' children will ask for: each user as an owner (so
/// `attachments { owner }` costs nothing more) and, when selected, their attachments in the
/// scope they inherit.
async fn prefetch_children(
    ctx: &Context<'_>,
    viewer: &auth::Viewer,
    scope: Scope,
    rows: &[user::Model],
) -> Result<()> {
    let loaders = ctx.loaders()?;
    loaders
        .feed_many(rows.iter().map(|u| (UserKey(u.id, scope), u.clone())))
        .await;
    // Each `attachments` selection (aliases may ask for several pages) in one load.
    let look = ctx.look_ahead();
    let selections = look
        .field("nodes")
        .field("attachments")
        .selection_fields()
        .into_iter()
        .chain(
            look.field("edges")
                .field("node")
                .field("attachments")
                .selection_fields(),
        );
    let mut keys = Vec::new();
    let mut counts = Vec::new();
    for selection in selections {
        // Arguments the resolver would refuse are left for it to report.
        let Some((page, child)) = page_arguments(viewer, scope, &selection) else {
            continue;
        };
        if selection.selection_set().any(|f| f.name() == "totalCount") {
            counts.extend(
                rows.iter()
                    .filter(|u| attachments::may_list(viewer, u.id).is_ok())
                    .map(|u| AttachmentCount(u.id, child)),
            );
        }
        keys.extend(
            rows.iter()
                .filter(|u| attachments::may_list(viewer, u.id).is_ok())
                .map(|u| AttachmentPage {
                    owner: u.id,
                    scope: child,
                    first: page.first,
                    after: page.after,
                }),
        );
    }
    if !keys.is_empty() {
        prefetch(loaders, keys).await.map_err(Error::from)?;
    }
    if !counts.is_empty() {
        prefetch(loaders, counts).await.map_err(Error::from)?;
    }
    Ok(())
}

/// The page and scope a `User.attachments` selection asks for, if its arguments are valid.
fn page_arguments(
    viewer: &auth::Viewer,
    parent: Scope,
    selection: &async_graphql::SelectionField<'_>,
) -> Option<(PageRequest, Scope)> {
    use async_graphql::Value;
    let (mut first, mut after, mut include, mut only) = (None, None, None, None);
    for (name, value) in selection.arguments().ok()? {
        match (name.as_str(), value) {
            ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("after", Value::String(s)) => after = Some(s),
            ("includeDeleted", Value::Boolean(b)) => include = Some(b),
            ("onlyDeleted", Value::Boolean(b)) => only = Some(b),
            (_, Value::Null) => {}
            _ => return None,
        }
    }
    let page = PageRequest::parse(first, after.as_deref()).ok()?;
    let scope = deletions::child_scope(viewer, parent, include, only).ok()?;
    Some((page, scope))
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
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        let me = async {
            let viewer = ctx.viewer()?;
            users::get(ctx.db()?, Scope::Live, viewer.id()).await
        };
        or_null(ctx, me.await).map(|u| User::new(u, Scope::Live))
    }

    /// A user by id, or null when there is none the viewer may see.
    async fn user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(
            desc = "Also find a deleted user (support and admins).",
            default = false
        )]
        include_deleted: bool,
    ) -> Option<User> {
        let user = async {
            let viewer = ctx.viewer()?;
            let scope = viewer.scope(include_deleted, false)?;
            let id = ids::decode(Kind::User, &id)?;
            Ok(users::get(ctx.db()?, scope, id)
                .await?
                .map(|u| User::new(u, scope)))
        };
        or_null(ctx, user.await)
    }

    /// Users, oldest first: live ones, or with `includeDeleted`/`onlyDeleted` (support and
    /// admins) deleted ones too or only.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(default = false)] include_deleted: bool,
        #[graphql(default = false)] only_deleted: bool,
    ) -> Result<UserConnection> {
        let viewer = ctx.viewer()?;
        let scope = viewer.scope(include_deleted, only_deleted)?;
        let page = PageRequest::parse(first, after.as_deref())?;
        let query = users::list_scope(scope);
        let found = query
            .clone()
            .page(ctx.db()?, page.first, page.after)
            .await
            .map_err(Error::from)?;
        prefetch_children(ctx, viewer, scope, &found.rows).await?;
        Ok(UserConnection::new(
            found
                .rows
                .into_iter()
                .map(|u| User::new(u, scope))
                .collect(),
            found.has_next_page,
            page,
            TotalCount::Users(query),
        ))
    }
}

/// Changes to users.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user (admins only). A live user with the same email is a `CONFLICT`.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
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
    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
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
    /// their live attachments, as one deletion. Their email is free again at once.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Deletion> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let logged = deletions::delete_user(ctx.db()?, viewer, id, reason).await?;
        Ok(Deletion::new(logged, Scope::Live))
    }

    /// Undoes the deletion that hid this user (admins; a member within the undo window).
    /// `CONFLICT` when a live user now holds the email.
    async fn restore_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Why, kept in the log beside who and when (at most 500 characters).")]
        reason: Option<String>,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let window = ctx.undo_window()?;
        let user = deletions::restore_user(ctx.db()?, viewer, id, reason, window).await?;
        Ok(User::new(user, Scope::Live))
    }
}

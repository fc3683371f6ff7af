//! Users in the schema: `me`, `user`, `users`, `createUser`, `updateUser`, and the `User` type.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::attachment::AttachmentConnection;
use super::connection::{self, connection};
use super::{ContextExt, or_null};
use crate::auth;
use crate::entity::user;
use crate::error::Error;
use crate::ids::{self, Kind};
use crate::service::{PageRequest, attachments, users};

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
pub struct User(pub(crate) user::Model);

impl User {
    pub(crate) fn row_id(&self) -> i64 {
        self.0.id
    }
}

connection!(UserConnection, UserEdge, User, user::Entity, "users");

#[Object]
impl User {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        ID(ids::encode(Kind::User, self.0.id))
    }

    /// The user's email: readable by the user themself, support and admins; anyone else
    /// gets `null` and a `FORBIDDEN` error for this field.
    async fn email(&self, ctx: &Context<'_>) -> Option<String> {
        let email = ctx.viewer().and_then(|viewer| {
            if users::may_read_email(viewer, &self.0) {
                Ok(Some(self.0.email.clone()))
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
        &self.0.name
    }

    /// What the user may do.
    async fn role(&self) -> Result<Role> {
        auth::Role::parse(&self.0.role)
            .map(Role::from)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "user {} has an unknown role {:?}",
                    self.0.id,
                    self.0.role
                ))
                .into()
            })
    }

    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the user was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The user's attachments, oldest first. A member may list only their own.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
    ) -> Result<AttachmentConnection> {
        let viewer = ctx.viewer()?;
        let page = PageRequest::parse(first, after.as_deref())?;
        let scope = attachments::list_scope(viewer, Some(self.0.id))?;
        Ok(AttachmentConnection::load(ctx.db()?, scope, page, super::Attachment).await?)
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
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        let me = async {
            let viewer = ctx.viewer()?;
            users::get(ctx.db()?, viewer.id).await
        };
        or_null(ctx, me.await).map(User)
    }

    /// A live user by id, or null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Option<User> {
        let user = async {
            ctx.viewer()?;
            let id = ids::decode(Kind::User, &id)?;
            users::get(ctx.db()?, id).await
        };
        or_null(ctx, user.await).map(User)
    }

    /// Live users, oldest first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
    ) -> Result<UserConnection> {
        ctx.viewer()?;
        let page = PageRequest::parse(first, after.as_deref())?;
        Ok(UserConnection::load(ctx.db()?, users::list_scope(), page, User).await?)
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
        Ok(User(users::create(ctx.db()?, viewer, new).await?))
    }

    /// Changes a user: oneself, or anyone as an admin. Only admins change roles.
    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        let changes = users::UserChanges {
            email: input.email,
            name: input.name,
            role: input.role.map(Into::into),
        };
        Ok(User(users::update(ctx.db()?, viewer, id, changes).await?))
    }
}

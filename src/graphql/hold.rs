//! Legal holds in the schema: `placeLegalHold`, `releaseLegalHold`, the `LegalHold` type,
//! and the resolvers behind `User.legalHold` and `User.legalHolds` (staff only, batched
//! through the request's loaders).

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::loaders::{HoldHistoryKey, HoldKey, UserKey, prefetch};
use super::types::User;
use crate::entity::legal_hold;
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::holds;

/// A legal hold on a user, as the GraphQL type `LegalHold` shows it.
#[derive(Clone, Debug)]
pub struct LegalHold {
    row: legal_hold::Model,
}

impl LegalHold {
    /// The user `id`: live only, or deleted too with `include_deleted` (staff only read
    /// holds, and may see deleted rows).
    async fn person(
        ctx: &Context<'_>,
        id: Option<i64>,
        include_deleted: bool,
    ) -> Result<Option<User>> {
        let scope = ctx.viewer()?.scope(include_deleted, false)?;
        let Some(id) = id else {
            return Ok(None);
        };
        let user = ctx.loaders()?.load_one(UserKey(id, scope)).await?.flatten();
        Ok(user.map(|u| User::new(u, scope)))
    }
}

/// A legal hold on a user: while it is on, nothing of the user's is purged, their deleted
/// attachments included. Placed and released by admins, each with a reason; read by
/// support and admins.
#[Object]
impl LegalHold {
    /// Why the hold was placed, as the admin put it.
    async fn reason(&self) -> &str {
        &self.row.reason
    }

    /// When the hold was placed.
    async fn placed_at(&self) -> DateTime<Utc> {
        self.row.placed_at
    }

    /// The admin who placed it; null when that user is deleted (unless asked with
    /// `includeDeleted`) or purged.
    async fn placed_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Show the admin even when deleted.")]
        include_deleted: bool,
    ) -> Result<Option<User>> {
        LegalHold::person(ctx, Some(self.row.placed_by), include_deleted).await
    }

    /// When it was released; null while the hold is on.
    async fn released_at(&self) -> Option<DateTime<Utc>> {
        self.row.released_at
    }

    /// The admin who released it; null while the hold is on, and when that user is deleted
    /// (unless asked with `includeDeleted`) or purged.
    async fn released_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Show the admin even when deleted.")]
        include_deleted: bool,
    ) -> Result<Option<User>> {
        LegalHold::person(ctx, self.row.released_by, include_deleted).await
    }

    /// Why it was released; null while the hold is on.
    async fn release_reason(&self) -> Option<&str> {
        self.row.release_reason.as_deref()
    }
}

/// `User.legalHold`: the active hold of user `user`, or null. `FORBIDDEN` for members,
/// whether or not the user is held, before anything is read.
pub(super) async fn active_of(ctx: &Context<'_>, user: i64) -> Result<Option<LegalHold>> {
    holds::may_read(ctx.viewer()?)?;
    let hold = ctx.loaders()?.load_one(HoldKey(user)).await?.flatten();
    Ok(hold.map(|row| LegalHold { row }))
}

/// `User.legalHolds`: every hold of user `user`, newest first. `FORBIDDEN` for members.
pub(super) async fn history_of(ctx: &Context<'_>, user: i64) -> Result<Vec<LegalHold>> {
    holds::may_read(ctx.viewer()?)?;
    let found = ctx.loaders()?.load_one(HoldHistoryKey(user)).await?;
    Ok(found
        .unwrap_or_default()
        .into_iter()
        .map(|row| LegalHold { row })
        .collect())
}

/// Reads ahead, in one batch each, the holds a page of users will ask for
/// (`nodes { legalHold }`, `edges { node { legalHolds } }`), when the viewer may read them.
pub(super) async fn prefetch_for(ctx: &Context<'_>, users: &[i64]) -> Result<()> {
    let look = ctx.look_ahead();
    let asks = |field: &str| {
        look.field("nodes").field(field).exists()
            || look.field("edges").field("node").field(field).exists()
    };
    if users.is_empty() || holds::may_read(ctx.viewer()?).is_err() {
        return Ok(());
    }
    let loaders = ctx.loaders()?;
    if asks("legalHold") {
        prefetch(loaders, users.iter().map(|&u| HoldKey(u))).await?;
    }
    if asks("legalHolds") {
        prefetch(loaders, users.iter().map(|&u| HoldHistoryKey(u))).await?;
    }
    Ok(())
}

/// Placing and releasing legal holds.
#[derive(Default)]
pub struct HoldMutation;

#[Object]
impl HoldMutation {
    /// Places a legal hold on a user, live or deleted (admins only): until it is released,
    /// no purge (nor the retention job) removes the user or any of their attachments.
    /// `CONFLICT` when the user is held already.
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id; a deleted user's id works too.")] user_id: ID,
        #[graphql(desc = "Why, kept in the hold's log (required, at most 500 characters).")]
        reason: String,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &user_id)?;
        let held = holds::place(ctx.db()?, viewer, id, &reason).await?;
        Ok(User::new(held.user, held.scope))
    }

    /// Releases the legal hold on a user (admins only); the hold stays in the user's
    /// `legalHolds` with who released it, when and why. `CONFLICT` when the user is not held.
    async fn release_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id; a deleted user's id works too.")] user_id: ID,
        #[graphql(desc = "Why, kept in the hold's log (required, at most 500 characters).")]
        reason: String,
    ) -> Result<User> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &user_id)?;
        let held = holds::release(ctx.db()?, viewer, id, &reason).await?;
        Ok(User::new(held.user, held.scope))
    }
}

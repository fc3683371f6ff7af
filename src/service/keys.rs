//! The keys the request's loaders read rows by: each names one row, one page or one count,
//! and the scope (or view) it is read in. The service's rules decide the key; the GraphQL
//! layer's loaders (`graphql/loaders.rs`) read every key of a response in one batch through
//! [`super::reads`], and hand rows back through [`Rows`].

use std::collections::HashMap;
use std::future::Future;

use sea_orm::DbErr;

use crate::entity::{attachment, deletion, user};
use crate::service::PageRequest;
use crate::soft_delete::{Columns, Scope, Scoped, SeeHidden};

/// A user by id, as `scope` shows it (`user`, `node`, `nodes`, `Attachment.owner`,
/// `Deletion.actor`). Its value is `None` for an id the scope does not show: a miss is
/// cached like a hit, so a lookup costs the same whether or not the row is there (a
/// second read for a missing row would tell it apart from a hidden one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub i64, pub Scope);

/// An attachment by id, as `scope` shows it (`attachment`, `node`, `nodes`). Whether the
/// viewer may see it is the service's check, after the load. Misses are cached like hits,
/// as for [`UserKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentKey(pub i64, pub Scope);

/// How many attachments an owner has, as `scope` shows it (`User.attachments.totalCount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentCount(pub i64, pub Scope);

/// How many attachments a deletion hides, as a view shows them
/// (`Deletion.attachments.totalCount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HiddenCount(pub i64, pub HiddenView);

/// The active legal hold of a user, by the user's id (`User.legalHold`): `None` when the
/// user is not held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HoldKey(pub i64);

/// Every legal hold of a user, newest first, by the user's id (`User.legalHolds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HoldHistoryKey(pub i64);

/// A deletion log entry by id (`User.deletion`, `Attachment.deletion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeletionKey(pub i64);

/// A user's erasure tombstone, by the user's id (`User.erasure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErasureKey(pub i64);

/// One page of one owner's attachments (`User.attachments`): the key the GraphQL loaders
/// read every owner's page of a response by, in one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OwnerPage {
    /// The owner's row id.
    pub owner: i64,
    /// The scope the page is read in.
    pub scope: Scope,
    /// Which page.
    pub page: PageRequest,
    /// The columns its rows are read with (the id and owner always): the others hold their
    /// type's default, for the GraphQL layer to leave alone (`graphql/attachment/`).
    pub columns: Columns<attachment::Entity>,
}

impl OwnerPage {
    /// The same page, its rows read with only `columns`.
    pub fn reading(self, columns: Columns<attachment::Entity>) -> OwnerPage {
        OwnerPage { columns, ..self }
    }
}

/// Which of a deletion's hidden attachments a read shows: those a scope shows, or, for a
/// member's deletion from `recentDeletions`, those the proof that they may undo it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HiddenView {
    /// The rows `Scope` shows (only deleted rows are ever stamped, so `Live` shows none).
    InScope(Scope),
    /// The rows of the deletion the proof names.
    Undoable(SeeHidden),
}

/// One page of the attachments a deletion hides (`Deletion.attachments`): the key the
/// request's loaders read every deletion's page by, in one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HiddenPage {
    /// The deletion's id.
    pub deletion: i64,
    /// What the read may show.
    pub view: HiddenView,
    /// Which page.
    pub page: PageRequest,
}

impl HiddenPage {
    /// The scope its rows are read in (a proof's rows count as the live scope's: their
    /// relationships show live rows only).
    pub fn scope(self) -> Scope {
        match self.view {
            HiddenView::InScope(scope) => scope,
            HiddenView::Undoable(_) => Scope::Live,
        }
    }
}

/// The attachments a [`HiddenView`] of one or more deletions may read.
pub fn hidden_attachments(view: HiddenView) -> Scoped<attachment::Entity> {
    match view {
        HiddenView::InScope(scope) => Scoped::new(scope),
        HiddenView::Undoable(proof) => Scoped::hidden_by(proof),
    }
}

/// Rows by id through the request's batched, cached loaders: what the rules that look rows
/// up by id (`user`, `attachment`, `node`, `nodes`, `Deletion.user`) read with. The GraphQL
/// layer implements it; a miss is cached like a hit.
pub trait Rows: Sync {
    /// Users by key, `None` where the scope shows none.
    fn users(
        &self,
        keys: Vec<UserKey>,
    ) -> impl Future<Output = Result<HashMap<UserKey, Option<user::Model>>, DbErr>> + Send;

    /// Attachments by key, `None` where the scope shows none.
    fn attachments(
        &self,
        keys: Vec<AttachmentKey>,
    ) -> impl Future<Output = Result<HashMap<AttachmentKey, Option<attachment::Model>>, DbErr>> + Send;

    /// Deletion log entries by id; absent where none.
    fn deletions(
        &self,
        keys: Vec<DeletionKey>,
    ) -> impl Future<Output = Result<HashMap<DeletionKey, deletion::Model>, DbErr>> + Send;

    /// One user.
    fn user(
        &self,
        key: UserKey,
    ) -> impl Future<Output = Result<Option<user::Model>, DbErr>> + Send {
        async move { Ok(self.users(vec![key]).await?.remove(&key).flatten()) }
    }

    /// One attachment.
    fn attachment(
        &self,
        key: AttachmentKey,
    ) -> impl Future<Output = Result<Option<attachment::Model>, DbErr>> + Send {
        async move { Ok(self.attachments(vec![key]).await?.remove(&key).flatten()) }
    }

    /// One deletion log entry.
    fn deletion(
        &self,
        key: DeletionKey,
    ) -> impl Future<Output = Result<Option<deletion::Model>, DbErr>> + Send {
        async move { Ok(self.deletions(vec![key]).await?.remove(&key)) }
    }
}

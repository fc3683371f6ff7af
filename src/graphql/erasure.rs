//! Erasure in the schema: `eraseUser`, its `ErasureReport`, and the `Erasure` tombstone that
//! `User.erasure` shows.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::scalars::SafeInt;
use crate::entity::erasure;
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::erase;

/// What was left of an erased user's personal data: nothing. The tombstone keeps the facts:
/// when, by whom, why, and how much went.
#[derive(Clone, Debug)]
pub struct Erasure(pub(super) erasure::Model);

/// The record of an erasure: when, by whom, why, and how much went.
#[Object]
impl Erasure {
    /// When the user's personal data was erased.
    async fn erased_at(&self) -> DateTime<Utc> {
        self.0.erased_at
    }

    /// The id of who erased it: an admin, or the user themself.
    async fn erased_by(&self) -> ID {
        ID(ids::encode(Kind::User, self.0.erased_by))
    }

    /// Why, as given, with the user's email and name replaced by `[erased]`.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Their attachments whose filename, content type and bytes were erased.
    async fn attachments(&self) -> i64 {
        self.0.attachments
    }

    /// Distinct blobs of theirs that no other user's attachment held, removed from storage.
    async fn blobs(&self) -> i64 {
        self.0.blobs
    }

    /// The bytes of those blobs.
    async fn bytes(&self) -> SafeInt {
        SafeInt(self.0.bytes)
    }
}

/// What an erasure did or, on a dry run, would do (the same figures either way).
#[derive(SimpleObject, Clone, Debug)]
pub struct ErasureReport {
    /// The erased user.
    pub user_id: ID,
    /// Whether this was a dry run that changed nothing.
    pub dry_run: bool,
    /// Their attachments (live or deleted) whose filename, content type and bytes go.
    pub attachments: i64,
    /// Distinct blobs of theirs that no other user's attachment holds: removed from storage.
    pub blobs: i64,
    /// The bytes of those blobs.
    pub bytes: SafeInt,
    /// Archived copies of their rows (from earlier purges), deleted.
    pub archive_entries: i64,
    /// Free texts that named them (reasons in the deletion log and the like), rewritten with
    /// `[erased]` in place of their email and name.
    pub reasons_rewritten: i64,
    /// When it happened; null on a dry run.
    pub erased_at: Option<DateTime<Utc>>,
}

/// Erasing a user's personal data.
#[derive(Default)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Erases a user's personal data for good (admins: anyone; a member: their own account):
    /// a live user is first deleted with their attachments; their email and name, their
    /// attachments' filenames, content types and stored bytes, every archived copy of their
    /// rows, and every mention of their email or name in the log's reasons are replaced or
    /// removed, in one transaction. The facts stay: that the account and its files existed,
    /// when, how many, and a tombstone (`User.erasure`). Irreversible: their deletions can no
    /// longer be restored. `CONFLICT` when already erased or under a legal hold.
    async fn erase_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id: yourself, or anyone as an admin.")] id: ID,
        #[graphql(desc = "Why: required, kept in the tombstone (at most 500 characters).")]
        reason: String,
        #[graphql(
            default = false,
            desc = "Only report what would be erased; change nothing."
        )]
        dry_run: bool,
    ) -> Result<ErasureReport> {
        let viewer = ctx.viewer()?;
        let id = ids::decode(Kind::User, &id)?;
        // Its statements grow with what the user left (one per rewritten reason): a job run
        // outside the request's statement budget, like a purge.
        let db = ctx.db()?.unbudgeted();
        let report = erase::erase_user(&db, ctx.storage()?, viewer, id, &reason, dry_run).await?;
        let figures = report.figures;
        Ok(ErasureReport {
            user_id: ID(ids::encode(Kind::User, report.user_id)),
            dry_run: report.dry_run,
            attachments: figures.attachments,
            blobs: figures.blobs,
            bytes: SafeInt(figures.bytes),
            archive_entries: figures.archive_entries,
            reasons_rewritten: figures.reasons_rewritten,
            erased_at: report.erased_at,
        })
    }
}

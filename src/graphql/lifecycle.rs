//! Storage lifecycle in the schema: `purgeDeleted` and its `PurgeReport`, and the archive
//! of purged rows (`archivedRecords`).

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::connection::connection;
use super::deletion::DeletedEntity;
use super::leaves::Leaves;
use super::scalars::SafeInt;
use crate::entity::archive;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::PageArgs;
use crate::service::purge;
use crate::service::stored_entity;
use crate::soft_delete::EntityKind;

/// A purged row as it was when archived.
#[derive(Clone, Debug)]
pub struct ArchivedRecord(archive::Model);

impl ArchivedRecord {
    pub(crate) fn row_id(&self) -> i64 {
        self.0.id
    }
}

/// Archive pages are small and read by staff: their fields resolve one by one.
impl Leaves for ArchivedRecord {
    fn leaf(&self, _: &str) -> Option<async_graphql::Value> {
        None
    }
}

connection!(
    ArchivedRecordConnection,
    ArchivedRecordEdge,
    ArchivedRecord,
    "archived rows"
);

/// A purged row as it was archived: what it was, its deletion, when, and every column.
#[Object]
impl ArchivedRecord {
    /// What the row was.
    async fn entity(&self) -> Result<DeletedEntity> {
        Ok(stored_entity(&self.0.entity)?.into())
    }

    /// The row's id when it was live.
    async fn entity_id(&self) -> ID {
        let kind = EntityKind::parse(&self.0.entity).map_or(Kind::Attachment, Kind::from);
        ID(ids::encode(kind, self.0.entity_id))
    }

    /// The deletion that hid the row before it was purged.
    async fn deletion_id(&self) -> Option<ID> {
        self.0
            .deletion_id
            .map(|id| ID(ids::encode(Kind::Deletion, id)))
    }

    /// When the row was soft-deleted.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }

    /// When it was archived and erased.
    async fn archived_at(&self) -> DateTime<Utc> {
        self.0.archived_at
    }

    /// Every column of the row, as it was.
    async fn data(&self) -> Result<Json<serde_json::Value>> {
        serde_json::from_str(&self.0.row).map(Json).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "archive row {} holds invalid JSON: {e}",
                self.0.id
            ))
        })
    }
}

/// Reading the archive.
#[derive(Default)]
pub struct LifecycleQuery;

#[Object]
impl LifecycleQuery {
    /// Purged rows, oldest archived first (admins only).
    async fn archived_records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only archived users, or attachments.")] entity: Option<DeletedEntity>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Page backward: the last rows, 0 to 100 (default 20), before `before` or up to the end."
        )]
        last: Option<i32>,
        #[graphql(desc = "Page backward: end before this cursor (a `startCursor`).")]
        before: Option<String>,
    ) -> Result<ArchivedRecordConnection> {
        let viewer = ctx.viewer()?;
        let page = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        let listing = purge::archived(ctx.db()?, viewer, entity.map(Into::into), page).await?;
        Ok(ArchivedRecordConnection::of(listing, |row, _| {
            ArchivedRecord(row)
        }))
    }
}

/// Purging.
#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Archives, then erases, every row soft-deleted longer than `olderThan` ago (`30d`,
    /// `24h`, `90s`…), in batches of one transaction each. The deletion log keeps its
    /// entries, marked `purgedAt`. Admins only.
    async fn purge_deleted(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Purge rows deleted longer ago than this: `30d`, `24h`, `90s`.")]
        older_than: String,
        #[graphql(
            default = false,
            desc = "Only count what would be purged; change nothing."
        )]
        dry_run: bool,
    ) -> Result<PurgeReport> {
        let viewer = ctx.viewer()?;
        // A batch job: batch after batch, each one transaction, outside the request's
        // statement budget (which would otherwise stop a purge half-way).
        let db = ctx.db()?.unbudgeted();
        let report = purge::purge_as(&db, ctx.storage()?, viewer, &older_than, dry_run).await?;
        Ok(PurgeReport::from(report))
    }
}

/// What a purge did, or on a dry run would do.
#[derive(async_graphql::SimpleObject, Clone, Copy, Debug)]
pub struct PurgeReport {
    /// Users archived and erased (on a dry run: that would be).
    pub users: u64,
    /// Attachments archived and erased (on a dry run: that would be).
    pub attachments: u64,
    /// Rows copied to the archive; 0 on a dry run.
    pub archived: u64,
    /// Bytes of attachment content erased (on a dry run: that would be), each blob once: the
    /// blobs of purged rows that no remaining row refers to.
    pub freed_bytes: SafeInt,
    /// Rows deleted before the cutoff that were kept (on a dry run: would be) because their
    /// user, or their owner, is under a legal hold.
    pub held: u64,
    /// Whether this was a dry run that changed nothing.
    pub dry_run: bool,
}

impl From<purge::PurgeReport> for PurgeReport {
    fn from(report: purge::PurgeReport) -> PurgeReport {
        PurgeReport {
            users: report.users,
            attachments: report.attachments,
            archived: report.archived,
            freed_bytes: SafeInt(i64::try_from(report.freed_bytes).unwrap_or(i64::MAX)),
            held: report.held,
            dry_run: report.dry_run,
        }
    }
}

//! Storage lifecycle in the schema: `purgeDeleted` and its `PurgeReport`, and the archive
//! of purged rows (`archivedRecords`).

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::connection::{self, TotalCount, connection};
use super::deletion::DeletedEntity;
use crate::entity::archive;
use crate::error::Error;
use crate::ids::{self, Kind};
use crate::service::{PageRequest, purge};
use crate::soft_delete::{ArchiveFilter, EntityKind};

/// A purged row as it was when archived.
#[derive(Clone, Debug)]
pub struct ArchivedRecord(archive::Model);

impl ArchivedRecord {
    pub(crate) fn row_id(&self) -> i64 {
        self.0.id
    }
}

connection!(
    ArchivedRecordConnection,
    ArchivedRecordEdge,
    ArchivedRecord,
    "archived rows"
);

#[Object]
impl ArchivedRecord {
    /// What the row was.
    async fn entity(&self) -> Result<DeletedEntity> {
        match EntityKind::parse(&self.0.entity) {
            Some(EntityKind::User) => Ok(DeletedEntity::User),
            Some(EntityKind::Attachment) => Ok(DeletedEntity::Attachment),
            None => Err(Error::Internal(anyhow::anyhow!(
                "archive row {} names an unknown entity {:?}",
                self.0.id,
                self.0.entity
            ))
            .into()),
        }
    }

    /// The row's id when it was live.
    async fn entity_id(&self) -> ID {
        let kind = match EntityKind::parse(&self.0.entity) {
            Some(EntityKind::User) => Kind::User,
            _ => Kind::Attachment,
        };
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
            .into()
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
    ) -> Result<ArchivedRecordConnection> {
        let viewer = ctx.viewer()?;
        viewer.require_admin("read the archive")?;
        let page = PageRequest::parse(first, after.as_deref())?;
        let filter = ArchiveFilter {
            entity: entity.map(Into::into),
            since: None,
        };
        let found = filter
            .page(ctx.db()?, page.first, page.after)
            .await
            .map_err(Error::from)?;
        Ok(ArchivedRecordConnection::new(
            found.rows.into_iter().map(ArchivedRecord).collect(),
            found.has_next_page,
            page,
            TotalCount::Archive(filter),
        ))
    }
}

/// What a purge did, or on a dry run would do.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct PurgeReport {
    /// Users archived and erased (on a dry run: that would be).
    pub users: i64,
    /// Attachments archived and erased (on a dry run: that would be).
    pub attachments: i64,
    /// Rows copied to the archive; 0 on a dry run.
    pub archived: i64,
    /// Whether this was a dry run that changed nothing.
    pub dry_run: bool,
}

impl From<purge::PurgeReport> for PurgeReport {
    fn from(r: purge::PurgeReport) -> PurgeReport {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        PurgeReport {
            users: n(r.users),
            attachments: n(r.attachments),
            archived: n(r.archived),
            dry_run: r.dry_run,
        }
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
        older_than: String,
        #[graphql(default = false)] dry_run: bool,
    ) -> Result<PurgeReport> {
        let viewer = ctx.viewer()?;
        // The role first: a member learns nothing from how their argument was written.
        viewer.require_admin("purge deleted data")?;
        let older_than = purge::parse_older_than(&older_than)?;
        Ok(purge::purge_as(ctx.db()?, viewer, older_than, dry_run)
            .await?
            .into())
    }
}

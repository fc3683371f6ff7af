//! The deletion log, for support and admins: who may read it, its listing, one entry, and
//! its statistics over a period.

use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::keys::{HiddenPage, HiddenView, Rows, UserKey};
use crate::service::{InScope, Listing, PageArgs, PageRequest, Total, optional_text};
use crate::soft_delete::{
    self, DeletionFilter, DeletionStats, EntityKind, Handle, Scope, Scoped, SeeHidden,
};

/// Fails with `FORBIDDEN` unless the viewer may read the deletion log (support, admin).
pub fn may_read_log(viewer: &Viewer) -> Result<()> {
    viewer
        .see_deleted()
        .map(|_| ())
        .map_err(|_| Error::forbidden("only support and admins may read the deletion log"))
}

/// What `deletions` may narrow the log to, as the client wrote it.
#[derive(Clone, Debug, Default)]
pub struct LogFilters<'a> {
    /// Only deletions of this entity.
    pub entity: Option<EntityKind>,
    /// Only deletions by this user (a global id).
    pub actor_id: Option<&'a str>,
    /// Only deletions by a user whose email or name contains this text.
    pub actor: Option<&'a str>,
    /// Only deletions at or after this moment (taken to the microsecond).
    pub since: Option<DateTime<Utc>>,
    /// Only deletions before this moment (taken to the microsecond).
    pub until: Option<DateTime<Utc>>,
    /// Only deletions whose reason contains this text.
    pub reason: Option<&'a str>,
    /// Only deletions hiding a user whose email or name, or an attachment whose filename,
    /// contains this text.
    pub search: Option<&'a str>,
}

/// The longest `reason` or `search` text a filter takes.
const MAX_FILTER_TEXT: usize = 200;

impl LogFilters<'_> {
    /// The core's filter, or `BAD_USER_INPUT` naming the argument that is wrong.
    fn parse(&self) -> Result<DeletionFilter> {
        // Moments are stored and compared to the microsecond on both databases, so the
        // range is too, before it is checked (`since` and `until` one nanosecond apart
        // inside one microsecond are an empty range).
        let since = self.since.map(soft_delete::to_micros);
        let until = self.until.map(soft_delete::to_micros);
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(Error::bad_input("since: must be before until"));
        }
        Ok(DeletionFilter {
            entity: self.entity,
            actor: self
                .actor_id
                .map(|id| ids::decode(Kind::User, id))
                .transpose()?,
            actor_search: optional_text("actor", self.actor, MAX_FILTER_TEXT)?,
            since,
            until,
            reason: optional_text("reason", self.reason, MAX_FILTER_TEXT)?,
            search: optional_text("search", self.search, MAX_FILTER_TEXT)?,
            in_force: false,
            only_rows_of: None,
        })
    }
}

/// `deletions`: the deletion log, newest first, for support and admins, narrowed by
/// `filters` when asked.
pub async fn list(
    h: &impl Handle,
    viewer: &Viewer,
    filters: LogFilters<'_>,
    page: PageArgs<'_>,
) -> Result<Listing<deletion::Model>> {
    let page = PageRequest::parse(page)?;
    let filter = filters.parse()?;
    may_read_log(viewer)?;
    let found = filter.page(h, page).await?;
    Ok(Listing::of(
        found,
        page,
        Scope::Live,
        Total::Deletions(filter),
    ))
}

/// `Deletion.user`: the user deletion `logged` hides, while it hides one. The rows a
/// deletion hides are deleted rows: only with `include_deleted` (support and admins; a
/// member asking is `FORBIDDEN`), else none. Their relationships inherit that scope (a
/// hidden user's cascade, a hidden attachment's live owner).
///
/// A deletion of a user stamps that one user (`entityId`) with its id, so the user is read
/// by id through the request's loaders, with every other row's in one batch, and kept only
/// while it still carries this deletion.
pub async fn hidden_user(
    rows: &impl Rows,
    viewer: &Viewer,
    logged: &deletion::Model,
    include_deleted: bool,
) -> Result<Option<InScope<user::Model>>> {
    let scope = viewer.scope(include_deleted, false)?;
    if EntityKind::parse(&logged.entity) != Some(EntityKind::User) {
        return Ok(None);
    }
    let found = rows.user(UserKey(logged.entity_id, scope)).await?;
    Ok(found
        .filter(|row| row.deletion_id == Some(logged.id))
        .map(|row| InScope { row, scope }))
}

/// `Deletion.attachments`: which page of the attachments deletion `logged` hides now (a
/// user's cascade, or a bulk delete), oldest first; none once it is restored or purged. Like
/// [`hidden_user`], only with `include_deleted`; a member also when `undoable` proves they
/// may undo `logged` now (it came from `recentDeletions`), as Undo would show them anyway.
pub fn hidden_page(
    viewer: &Viewer,
    logged: &deletion::Model,
    include_deleted: bool,
    undoable: Option<SeeHidden>,
    page: PageArgs<'_>,
) -> Result<HiddenPage> {
    let view = match (viewer.scope(include_deleted, false), undoable) {
        (Err(Error::Forbidden(_)), Some(proof))
            if include_deleted && proof.deletion() == logged.id =>
        {
            HiddenView::Undoable(proof)
        }
        (scope, _) => HiddenView::InScope(scope?),
    };
    Ok(HiddenPage {
        deletion: logged.id,
        view,
        page: PageRequest::parse(page)?,
    })
}

/// How many reasons `deletionStats` ranks.
const TOP_REASONS: u64 = 10;

/// The deletion log's statistics over the period `[since, until)`.
#[derive(Clone, Debug)]
pub struct PeriodStats {
    /// Start of the period (inclusive), to the microsecond.
    pub since: DateTime<Utc>,
    /// End of the period (exclusive), to the microsecond.
    pub until: DateTime<Utc>,
    /// What the log says about it.
    pub stats: DeletionStats,
}

/// `deletionStats`: for support and admins, over `[since, until)` (default: the last 30
/// days).
pub async fn stats(
    h: &impl Handle,
    viewer: &Viewer,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<PeriodStats> {
    may_read_log(viewer)?;
    // To the microsecond, as every moment is stored and compared (`soft_delete::to_micros`).
    let until = until.map_or_else(soft_delete::now, soft_delete::to_micros);
    let since = since.map_or(until - chrono::Duration::days(30), soft_delete::to_micros);
    if since >= until {
        return Err(Error::bad_input("since: must be before until"));
    }
    let stats = soft_delete::deletion_stats(h, since, until, TOP_REASONS).await?;
    Ok(PeriodStats {
        since,
        until,
        stats,
    })
}

/// `storageStats`: what the object store holds now, for support and admins.
pub async fn storage(h: &impl Handle, viewer: &Viewer) -> Result<soft_delete::StorageFigures> {
    may_read_log(viewer)?;
    Ok(soft_delete::storage_figures(h).await?)
}

/// `Deletion.subject`: what deletion `logged` was asked for, in words that outlast it: a
/// user's `Name <email>`, or an attachment's filename. Read from the row (deleted, or live
/// again after a restore), or, once a purge erased it, from its archived snapshot; so a
/// restored or purged entry keeps its names. For support and admins; `None` for others, and
/// when neither holds the row.
pub async fn subject(
    h: &impl Handle,
    viewer: &Viewer,
    logged: &deletion::Model,
) -> Result<Option<String>> {
    let Ok(proof) = viewer.see_deleted() else {
        return Ok(None);
    };
    let scope = Scope::WithDeleted(proof);
    let (kind, id) = match EntityKind::parse(&logged.entity) {
        Some(kind) => (kind, logged.entity_id),
        None => return Ok(None),
    };
    let user_words = |name: &str, email: &str| format!("{name} <{email}>");
    let from_row = match kind {
        EntityKind::User => Scoped::<user::Entity>::new(scope)
            .by_id(h, id)
            .await?
            .map(|u| user_words(&u.name, &u.email)),
        EntityKind::Attachment => Scoped::<attachment::Entity>::new(scope)
            .by_id(h, id)
            .await?
            .map(|a| a.filename),
    };
    if from_row.is_some() {
        return Ok(from_row);
    }
    let Some(archived) = soft_delete::archived_row(h, kind, id).await? else {
        return Ok(None);
    };
    let row: serde_json::Value = serde_json::from_str(&archived.row)
        .map_err(|err| anyhow::anyhow!("archive row {} is not JSON: {err}", archived.id))?;
    let text = |key: &str| row.get(key).and_then(serde_json::Value::as_str);
    Ok(match kind {
        EntityKind::User => text("name")
            .zip(text("email"))
            .map(|(name, email)| user_words(name, email)),
        EntityKind::Attachment => text("filename").map(str::to_owned),
    })
}

/// One log entry, for support and admins.
pub async fn get(h: &impl Handle, viewer: &Viewer, id: i64) -> Result<Option<deletion::Model>> {
    may_read_log(viewer)?;
    Ok(soft_delete::deletion(h, id).await?)
}

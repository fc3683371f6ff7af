//! The deletion log, for support and admins: who may read it, its listing, one entry, and
//! its statistics over a period.

use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::entity::deletion;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::{Listing, PageRequest, Total};
use crate::soft_delete::{self, DeletionFilter, DeletionStats, EntityKind, Handle, Scope};

/// Fails with `FORBIDDEN` unless the viewer may read the deletion log (support, admin).
pub fn may_read_log(viewer: &Viewer) -> Result<()> {
    viewer
        .see_deleted()
        .map(|_| ())
        .map_err(|_| Error::forbidden("only support and admins may read the deletion log"))
}

/// `deletions`: the deletion log, newest first, for support and admins; only one entity's
/// deletions, one actor's (a global id), or those since a moment, when asked.
pub async fn list(
    h: &impl Handle,
    viewer: &Viewer,
    entity: Option<EntityKind>,
    actor_id: Option<&str>,
    since: Option<DateTime<Utc>>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Listing<deletion::Model>> {
    let page = PageRequest::parse(first, after)?;
    let filter = DeletionFilter {
        entity,
        actor: actor_id.map(|id| ids::decode(Kind::User, id)).transpose()?,
        since,
    };
    may_read_log(viewer)?;
    let found = filter.page(h, page.first, page.after).await?;
    Ok(Listing::of(
        found,
        page,
        Scope::Live,
        Total::Deletions(filter),
    ))
}

/// How many reasons `deletionStats` ranks.
const TOP_REASONS: u64 = 10;

/// The deletion log's statistics over the period `[since, until)`.
#[derive(Clone, Debug)]
pub struct PeriodStats {
    /// Start of the period (inclusive).
    pub since: DateTime<Utc>,
    /// End of the period (exclusive).
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
    let until = until.unwrap_or_else(Utc::now);
    let since = since.unwrap_or(until - chrono::Duration::days(30));
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

/// One log entry, for support and admins.
pub async fn get(h: &impl Handle, viewer: &Viewer, id: i64) -> Result<Option<deletion::Model>> {
    may_read_log(viewer)?;
    Ok(soft_delete::deletion(h, id).await?)
}

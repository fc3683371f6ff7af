//! The outbox, read: the events by which other systems learn of deletions, restores and
//! purges, in id order, each to those who may know of its deletion. The core writes them
//! (`soft_delete::events`), in the transaction of each change.

use crate::auth::Viewer;
use crate::entity::{deletion, event};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::permissions::knows_every_deletion;
use crate::soft_delete::{self, Db, EntityKind, EventReader};

/// The most events one read returns.
pub const MAX_EVENTS: u64 = 1_000;

/// Events with ids above `after` (from the first when `None`), at most `limit`, oldest
/// first, that `viewer` may see: support and admins every one; a member those of the
/// deletions they may know of, by the rule `recentDeletions` and `restore` apply (made by
/// them, of their own rows alone).
/// With `upto`, an id [`Tail`] knows final, only events up to it, read without waiting for
/// writers.
pub async fn after(
    h: &Db,
    viewer: &Viewer,
    after: Option<i64>,
    upto: Option<i64>,
    limit: u64,
) -> Result<Vec<event::Model>> {
    let reader = if knows_every_deletion(viewer) {
        EventReader::Everyone
    } else {
        EventReader::Member(viewer.id())
    };
    read(h, reader, after, upto, limit).await
}

/// `found` with each event's deletion, read in one statement.
pub async fn with_deletions(
    h: &Db,
    found: Vec<event::Model>,
) -> Result<Vec<(event::Model, deletion::Model)>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let deletions = soft_delete::deletions_by_ids(h, found.iter().map(|e| e.deletion_id)).await?;
    found
        .into_iter()
        .map(|e| {
            let logged = deletions
                .iter()
                .find(|d| d.id == e.deletion_id)
                .cloned()
                .ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!(
                        "event {} names deletion {}, which is not in the log",
                        e.id,
                        e.deletion_id
                    ))
                })?;
            Ok((e, logged))
        })
        .collect()
}

/// The greatest event id a server knows final, kept for all its subscriptions at once: one
/// read of the outbox's tail per burst of commits (which may wait for writers in flight, never
/// holding them back), however many subscribe.
pub struct Tail {
    final_id: tokio::sync::watch::Sender<i64>,
}

impl Tail {
    /// How long the tail lets commits gather before it reads again.
    const GAP: std::time::Duration = std::time::Duration::from_millis(50);
    /// How long it waits without a wake-up before it reads anyway.
    const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(1);

    /// A tail that knows no event yet.
    pub fn new() -> Tail {
        Tail {
            final_id: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The greatest id known final, changing as events are committed.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<i64> {
        self.final_id.subscribe()
    }

    /// Keeps the id current for as long as the server runs, reading only while someone
    /// watches it.
    pub async fn run(self: std::sync::Arc<Self>, db: Db) {
        let mut wake = soft_delete::wakeups();
        loop {
            wake.borrow_and_update();
            if self.final_id.receiver_count() > 0 {
                let known = *self.final_id.borrow();
                match soft_delete::final_event_id_at_head(&db, known).await {
                    Ok(id) => {
                        self.final_id.send_if_modified(|known| {
                            let newer = id > *known;
                            if newer {
                                *known = id;
                            }
                            newer
                        });
                    }
                    Err(err) => tracing::warn!(error = %err, "could not read the outbox's tail"),
                }
            }
            tokio::time::sleep(Self::GAP).await;
            let _ = tokio::time::timeout(Self::CATCH_UP, wake.changed()).await;
        }
    }
}

impl Default for Tail {
    fn default() -> Tail {
        Tail::new()
    }
}

/// Every event with an id above `after`, at most `limit`, with its deletion: for the
/// operator's `keepsake events`, which has no viewer.
pub async fn for_operator(
    h: &Db,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<(event::Model, deletion::Model)>> {
    let found = read(h, EventReader::Everyone, after, None, limit).await?;
    with_deletions(h, found).await
}

async fn read(
    h: &Db,
    reader: EventReader,
    after: Option<i64>,
    upto: Option<i64>,
    limit: u64,
) -> Result<Vec<event::Model>> {
    if limit == 0 || limit > MAX_EVENTS {
        return Err(Error::bad_input(format!(
            "limit: must be between 1 and {MAX_EVENTS}"
        )));
    }
    Ok(soft_delete::events_after(h, reader, after, upto, limit).await?)
}

/// One event in the API's words, as `keepsake events` prints it and the webhook sends it: the
/// event's id as `DeletionEvent.id` spells it, opaque ids and `USER`/`ATTACHMENT` for its
/// deletion, as `Deletion` does.
pub fn to_json(event: &event::Model, logged: &deletion::Model) -> serde_json::Value {
    let kind = EntityKind::parse(&logged.entity);
    serde_json::json!({
        "id": event.id.to_string(),
        "type": event.kind,
        // As GraphQL's `DateTime` writes it, so a line and `DeletionEvent` agree to the byte.
        "occurredAt": event.occurred_at.to_rfc3339(),
        "deletion": {
            "id": ids::encode(Kind::Deletion, logged.id),
            "entity": kind.map_or_else(|| logged.entity.to_ascii_uppercase(), |k| k.as_str().to_ascii_uppercase()),
            "entityId": ids::encode(kind.map_or(Kind::Attachment, Kind::from), logged.entity_id),
            "cascadeCount": logged.cascade_count,
            "actorId": logged.actor_id.map(|a| ids::encode(Kind::User, a)),
            "reason": logged.reason,
        },
    })
}

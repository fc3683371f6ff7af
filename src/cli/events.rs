//! `keepsake events`: the outbox's events as JSON lines, oldest first, for an operator or a
//! script handing them to another system. `--after ID` picks up after the last one seen.

use std::io::Write as _;

use super::{Target, client_error};
use crate::entity::{deletion, event};
use crate::ids::{self, Kind};
use crate::service::events;
use crate::soft_delete::{self, EntityKind};

/// Events read per statement.
const PAGE: u64 = 500;

/// How long `--follow` waits without a notification before it looks again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// `keepsake events [--after ID] [--follow]`: prints every event after `after`, then exits,
/// or with `follow` keeps printing new ones as they are committed, until interrupted.
pub(super) async fn print(
    target: &Target,
    mut after: Option<i64>,
    follow: bool,
) -> anyhow::Result<()> {
    let db = target.connect().await?;
    let mut wake = soft_delete::wakeups();
    if follow && db.backend() == sea_orm::DbBackend::Postgres {
        tokio::spawn(soft_delete::listen(target.settings.database_url.clone()));
    }
    loop {
        wake.borrow_and_update();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        loop {
            let page = events::for_operator(&db, after, PAGE)
                .await
                .map_err(client_error)?;
            for (event, logged) in &page {
                writeln!(out, "{}", line(event, logged))?;
            }
            if let Some((last, _)) = page.last() {
                after = Some(last.id);
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        out.flush()?;
        drop(out);
        if !follow {
            return Ok(());
        }
        let _ = tokio::time::timeout(LOOK_AGAIN, wake.changed()).await;
    }
}

/// One event as a JSON line, in the API's words: the event's id as `DeletionEvent.id`
/// spells it, opaque ids and `USER`/`ATTACHMENT` for its deletion, as `Deletion` does.
fn line(event: &event::Model, logged: &deletion::Model) -> String {
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
    .to_string()
}

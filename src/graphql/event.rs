//! `DeletionEvent`: one event of the outbox, as a client reading it is given it (a
//! subscription will hand them out; `service::events::after` decides who sees which).

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::ContextExt;
use super::loaders::DeletionKey;
use super::types::Deletion;
use crate::entity::event;
use crate::error::{Error, Result};
use crate::soft_delete::Scope;

/// Something that happened to a deletion, as other systems learn of it: it was made,
/// restored or purged. Events come in the order of their ids; the id of the last one seen
/// is where a reader picks up again.
#[derive(Clone, Debug)]
pub struct DeletionEvent {
    row: event::Model,
    /// Its deletion, when read with it (a subscription reads a batch's deletions at once).
    logged: Option<crate::entity::deletion::Model>,
}

impl DeletionEvent {
    /// The event as the outbox holds it (read through `service::events`, which filters by
    /// viewer).
    pub fn new(row: event::Model) -> DeletionEvent {
        DeletionEvent { row, logged: None }
    }

    /// The event with its deletion, read beside it.
    pub fn with_deletion(
        row: event::Model,
        logged: crate::entity::deletion::Model,
    ) -> DeletionEvent {
        DeletionEvent {
            row,
            logged: Some(logged),
        }
    }
}

/// Something that happened to a deletion, as other systems learn of it: it was made,
/// restored or purged. Events come in the order of their ids; the id of the last one seen is
/// where a reader picks up again.
#[Object]
impl DeletionEvent {
    /// Its place in the outbox, a whole number as a string: later events have greater ids.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// What happened: `deletion.created`, `deletion.restored`, `deletion.purged` or
    /// `user.erased` (more types may come; ignore those you do not know).
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.row.kind
    }

    /// When it happened: the deletion's `deletedAt`, `restoredAt` or `purgedAt`.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.row.occurred_at
    }

    /// The deletion it happened to, as the deletion log shows it.
    async fn deletion(&self, ctx: &Context<'_>) -> Result<Deletion> {
        if let Some(logged) = &self.logged {
            return Ok(Deletion::new(logged.clone(), Scope::Live));
        }
        let found = ctx
            .loaders()?
            .load_one(DeletionKey(self.row.deletion_id))
            .await?;
        let logged = found.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "event {} names deletion {}, which is not in the log",
                self.row.id,
                self.row.deletion_id
            ))
        })?;
        Ok(Deletion::new(logged, Scope::Live))
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::DeletionEvent;
    use crate::entity::event;

    struct Query;

    #[Object]
    impl Query {
        async fn event(&self) -> DeletionEvent {
            let occurred_at = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00.123456Z")
                .unwrap()
                .to_utc();
            DeletionEvent::new(event::Model {
                id: 42,
                kind: "deletion.created".into(),
                deletion_id: 7,
                occurred_at,
            })
        }
    }

    /// The type as a subscription will serve it: its fields' names, and the id a reader
    /// passes back as `after`.
    #[tokio::test]
    async fn a_deletion_event_answers_in_the_apis_words() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let sdl = schema.sdl();
        assert!(sdl.contains("type DeletionEvent {"), "{sdl}");
        for field in [
            "id: ID!",
            "type: String!",
            "occurredAt: DateTime!",
            "deletion: Deletion!",
        ] {
            assert!(sdl.contains(field), "no {field} in {sdl}");
        }
        let answer = schema.execute("{ event { id type occurredAt } }").await;
        assert!(answer.errors.is_empty(), "{:?}", answer.errors);
        assert_eq!(
            answer.data.into_json().unwrap(),
            serde_json::json!({ "event": {
                "id": "42",
                "type": "deletion.created",
                "occurredAt": "2026-12-06T10:00:00.123456+00:00",
            }})
        );
    }
}

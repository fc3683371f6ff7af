//! `webhookDeliveries`: the events the webhook has not delivered yet, for admins.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::ContextExt;
use crate::error::{Error, Result};
use crate::service::webhooks;

/// An event the webhook has not delivered yet: waiting its turn, or failed and waiting for
/// its next try. Events are delivered in order, so the first one blocks the rest.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookDelivery {
    /// The event's id (`DeletionEvent.id`, and the `webhook-id` header it is sent with).
    pub event_id: ID,
    /// Attempts so far; 0 when it was not tried yet.
    pub attempts: i32,
    /// The last attempt's HTTP status (like `500`) or its error; null before the first.
    pub last_status: Option<String>,
    /// When it will be tried again after a failure; null when it waits only its turn.
    pub next_try_at: Option<DateTime<Utc>>,
}

/// A page of pending deliveries, oldest event first.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookDeliveryPage {
    /// The deliveries of this page.
    pub nodes: Vec<WebhookDelivery>,
    /// The last event id of this page: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
    /// Whether more pending deliveries follow this page.
    pub has_next_page: bool,
}

/// The webhook's state.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The events not yet delivered to the webhook (`KEEPSAKE_WEBHOOK_URL`), oldest first,
    /// with their attempts and last status: empty when every event was delivered or no webhook
    /// is set. Admins only (`FORBIDDEN` otherwise).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "An event id (`endCursor`): the deliveries after it.")] after: Option<
            String,
        >,
    ) -> Result<WebhookDeliveryPage> {
        let viewer = ctx.viewer()?;
        let after = after
            .map(|text| {
                text.parse::<i64>()
                    .map_err(|_| Error::bad_input("after: not an event id"))
            })
            .transpose()?;
        let (found, has_next_page) = webhooks::backlog(ctx.db()?, viewer, first, after).await?;
        Ok(WebhookDeliveryPage {
            end_cursor: found.last().map(|p| p.event_id.to_string()),
            has_next_page,
            nodes: found
                .into_iter()
                .map(|p| WebhookDelivery {
                    event_id: ID(p.event_id.to_string()),
                    attempts: p.attempts,
                    last_status: p.last_status,
                    next_try_at: p.next_try_at,
                })
                .collect(),
        })
    }
}

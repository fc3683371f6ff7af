//! `deletionEvents`: the outbox as a live stream, over WebSocket (`app/ws.rs`).
//!
//! The stream reads the outbox table itself, from `after` on, in id order: a replay and the
//! live tail are one loop, so there is no seam to lose or repeat an event at. The first read
//! waits for the writers in flight itself; later ones read up to the greatest id the server's
//! [`Tail`](crate::service::events::Tail) knows final (one such wait per burst of commits for
//! all subscriptions), and between reads a subscription sleeps until that id grows or a second
//! passes; the tail is woken by commits here and, on PostgreSQL, by any server's notification,
//! and looks once a second whatever happens, which catches up a lost notification.
//!
//! Before each read the subscriber's token is checked again against their row: a user who
//! was deleted, whose token expired, or whose role changed since the subscription began
//! gets one error and the end of the stream (subscribe again to continue under the new
//! role). It reads at most [`BATCH`] events at a time and the next batch only when the
//! client has taken the last, so a slow client holds back its own stream, not the server's
//! memory.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ID, Subscription};
use futures_util::Stream;

use super::event::DeletionEvent;
use super::slots::Slot;
use super::{ContextExt, Services};
use crate::auth::{Bearer, Role, Viewer};
use crate::entity::event;
use crate::error::{Error, Result};
use crate::service::events;
use crate::soft_delete::Db;

/// Events read from the outbox at a time, per subscription.
const BATCH: u64 = 100;

/// How long a subscription sleeps without a wake-up before it looks again.
const CATCH_UP: Duration = Duration::from_secs(1);

/// The least time between two reads of one subscription: under a stream of commits it reads
/// them in batches, not one read (and one wait for the writers in flight) per commit.
const MIN_GAP: Duration = Duration::from_millis(50);

/// The subscription root.
#[derive(Default)]
pub struct Subscription;

/// Live streams, over WebSocket at `/graphql/ws` (`graphql-transport-ws`).
#[Subscription]
impl Subscription {
    /// Deletions, restores and purges as they are committed, in id order: first those after
    /// `after` (an event's `id`; from the oldest kept when omitted), then each new one live.
    /// Members receive the events of their own deletions; support and admins every event.
    /// The stream ends, with an error, when the subscriber is deleted, their token expires
    /// or their role changes. Subscribe over WebSocket at `/graphql/ws`
    /// (`graphql-transport-ws`, the token in `connection_init`'s payload as
    /// `{"Authorization": "Bearer …"}`).
    async fn deletion_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resume after this event's id; omitted: from the oldest event kept.")]
        after: Option<ID>,
    ) -> Result<impl Stream<Item = async_graphql::Result<DeletionEvent>> + use<>> {
        let viewer = ctx.viewer()?.clone();
        let subscriber = ctx.data_opt::<Subscriber>().ok_or_else(|| {
            Error::bad_input(
                "deletionEvents is a subscription: open a WebSocket to /graphql/ws \
                 (graphql-transport-ws)",
            )
        })?;
        let after = match after {
            None => None,
            Some(id) => Some(id.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                Error::bad_input(format!(
                    "after: \"{}\" is not an event id (a whole number, as events' ids are)",
                    id.chars().take(40).collect::<String>()
                ))
            })?),
        };
        let services = ctx.services()?.clone();
        let slot = services.subscriptions.take(viewer.id())?;
        let feed = Feed {
            db: ctx.db()?.clone(),
            services,
            authorization: subscriber.authorization.clone(),
            viewer,
            last: after,
            ready: VecDeque::new(),
            final_id: None,
            read_at: None,
            ended: false,
            _slot: slot,
        };
        Ok(futures_util::stream::unfold(feed, Feed::next))
    }
}

/// What a WebSocket connection's subscriptions share: who signed in, with what.
pub struct Subscriber {
    /// The `Authorization` value `connection_init` carried, checked again before each read.
    pub authorization: String,
}

/// One subscription's place in the outbox.
struct Feed {
    db: Db,
    services: Arc<Services>,
    authorization: String,
    /// Who subscribed, as they were then.
    viewer: Viewer,
    /// The last event handed out (or skipped as not theirs).
    last: Option<i64>,
    ready: VecDeque<(event::Model, crate::entity::deletion::Model)>,
    /// The greatest id the server's tail knows final; `None` until the first read, which
    /// waits for the writers in flight on its own.
    final_id: Option<tokio::sync::watch::Receiver<i64>>,
    /// When it last read the outbox.
    read_at: Option<tokio::time::Instant>,
    ended: bool,
    _slot: Slot,
}

impl Feed {
    /// The next event, waiting for one; `None` once the stream has ended.
    async fn next(mut self) -> Option<(async_graphql::Result<DeletionEvent>, Feed)> {
        loop {
            if let Some((row, logged)) = self.ready.pop_front() {
                return Some((Ok(DeletionEvent::with_deletion(row, logged)), self));
            }
            if self.ended {
                return None;
            }
            if let Some(read_at) = self.read_at {
                tokio::time::sleep_until(read_at + MIN_GAP).await;
            }
            self.read_at = Some(tokio::time::Instant::now());
            // Seen before reading, so a newer id during the read wakes the next wait.
            let upto = self
                .final_id
                .as_mut()
                .map(|known| *known.borrow_and_update());
            if let Err(err) = self.still_signed_in().await {
                self.ended = true;
                return Some((Err(err.into()), self));
            }
            if self.final_id.is_none() {
                self.final_id = Some(self.services.tail.watch());
            }
            let read = match events::after(&self.db, &self.viewer, self.last, upto, BATCH).await {
                Ok(found) => {
                    let last = found.last().map(|e| e.id);
                    let full = found.len() as u64 == BATCH;
                    events::with_deletions(&self.db, found)
                        .await
                        .map(|found| (found, last, full))
                }
                Err(err) => Err(err),
            };
            match read {
                Ok((found, last, full)) => {
                    self.last = last.or(self.last);
                    // Every id up to the final one was read (those not theirs skipped).
                    if let Some(upto) = upto
                        && !full
                        && self.last.is_none_or(|last| last < upto)
                    {
                        self.last = Some(upto);
                    }
                    if found.is_empty()
                        && let Some(known) = self.final_id.as_mut()
                    {
                        let _ = tokio::time::timeout(CATCH_UP, known.changed()).await;
                    }
                    self.ready.extend(found);
                }
                Err(err) => {
                    self.ended = true;
                    return Some((Err(err.into()), self));
                }
            }
        }
    }

    /// `UNAUTHENTICATED` when the token no longer signs the subscriber in; `FORBIDDEN` when
    /// their role changed.
    async fn still_signed_in(&self) -> Result<()> {
        match self
            .services
            .tokens
            .authenticate(&self.db, Some(&self.authorization))
            .await
        {
            Ok(Bearer::Viewer(now)) if now.id() == self.viewer.id() => {
                if now.role() == self.viewer.role() {
                    Ok(())
                } else {
                    Err(Error::forbidden(format!(
                        "your role changed from {} to {}: this subscription has ended; \
                         subscribe again",
                        role_name(self.viewer.role()),
                        role_name(now.role())
                    )))
                }
            }
            Ok(_) => Err(Error::Unauthenticated(
                "this token no longer signs you in: the subscription has ended".into(),
            )),
            Err(err) => Err(err),
        }
    }
}

fn role_name(role: Role) -> String {
    role.as_str().to_uppercase()
}

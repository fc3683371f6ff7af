//! The webhook's delivery state, `webhook_deliveries`: which event to deliver next, who is
//! delivering it, and how each attempt ended.
//!
//! Events are delivered in id order: the next one is the first event after the last delivered
//! one (every event before a delivered one was delivered). A server claims it in a short
//! transaction that sets a lease (`claimed_until`), sends it outside the transaction, then
//! records the outcome. On PostgreSQL the claim locks the row `FOR UPDATE SKIP LOCKED`, so two
//! servers claiming at once do not wait on each other, and the one that comes second sees the
//! first one's lease and stands by. A lease that expires (its server died mid-delivery) is
//! claimable again. SQLite has one writer at a time (`BEGIN IMMEDIATE`): the same code without
//! the lock clause.

use std::time::Duration;

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DbBackend, DbErr, EntityTrait, PaginatorTrait as _,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Db, Handle, exec, to_micros};
use crate::entity::{event, webhook_delivery};

/// An event this server holds the lease of and may now send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookClaim {
    /// The event to send.
    pub event_id: i64,
    /// Which attempt this is (1 for the first).
    pub attempt: i32,
    /// The lease: the claim is this server's until then.
    pub until: DateTimeUtc,
}

/// What [`claim_webhook`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookNext {
    /// Send this one now, then [`record_webhook`] the outcome.
    Claimed(WebhookClaim),
    /// Nothing to send before this moment (a retry's time, another server's lease); `None`:
    /// every event is delivered.
    Wait(Option<DateTimeUtc>),
}

/// The id of the last delivered event (every event before it was delivered too).
async fn last_delivered(h: &impl Handle) -> Result<i64, DbErr> {
    #[allow(clippy::disallowed_methods)] // the delivery state is the core's own table
    let select = webhook_delivery::Entity::find();
    let last: Option<Option<i64>> = select
        .select_only()
        .column_as(webhook_delivery::Column::EventId.max(), "last")
        .filter(webhook_delivery::Column::DeliveredAt.is_not_null())
        .into_tuple()
        .one(&exec(h))
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Up to `limit` undelivered events with ids above `after`, oldest first, each with its
/// delivery state when one was tried.
pub async fn webhook_backlog(
    h: &impl Handle,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<(i64, Option<webhook_delivery::Model>)>, DbErr> {
    let from = std::cmp::max(last_delivered(h).await?, after.unwrap_or(0));
    #[allow(clippy::disallowed_methods)] // the outbox is the core's own table
    let select = event::Entity::find();
    let ids: Vec<i64> = select
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::Id.gt(from))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(&exec(h))
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(clippy::disallowed_methods)] // the delivery state is the core's own table
    let select = webhook_delivery::Entity::find();
    let tried = select
        .filter(webhook_delivery::Column::EventId.is_in(ids.iter().copied()))
        .all(&exec(h))
        .await?;
    Ok(ids
        .into_iter()
        .map(|id| (id, tried.iter().find(|d| d.event_id == id).cloned()))
        .collect())
}

/// How many events wait for delivery: every event after the last delivered one.
pub async fn webhook_pending(h: &impl Handle) -> Result<u64, DbErr> {
    let from = last_delivered(h).await?;
    #[allow(clippy::disallowed_methods)] // the outbox is the core's own table
    let select = event::Entity::find();
    select
        .filter(event::Column::Id.gt(from))
        .count(&exec(h))
        .await
}

/// Claims the next undelivered event for `lease` from `now`, if no other server holds it and
/// its retry time has come.
pub async fn claim_webhook(
    db: &Db,
    now: DateTimeUtc,
    lease: Duration,
) -> Result<WebhookNext, DbErr> {
    let now = to_micros(now);
    let db = db.unbudgeted();
    // The next event in id order is sent only once it is final: no smaller id can appear.
    let frontier = super::final_event_id(&db, last_delivered(&db).await?).await?;
    let tx = db.begin().await?;
    let Some((head, _)) = webhook_backlog(&tx, None, 1).await?.into_iter().next() else {
        tx.rollback().await?;
        return Ok(WebhookNext::Wait(None));
    };
    if head > frontier {
        // Committed after the frontier was read: look again at once.
        tx.rollback().await?;
        return Ok(WebhookNext::Wait(Some(now)));
    }
    let conn = exec(&tx);
    let backend = conn.get_database_backend();
    let row = Query::insert()
        .into_table(webhook_delivery::Entity)
        .columns([
            webhook_delivery::Column::EventId,
            webhook_delivery::Column::Attempts,
        ])
        .values_panic([head.into(), 0.into()])
        .on_conflict(
            OnConflict::column(webhook_delivery::Column::EventId)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    conn.execute_raw(backend.build(&row)).await?;
    #[allow(clippy::disallowed_methods)] // the delivery state is the core's own table
    let mut select = webhook_delivery::Entity::find_by_id(head);
    if backend == DbBackend::Postgres {
        // Another server claiming this very row: skip it rather than queue behind it.
        select = select.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let Some(state) = select.one(&conn).await? else {
        tx.rollback().await?;
        return Ok(WebhookNext::Wait(Some(now + lease)));
    };
    let busy_until = [state.claimed_until, state.next_try_at]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .max();
    if state.delivered_at.is_some() || busy_until.is_some() {
        tx.rollback().await?;
        // Delivered meanwhile: look again at once.
        return Ok(WebhookNext::Wait(Some(busy_until.unwrap_or(now))));
    }
    let until = to_micros(now + lease);
    let attempt = state.attempts.saturating_add(1);
    webhook_delivery::Entity::update(webhook_delivery::ActiveModel {
        event_id: Set(head),
        attempts: Set(attempt),
        claimed_until: Set(Some(until)),
        ..Default::default()
    })
    .exec(&conn)
    .await?;
    tx.commit().await?;
    Ok(WebhookNext::Claimed(WebhookClaim {
        event_id: head,
        attempt,
        until,
    }))
}

/// Records how `claim`'s attempt ended: `status` (an HTTP status or an error), delivered or
/// to be tried again at `retry_at`. Returns `false` when the lease was lost meanwhile (it
/// expired and another server claimed the event): that server's outcome stands.
pub async fn record_webhook(
    db: &Db,
    claim: &WebhookClaim,
    status: &str,
    delivered_at: Option<DateTimeUtc>,
    retry_at: Option<DateTimeUtc>,
) -> Result<bool, DbErr> {
    let conn = exec(db);
    let backend = conn.get_database_backend();
    use webhook_delivery::Column as C;
    let update = Query::update()
        .table(webhook_delivery::Entity)
        .value(C::LastStatus, status)
        .value(C::DeliveredAt, delivered_at.map(to_micros))
        .value(C::NextTryAt, retry_at.map(to_micros))
        .value(C::ClaimedUntil, Option::<DateTimeUtc>::None)
        .and_where(Expr::col(C::EventId).eq(claim.event_id))
        .and_where(Expr::col(C::ClaimedUntil).eq(claim.until))
        .to_owned();
    let done = conn.execute_raw(backend.build(&update)).await?;
    Ok(done.rows_affected() == 1)
}

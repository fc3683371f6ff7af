//! The `webhook_deliveries` table: each event's delivery to the webhook (attempts, the last
//! outcome, the next try, the lease of the server delivering it). Owned by
//! `soft_delete::webhooks`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The event delivered (`events.id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    /// Attempts begun so far (counted when claimed, so a crash mid-attempt counts).
    pub attempts: i32,
    /// The last attempt's HTTP status, or its error.
    pub last_status: Option<String>,
    /// Not tried again before this moment.
    pub next_try_at: Option<DateTimeUtc>,
    /// When a receiver answered 2xx.
    pub delivered_at: Option<DateTimeUtc>,
    /// A server is delivering it until this moment (its lease).
    pub claimed_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

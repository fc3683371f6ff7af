//! `webhook_deliveries`: how far the webhook has delivered each event of the outbox. One row
//! per event a server has tried to deliver (made when it first claims it): how many attempts,
//! what the last one got (an HTTP status or an error), when to try again, when it was
//! delivered, and until when a server holds it (`claimed_until`, a lease: a server that dies
//! mid-delivery leaves a lease that expires, and another server or its restart tries again).
//!
//! The row goes with its event (`ON DELETE CASCADE`): the retention job drops old events, and
//! their delivery state with them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    EventId,
    Attempts,
    LastStatus,
    NextTryAt,
    DeliveredAt,
    ClaimedUntil,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_integer(WebhookDeliveries::EventId).primary_key())
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(text_null(WebhookDeliveries::LastStatus))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::NextTryAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::ClaimedUntil,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_event")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The undelivered rows, for `webhookDeliveries`; delivered ones are only looked up by
        // key (the last delivered event).
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_delivered_at")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::DeliveredAt)
                    .col(WebhookDeliveries::EventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}

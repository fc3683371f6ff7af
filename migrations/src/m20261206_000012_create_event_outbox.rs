//! The transactional outbox: `events`, one row per change other systems learn of
//! (`deletion.created`, `deletion.restored`, `deletion.purged`, `user.erased`), written by the
//! soft-delete core in the transaction of the change itself. Readers follow it by id
//! (`id > last seen`), so the id is the read order; `occurred_at` is indexed for the
//! retention job, which drops old events; `(deletion_id, type)` serves `keepsake check`'s
//! "every change has its event" and a member's reads through their deletions.
//!
//! The migration also records when it ran, in `settings` under `events_since`: rows of an
//! upgraded database changed before then have no events, and `keepsake check` asks events
//! only of changes made after it.
//!
//! `id` is an auto-increment key that never hands out an id twice: `AUTOINCREMENT` on SQLite
//! (without it SQLite reuses the highest id once the retention job drops it, and a reader past
//! it would skip the new event), an identity column on PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `settings` key holding the moment this migration ran (RFC 3339, microseconds).
pub const EVENTS_SINCE: &str = "events_since";

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Type,
    DeletionId,
    OccurredAt,
}

#[derive(DeriveIden)]
enum Deletions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
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
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(string_len(Events::Type, 64))
                    .col(big_integer(Events::DeletionId))
                    .col(timestamp_with_time_zone(Events::OccurredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_events_deletion")
                            .from(Events::Table, Events::DeletionId)
                            .to(Deletions::Table, Deletions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_occurred_at")
                    .table(Events::Table)
                    .col(Events::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_deletion_type")
                    .table(Events::Table)
                    .col(Events::DeletionId)
                    .col(Events::Type)
                    .to_owned(),
            )
            .await?;
        let since = {
            use chrono::{SecondsFormat, SubsecRound as _, Utc};
            chrono::DateTime::<Utc>::from(std::time::SystemTime::now())
                .trunc_subsecs(6)
                .to_rfc3339_opts(SecondsFormat::Micros, false)
        };
        let record = Query::insert()
            .into_table(Settings::Table)
            .columns([Settings::Key, Settings::Value])
            .values_panic([EVENTS_SINCE.into(), since.into()])
            .to_owned();
        manager.exec_stmt(record).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let forget = Query::delete()
            .from_table(Settings::Table)
            .and_where(Expr::col(Settings::Key).eq(EVENTS_SINCE))
            .to_owned();
        manager.exec_stmt(forget).await?;
        // The indexes go with the table.
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}

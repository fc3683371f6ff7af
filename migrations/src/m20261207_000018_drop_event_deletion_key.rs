//! PostgreSQL: drops `fk_events_deletion`, the foreign key from `events.deletion_id` to
//! `deletions.id`. An event is written only in the transaction that writes or locks its
//! deletion's row (a delete's, restore's or purge's by that very statement, an erasure's after
//! locking the user's deletion), and no deletion is ever removed from the log, so the key could
//! never refuse anything; yet every event paid for it: a lookup of the deletion and
//! a row lock on it, logged to the WAL, at each delete, restore and purge (with pgbench, a
//! deletion and its restore with their events: about a third of what the two events cost
//! PostgreSQL). `keepsake check` still names an event whose deletion is missing
//! (`event-without-deletion`).
//!
//! SQLite keeps the key: there it costs one index probe, and dropping it would mean copying
//! the table, whose webhook deliveries refer to it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const KEY: &str = "fk_events_deletion";

#[derive(DeriveIden)]
enum Events {
    Table,
    DeletionId,
}

#[derive(DeriveIden)]
enum Deletions {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .drop_foreign_key(ForeignKey::drop().name(KEY).table(Events::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .create_foreign_key(
                ForeignKey::create()
                    .name(KEY)
                    .from(Events::Table, Events::DeletionId)
                    .to(Deletions::Table, Deletions::Id)
                    .to_owned(),
            )
            .await
    }
}

//! The `archive` table: a JSON snapshot of every purged row, taken in the same transaction
//! that hard-deletes it, so a purge never loses data it was not asked to lose.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Archive {
    Table,
    Id,
    Entity,
    EntityId,
    Row,
    DeletionId,
    DeletedAt,
    ArchivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Archive::Table)
                    .col(big_pk_auto(Archive::Id))
                    .col(string_len(Archive::Entity, 32))
                    .col(big_integer(Archive::EntityId))
                    // JSON as text: the same on both databases, byte for byte.
                    .col(text(Archive::Row))
                    .col(big_integer_null(Archive::DeletionId))
                    .col(timestamp_with_time_zone_null(Archive::DeletedAt))
                    .col(timestamp_with_time_zone(Archive::ArchivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_archive_archived_at")
                    .table(Archive::Table)
                    .col(Archive::ArchivedAt)
                    .col(Archive::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_archive_entity")
                    .table(Archive::Table)
                    .col(Archive::Entity)
                    .col(Archive::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Archive::Table).to_owned())
            .await
    }
}

//! Two indexes for reading the deletion log. `deletions (deleted_at, id)`: the log reads
//! newest first by `(deleted_at, id)`, and a page past a cursor is the rows on one side of
//! the cursor's `(deleted_at, id)`, so the index gives both the order and the bound and a
//! page costs its own rows however deep it lies. `archive (entity, entity_id, id)`: an
//! entry whose row was purged still names what it deleted, read from the row's last
//! archived snapshot.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deletions {
    Table,
    DeletedAt,
    Id,
}

#[derive(DeriveIden)]
enum Archive {
    Table,
    Entity,
    EntityId,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_deletions_deleted_at_id")
                    .table(Deletions::Table)
                    .col(Deletions::DeletedAt)
                    .col(Deletions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_archive_entity_row")
                    .table(Archive::Table)
                    .col(Archive::Entity)
                    .col(Archive::EntityId)
                    .col(Archive::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_archive_entity_row")
                    .table(Archive::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deletions_deleted_at_id")
                    .table(Deletions::Table)
                    .to_owned(),
            )
            .await
    }
}

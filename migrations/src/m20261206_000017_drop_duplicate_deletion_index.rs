//! Drops `idx_deletions_deleted_at`: the first migration made it on `deletions (deleted_at,
//! id)`, and `idx_deletions_deleted_at_id` (the deletion log's reads) indexes the same columns
//! again. Every write of the log (each delete, restore and purged deletion) kept both up to
//! date for nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deletions {
    Table,
    DeletedAt,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deletions_deleted_at")
                    .table(Deletions::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_deletions_deleted_at")
                    .table(Deletions::Table)
                    .col(Deletions::DeletedAt)
                    .col(Deletions::Id)
                    .to_owned(),
            )
            .await
    }
}

//! An index on the deletion log by the row a deletion was asked for: "what deleted this
//! user?" lookups (seeding stamps, support questions) stay fast as the log grows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deletions {
    Table,
    Entity,
    EntityId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_deletions_entity")
                    .table(Deletions::Table)
                    .col(Deletions::Entity)
                    .col(Deletions::EntityId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deletions_entity")
                    .table(Deletions::Table)
                    .to_owned(),
            )
            .await
    }
}

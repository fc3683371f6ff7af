//! A full index on `attachments(owner_id)`. The partial one (live rows only) serves reads;
//! this one serves the foreign-key check when a purge erases users, and the purge's own
//! "does this user still have attachments?" test. Without it, erasing a user scanned every
//! attachment (measured: 1,160 rows/s purging 2,047 users among 100,000 attachments).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachments {
    Table,
    OwnerId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_owner")
                    .table(Attachments::Table)
                    .col(Attachments::OwnerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_attachments_owner")
                    .table(Attachments::Table)
                    .to_owned(),
            )
            .await
    }
}

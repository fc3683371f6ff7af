//! `attachments.sha256`: the SHA-256 (hex) of the attachment's bytes once they are uploaded,
//! null while it holds none (docs/DESIGN.md#attachment-content). The bytes live in the object store under that hash,
//! once for any number of rows; the index finds whether any row, live or deleted, still
//! refers to a blob before a purge erases it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Sha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .add_column(string_len_null(Attachments::Sha256, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_sha256")
                    .table(Attachments::Table)
                    .col(Attachments::Sha256)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_attachments_sha256")
                    .table(Attachments::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .drop_column(Attachments::Sha256)
                    .to_owned(),
            )
            .await
    }
}

//! Partial indexes on the ids of live rows (`WHERE deleted_at IS NULL`): a page of live users
//! or attachments walks one, and counting live rows reads one (index-only on PostgreSQL), so
//! neither slows down as deleted rows pile up. Before, a live `users` page filtered the
//! primary key and `totalCount` of live users scanned every user, deleted ones included.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_users_live")
                    .table(Users::Table)
                    .col(Users::Id)
                    .and_where(Expr::col(Users::DeletedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_live")
                    .table(Attachments::Table)
                    .col(Attachments::Id)
                    .and_where(Expr::col(Attachments::DeletedAt).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_attachments_live")
                    .table(Attachments::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_live")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await
    }
}

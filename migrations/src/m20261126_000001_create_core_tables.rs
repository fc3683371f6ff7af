//! The four core tables: `deletions`, `users`, `attachments`, `settings`.
//!
//! The soft-delete columns (`deleted_at`, `deleted_by`, `deletion_id`) exist from the first
//! migration, so later features add behaviour, not schema. Uniqueness of a user's email and
//! the owner index on attachments are *partial* (`WHERE deleted_at IS NULL`): they cover live
//! rows only, so deleted rows neither block a reused email nor slow live reads.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deletions {
    Table,
    Id,
    Entity,
    EntityId,
    ActorId,
    Reason,
    DeletedAt,
    CascadeCount,
    RestoredAt,
    RestoredBy,
    PurgedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    Role,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    DeletedBy,
    DeletionId,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    OwnerId,
    Filename,
    ContentType,
    SizeBytes,
    CreatedAt,
    DeletedAt,
    DeletedBy,
    DeletionId,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `deletions` comes first because users and attachments point at it. Its actor is
        // deliberately not a foreign key: the log outlives the rows it talks about, including
        // a purged actor.
        manager
            .create_table(
                Table::create()
                    .table(Deletions::Table)
                    .col(big_pk_auto(Deletions::Id))
                    .col(string_len(Deletions::Entity, 32))
                    .col(big_integer(Deletions::EntityId))
                    .col(big_integer_null(Deletions::ActorId))
                    .col(text_null(Deletions::Reason))
                    .col(timestamp_with_time_zone(Deletions::DeletedAt))
                    .col(big_integer(Deletions::CascadeCount).default(0))
                    .col(timestamp_with_time_zone_null(Deletions::RestoredAt))
                    .col(big_integer_null(Deletions::RestoredBy))
                    .col(timestamp_with_time_zone_null(Deletions::PurgedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deletions_deleted_at")
                    .table(Deletions::Table)
                    .col(Deletions::DeletedAt)
                    .col(Deletions::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Email, 320))
                    .col(string_len(Users::Name, 200))
                    .col(string_len(Users::Role, 16))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .col(big_integer_null(Users::DeletedBy))
                    .col(big_integer_null(Users::DeletionId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_deletion")
                            .from(Users::Table, Users::DeletionId)
                            .to(Deletions::Table, Deletions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_email_live")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .and_where(Expr::col(Users::DeletedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_deletion_id")
                    .table(Users::Table)
                    .col(Users::DeletionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(big_pk_auto(Attachments::Id))
                    .col(big_integer(Attachments::OwnerId))
                    .col(string_len(Attachments::Filename, 255))
                    .col(string_len(Attachments::ContentType, 255))
                    .col(big_integer(Attachments::SizeBytes))
                    .col(timestamp_with_time_zone(Attachments::CreatedAt))
                    .col(timestamp_with_time_zone_null(Attachments::DeletedAt))
                    .col(big_integer_null(Attachments::DeletedBy))
                    .col(big_integer_null(Attachments::DeletionId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attachments_owner")
                            .from(Attachments::Table, Attachments::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attachments_deletion")
                            .from(Attachments::Table, Attachments::DeletionId)
                            .to(Deletions::Table, Deletions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_owner_live")
                    .table(Attachments::Table)
                    .col(Attachments::OwnerId)
                    .col(Attachments::Id)
                    .and_where(Expr::col(Attachments::DeletedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_deletion_id")
                    .table(Attachments::Table)
                    .col(Attachments::DeletionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(string_len(Settings::Key, 64).primary_key())
                    .col(text(Settings::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Reverse order of creation; indexes go with their tables.
        for table in [
            Settings::Table.into_iden(),
            Attachments::Table.into_iden(),
            Users::Table.into_iden(),
            Deletions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

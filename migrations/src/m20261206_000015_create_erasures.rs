//! `erasures`: the tombstone of each erased user. An erasure replaces a user's personal data
//! (email, name, filenames, stored bytes, archived copies, mentions in free text) with
//! placeholders; this row keeps the facts: whose account, when, by whom, why, and how much
//! went.
//!
//! `deletions` lists (as a JSON array) every deletion that hid a row of theirs: their
//! archived copies are deleted and a later purge archives none of their rows, so those
//! deletions' rows are no longer all in the archive, and `keepsake check` knows why.
//!
//! No foreign keys: a purge of the erased (deleted) user erases its row later, and the
//! tombstone must outlive it; the eraser may be purged too. One tombstone per user
//! (`ux_erasures_user`): an erasure happens once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Erasures {
    Table,
    Id,
    UserId,
    DeletionId,
    ErasedAt,
    ErasedBy,
    Reason,
    Attachments,
    Blobs,
    Bytes,
    ArchiveEntries,
    ReasonsRewritten,
    Deletions,
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
                    .table(Erasures::Table)
                    .col(big_pk_auto(Erasures::Id))
                    .col(big_integer(Erasures::UserId))
                    .col(big_integer_null(Erasures::DeletionId))
                    .col(timestamp_with_time_zone(Erasures::ErasedAt))
                    .col(big_integer(Erasures::ErasedBy))
                    .col(text(Erasures::Reason))
                    .col(big_integer(Erasures::Attachments))
                    .col(big_integer(Erasures::Blobs))
                    .col(big_integer(Erasures::Bytes))
                    .col(big_integer(Erasures::ArchiveEntries))
                    .col(big_integer(Erasures::ReasonsRewritten))
                    .col(text(Erasures::Deletions))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_erasures_user")
                    .table(Erasures::Table)
                    .col(Erasures::UserId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Erasures::Table).to_owned())
            .await
    }
}

//! Two columns on `deletions`:
//!
//! - `restore_reason`: why a deletion was undone (docs/DESIGN.md#who-when-and-why: every restore records actor,
//!   time *and* reason), beside `restored_at` and `restored_by`;
//! - `purge_started_at`: set by the first purge batch that erases any row of the deletion.
//!   From then on the deletion can no longer be restored whole, so a restore is refused;
//!   `purged_at` follows once its last row is gone. A restore and a purge of one deletion
//!   exclude each other through this column and the deletion row's lock.
//!
//! SQLite alters one column per statement, hence two `alter_table` calls.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deletions {
    Table,
    RestoreReason,
    PurgeStartedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deletions::Table)
                    .add_column(text_null(Deletions::RestoreReason))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deletions::Table)
                    .add_column(timestamp_with_time_zone_null(Deletions::PurgeStartedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deletions::Table)
                    .drop_column(Deletions::PurgeStartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deletions::Table)
                    .drop_column(Deletions::RestoreReason)
                    .to_owned(),
            )
            .await
    }
}

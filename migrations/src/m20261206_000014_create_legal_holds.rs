//! `legal_holds`: the log of legal holds on users, one row per hold (who placed it, when,
//! why) that is filled in when it is released (who, when, why). Rows are never deleted or
//! changed otherwise: the table is the record of every hold and release.
//!
//! At most one hold per user is active (unreleased): a partial unique index on `user_id`
//! over the rows `WHERE released_at IS NULL`. Both backends have partial indexes (SQLite
//! since 3.8), and both treat the `WHERE` the same way: released rows are outside the index,
//! so a user may be held, released and held again.
//!
//! `user_id`, `placed_by` and `released_by` are deliberately not foreign keys, like the
//! deletion log's actor: a held user is never purged, but once the hold is released a purge
//! may erase the user, and the log must outlive them (a foreign key would block that purge,
//! or, with `ON DELETE SET NULL`, forget whom the hold was on). `keepsake check` verifies
//! instead that no purged row was under a hold.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LegalHolds {
    Table,
    Id,
    UserId,
    Reason,
    PlacedAt,
    PlacedBy,
    ReleasedAt,
    ReleasedBy,
    ReleaseReason,
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
                    .table(LegalHolds::Table)
                    .col(big_pk_auto(LegalHolds::Id))
                    .col(big_integer(LegalHolds::UserId))
                    .col(text(LegalHolds::Reason))
                    .col(timestamp_with_time_zone(LegalHolds::PlacedAt))
                    .col(big_integer(LegalHolds::PlacedBy))
                    .col(timestamp_with_time_zone_null(LegalHolds::ReleasedAt))
                    .col(big_integer_null(LegalHolds::ReleasedBy))
                    .col(text_null(LegalHolds::ReleaseReason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_legal_holds_active")
                    .table(LegalHolds::Table)
                    .col(LegalHolds::UserId)
                    .unique()
                    .and_where(Expr::col(LegalHolds::ReleasedAt).is_null())
                    .to_owned(),
            )
            .await?;
        // A user's history (`User.legalHolds`) and `keepsake check` read by user.
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_holds_user")
                    .table(LegalHolds::Table)
                    .col(LegalHolds::UserId)
                    .col(LegalHolds::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The indexes go with the table.
        manager
            .drop_table(Table::drop().table(LegalHolds::Table).to_owned())
            .await
    }
}

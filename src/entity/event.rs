//! The `events` table: the transactional outbox. One row per change other systems learn of,
//! written by the soft-delete core in the change's own transaction; read in id order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// The read order: a reader follows `id > last seen`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `deletion.created`, `deletion.restored`, `deletion.purged` or `user.erased`.
    #[sea_orm(column_name = "type")]
    pub kind: String,
    /// The deletion the change is about.
    pub deletion_id: i64,
    /// The moment of the change (the deletion's `deleted_at`, `restored_at` or `purged_at`).
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

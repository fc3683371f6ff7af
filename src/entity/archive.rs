//! The `archive` table: JSON snapshots of purged rows.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "archive")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `user` or `attachment`.
    pub entity: String,
    pub entity_id: i64,
    /// The row as it was, as a JSON object (the entity's columns).
    pub row: String,
    pub deletion_id: Option<i64>,
    pub deleted_at: Option<DateTimeUtc>,
    pub archived_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

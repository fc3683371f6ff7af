//! The `legal_holds` table: every legal hold placed on a user (who, when, why) and its
//! release (who, when, why). Owned by `soft_delete::holds`; rows are never deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legal_holds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The user held (`users.id`; not a foreign key: the log outlives a purged user).
    pub user_id: i64,
    /// Why, as the admin who placed it put it.
    pub reason: String,
    pub placed_at: DateTimeUtc,
    /// The admin who placed it.
    pub placed_by: i64,
    /// When it was released; null while the hold is on.
    pub released_at: Option<DateTimeUtc>,
    pub released_by: Option<i64>,
    pub release_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub email: String,
    pub name: String,
    /// `member`, `support` or `admin`; see [`crate::auth::Role`].
    pub role: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by: Option<i64>,
    pub deletion_id: Option<i64>,
    /// `email` folded for search (`soft_delete::fold`), written with it; not part of the
    /// row's data, so the archive leaves it out.
    #[serde(skip)]
    pub email_folded: String,
    /// `name` folded for search, like `email_folded`.
    #[serde(skip)]
    pub name_folded: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

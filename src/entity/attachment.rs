//! The `attachments` table: a file's metadata, owned by one user, and the hash of its bytes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by: Option<i64>,
    pub deletion_id: Option<i64>,
    /// The SHA-256 (hex) of the uploaded bytes, which the object store keeps under it; null
    /// while no bytes were uploaded.
    pub sha256: Option<String>,
    /// `filename` folded for search (`soft_delete::fold`), written with it; not part of the
    /// row's data, so the archive leaves it out.
    #[serde(skip)]
    pub filename_folded: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

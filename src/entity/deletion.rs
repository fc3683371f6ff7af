//! The `deletions` table: the log of every soft delete, one row per deletion (a cascade
//! included), with who, when, why and whether it was restored or purged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deletions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `user` or `attachment`: the entity the deletion was asked for.
    pub entity: String,
    pub entity_id: i64,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub deleted_at: DateTimeUtc,
    /// Rows hidden besides the one asked for (a user's attachments).
    pub cascade_count: i64,
    pub restored_at: Option<DateTimeUtc>,
    pub restored_by: Option<i64>,
    pub purged_at: Option<DateTimeUtc>,
    /// Why it was undone, as the restorer put it.
    pub restore_reason: Option<String>,
    /// When a purge began erasing its rows: from then on it cannot be restored.
    pub purge_started_at: Option<DateTimeUtc>,
    /// `reason` folded for search (`soft_delete::fold`), written with it; null when it is.
    #[serde(skip)]
    pub reason_folded: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

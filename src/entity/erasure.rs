//! The `erasures` table: the tombstone of each erased user (who, when, by whom, why, and how
//! much went). No foreign keys: it outlives a purge of the user.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erasures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The erased user's id (their row may since have been purged).
    pub user_id: i64,
    /// The user's deletion when it was erased (what `user.erased` refers to).
    pub deletion_id: Option<i64>,
    pub erased_at: DateTimeUtc,
    /// Who erased them (an admin, or the user themself).
    pub erased_by: i64,
    /// Why, with the user's email and name replaced by `[erased]`.
    pub reason: String,
    /// Their attachments whose filename, content type and bytes were erased.
    pub attachments: i64,
    /// Distinct blobs removed from the store (bytes no other row held).
    pub blobs: i64,
    /// The bytes of those blobs.
    pub bytes: i64,
    /// Archived copies of their rows deleted.
    pub archive_entries: i64,
    /// Free-text values (log reasons and the like) that named them, rewritten.
    pub reasons_rewritten: i64,
    /// Every deletion that hid a row of theirs, as a JSON array of ids: the rows of these
    /// are not all in the archive, by design.
    pub deletions: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

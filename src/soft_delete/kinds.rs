//! What the core keeps: the soft-deletable entities ([`SoftDeletable`]) and the names the
//! deletion log gives them ([`EntityKind`]).

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryResult};

use super::decode::Columns;
use crate::entity::{attachment, user};
use crate::ids::Kind;

/// The soft-deletable entities, as the deletion log names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    User,
    Attachment,
}

impl EntityKind {
    /// The value stored in `deletions.entity`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Attachment => "attachment",
        }
    }

    /// Parses a stored `deletions.entity`.
    pub fn parse(text: &str) -> Option<EntityKind> {
        match text {
            "user" => Some(EntityKind::User),
            "attachment" => Some(EntityKind::Attachment),
            _ => None,
        }
    }
}

/// The kind of global id a row of this entity has.
impl From<EntityKind> for Kind {
    fn from(entity: EntityKind) -> Kind {
        match entity {
            EntityKind::User => Kind::User,
            EntityKind::Attachment => Kind::Attachment,
        }
    }
}

/// An entity whose rows are soft-deleted: hidden by `deleted_at`, never erased by a delete.
pub trait SoftDeletable: EntityTrait {
    /// How the deletion log names this entity.
    const KIND: EntityKind;
    /// The primary key column (keyset pagination orders by it).
    fn id_column() -> Self::Column;
    /// Set when the row is deleted.
    fn deleted_at_column() -> Self::Column;
    /// Who deleted the row.
    fn deleted_by_column() -> Self::Column;
    /// The deletion that hid the row: what `restore` clears by.
    fn deletion_id_column() -> Self::Column;
    /// A row's primary key.
    fn id_of(model: &Self::Model) -> i64;
    /// When a row was deleted (`None`: live).
    fn deleted_at_of(model: &Self::Model) -> Option<DateTimeUtc>;
    /// The deletion that hid a row (`None`: live).
    fn deletion_id_of(model: &Self::Model) -> Option<i64>;
    /// A column's place in the entity's declared order (what a `SELECT` of every column lists).
    fn position(column: Self::Column) -> u32;
    /// A row of a `SELECT` of `columns`, read by position (`decode.rs`); the columns not
    /// read hold their type's default.
    fn decode(res: &QueryResult, columns: Columns<Self>) -> Result<Self::Model, DbErr>;
    /// The rows of one key's page, sent by PostgreSQL as one row of arrays of `columns`
    /// (`decode.rs`).
    fn decode_arrays(res: &QueryResult, columns: Columns<Self>) -> Result<Vec<Self::Model>, DbErr>;
    /// The blob (SHA-256) whose bytes a row holds in the object store, if any.
    fn blob_of(_model: &Self::Model) -> Option<String> {
        None
    }
    /// When a row counts as live: not deleted. A deleted user's attachments need no check of
    /// their own here: no live attachment ever sits under a deleted user, because the user's
    /// delete cascades in the same transaction, `createAttachment` share-locks its owner, and
    /// a restore under a deleted owner is refused (`PARENT_DELETED`). A join on the owner here
    /// would cost every attachment read a scan of the live users.
    fn live_condition() -> Condition {
        Condition::all().add(Self::deleted_at_column().is_null())
    }
}

/// Implements [`SoftDeletable`] for an entity module whose table has the soft-delete columns
/// (`id`, `deleted_at`, `deleted_by`, `deletion_id`).
macro_rules! soft_deletable {
    ($module:ident, $kind:expr, $decode:path, $decode_arrays:path $(, blob = $blob:ident)?) => {
        impl SoftDeletable for $module::Entity {
            const KIND: EntityKind = $kind;
            fn id_column() -> $module::Column {
                $module::Column::Id
            }
            fn deleted_at_column() -> $module::Column {
                $module::Column::DeletedAt
            }
            fn deleted_by_column() -> $module::Column {
                $module::Column::DeletedBy
            }
            fn deletion_id_column() -> $module::Column {
                $module::Column::DeletionId
            }
            fn id_of(model: &$module::Model) -> i64 {
                model.id
            }
            fn deleted_at_of(model: &$module::Model) -> Option<DateTimeUtc> {
                model.deleted_at
            }
            fn deletion_id_of(model: &$module::Model) -> Option<i64> {
                model.deletion_id
            }
            fn position(column: $module::Column) -> u32 {
                column as u32
            }
            fn decode(res: &QueryResult, columns: Columns<Self>) -> Result<$module::Model, DbErr> {
                $decode(res, columns)
            }
            fn decode_arrays(
                res: &QueryResult,
                columns: Columns<Self>,
            ) -> Result<Vec<$module::Model>, DbErr> {
                $decode_arrays(res, columns)
            }
            $(
                fn blob_of(model: &$module::Model) -> Option<String> {
                    model.$blob.clone()
                }
            )?
        }
    };
}

soft_deletable!(
    user,
    EntityKind::User,
    super::decode::user,
    super::decode::user_arrays
);
soft_deletable!(
    attachment,
    EntityKind::Attachment,
    super::decode::attachment,
    super::decode::attachment_arrays,
    blob = sha256
);

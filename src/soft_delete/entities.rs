//! The soft-deletable entities: users and attachments, each with its soft-delete columns and
//! its decoders (`decode.rs`).

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{DbErr, QueryResult};

use super::decode;
use super::kinds::{Columns, EntityKind, SoftDeletable};
use crate::entity::{attachment, user};

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

soft_deletable!(user, EntityKind::User, decode::user, decode::user_arrays);
soft_deletable!(
    attachment,
    EntityKind::Attachment,
    decode::attachment,
    decode::attachment_arrays,
    blob = sha256
);

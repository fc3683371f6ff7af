//! Reading a soft-deletable row by position.
//!
//! SeaORM's derived decoder looks every column up by name (a hashed lookup per column per
//! row) and, for each NULL it meets, formats an error that `Option` then discards: on a page
//! of 500 live attachments that is 1,500 formatted strings for `deleted_at`, `deleted_by`
//! and `deletion_id` alone. [`Decoded`] reads each column at the position the entity
//! declares it, after checking that the statement put that column there; a column in
//! another place, or one that does not decode, is read SeaORM's way by name, so the result
//! and the errors are the same as the derived decoder's.

use sea_orm::sqlx::{self, Column as _, Postgres, Row as _, Sqlite};
use sea_orm::{DbErr, FromQueryResult, QueryResult, TryGetable};

use super::SoftDeletable;
use crate::entity::{attachment, user};

/// A model of `E` read by position; see the module's docs.
pub(super) struct Decoded<E: SoftDeletable>(pub E::Model);

impl<E: SoftDeletable> FromQueryResult for Decoded<E> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty() {
            E::decode(res).map(Decoded)
        } else {
            <E::Model as FromQueryResult>::from_query_result(res, pre).map(Decoded)
        }
    }
}

/// A column type both databases decode.
pub(super) trait Cell:
    TryGetable
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
{
}

impl<T> Cell for T where
    T: TryGetable
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
{
}

/// Column `name`, expected at position `at`. Found there, it is decoded without sqlx's
/// type-compatibility check (a third of the cost of reading a text column: a walk of every
/// type a `String` may come from): the column is the entity's own, its type fixed by the
/// migrations, and a value that does not decode is read again the checked way.
fn cell<T: Cell>(res: &QueryResult, at: usize, name: &str) -> Result<T, DbErr> {
    let fast = if let Some(row) = res.try_as_pg_row() {
        let placed = row.columns().get(at).is_some_and(|c| c.name() == name);
        placed
            .then(|| row.try_get_unchecked::<T, _>(at).ok())
            .flatten()
    } else if let Some(row) = res.try_as_sqlite_row() {
        let placed = row.columns().get(at).is_some_and(|c| c.name() == name);
        placed
            .then(|| row.try_get_unchecked::<T, _>(at).ok())
            .flatten()
    } else {
        None
    };
    match fast {
        Some(value) => Ok(value),
        None => T::try_get(res, "", name).map_err(DbErr::from),
    }
}

/// An attachment row, its columns in the entity's order.
pub(super) fn attachment(res: &QueryResult) -> Result<attachment::Model, DbErr> {
    Ok(attachment::Model {
        id: cell(res, 0, "id")?,
        owner_id: cell(res, 1, "owner_id")?,
        filename: cell(res, 2, "filename")?,
        content_type: cell(res, 3, "content_type")?,
        size_bytes: cell(res, 4, "size_bytes")?,
        created_at: cell(res, 5, "created_at")?,
        deleted_at: cell(res, 6, "deleted_at")?,
        deleted_by: cell(res, 7, "deleted_by")?,
        deletion_id: cell(res, 8, "deletion_id")?,
        sha256: cell(res, 9, "sha256")?,
    })
}

/// A user row, its columns in the entity's order.
pub(super) fn user(res: &QueryResult) -> Result<user::Model, DbErr> {
    Ok(user::Model {
        id: cell(res, 0, "id")?,
        email: cell(res, 1, "email")?,
        name: cell(res, 2, "name")?,
        role: cell(res, 3, "role")?,
        created_at: cell(res, 4, "created_at")?,
        updated_at: cell(res, 5, "updated_at")?,
        deleted_at: cell(res, 6, "deleted_at")?,
        deleted_by: cell(res, 7, "deleted_by")?,
        deletion_id: cell(res, 8, "deletion_id")?,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic as _, Iterable as _};

    use crate::entity::{attachment, user};

    /// The positions above are the entities' declared order (what a `SELECT` lists).
    #[test]
    fn positions_follow_the_entities() {
        let attachment: Vec<&str> = attachment::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(
            attachment.join(","),
            "id,owner_id,filename,content_type,size_bytes,created_at,deleted_at,deleted_by,deletion_id,sha256"
        );
        let user: Vec<&str> = user::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(
            user.join(","),
            "id,email,name,role,created_at,updated_at,deleted_at,deleted_by,deletion_id"
        );
    }
}

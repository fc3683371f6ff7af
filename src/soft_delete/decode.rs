//! Reading a soft-deletable row by position.
//!
//! SeaORM's derived decoder looks every column up by name (a hashed lookup per column per
//! row) and, for each NULL it meets, formats an error that `Option` then discards: on a page
//! of 500 live attachments that is 1,500 formatted strings for `deleted_at`, `deleted_by`
//! and `deletion_id` alone. [`Decoded`] reads each column at the position the entity
//! declares it, after checking that the statement put that column there; a column in
//! another place, or one that does not decode, is read SeaORM's way by name, so the result
//! and the errors are the same as the derived decoder's.
//!
//! A read may also take only some of an entity's columns ([`Columns`]): a page of
//! attachments whose selection asks for `id filename sizeBytes` needs four of their ten.
//! The columns it skips hold their type's default in the model; whoever reads such a model
//! checks [`Columns::has`] before trusting a field (`graphql/attachment/` does, and
//! answers an internal error rather than a default).

use sea_orm::sqlx::{self, Column as _, Postgres, Row as _, Sqlite, ValueRef as _};
use sea_orm::{DbErr, FromQueryResult, IdenStatic as _, QueryResult, TryGetable};

use super::kinds::{Columns, SoftDeletable};
use crate::entity::{attachment, user};
use crate::wire::pg_array::{BinaryElement, binary_array};

/// A model of `E` read by position; see the module's docs.
pub(super) struct Decoded<E: SoftDeletable>(pub E::Model);

impl<E: SoftDeletable> FromQueryResult for Decoded<E> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty() {
            E::decode(res, Columns::all()).map(Decoded)
        } else {
            <E::Model as FromQueryResult>::from_query_result(res, pre).map(Decoded)
        }
    }
}

/// Reads a row's columns in the entity's order, skipping the ones the read did not take
/// (their fields get their type's default).
struct Reader<'r, E> {
    res: &'r QueryResult,
    at: usize,
    columns: Columns<E>,
}

impl<'r, E: SoftDeletable> Reader<'r, E> {
    fn new(res: &'r QueryResult, columns: Columns<E>) -> Self {
        Reader {
            res,
            at: 0,
            columns,
        }
    }

    fn get<T: Cell + Default>(&mut self, column: E::Column) -> Result<T, DbErr> {
        if !self.columns.has(column) {
            return Ok(T::default());
        }
        let value = cell(self.res, self.at, column.as_str());
        self.at += 1;
        value
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

/// One key's page sent as one row of arrays, one array per column read, all from one
/// aggregate (so element `i` of each is row `i`); a key without rows sends NULL arrays.
struct Arrays<'r, E> {
    row: &'r sqlx::postgres::PgRow,
    at: usize,
    columns: Columns<E>,
    /// How many rows the arrays read so far hold.
    rows: Option<usize>,
}

/// An array element type PostgreSQL decodes: straight from the array's binary form
/// ([`binary_array`]), or, for forms that reader leaves alone, through sqlx.
trait Element:
    BinaryElement
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + sqlx::postgres::PgHasArrayType
    + Default
    + Sized
{
}

impl<T> Element for T where
    T: BinaryElement
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
        + sqlx::postgres::PgHasArrayType
        + Default
        + Sized
{
}

/// The cells of one column, row by row: a column not read gives its type's default.
struct Cells<T>(Option<std::vec::IntoIter<T>>);

impl<T: Default> Cells<T> {
    fn next(&mut self) -> T {
        self.0.as_mut().and_then(Iterator::next).unwrap_or_default()
    }
}

impl<'r, E: SoftDeletable> Arrays<'r, E> {
    fn new(res: &'r QueryResult, columns: Columns<E>) -> Result<Self, DbErr> {
        let row = res
            .try_as_pg_row()
            .ok_or_else(|| DbErr::Type("arrays of rows are read from PostgreSQL only".into()))?;
        Ok(Arrays {
            row,
            at: 0,
            columns,
            rows: None,
        })
    }

    fn get<T: Element>(&mut self, column: E::Column) -> Result<Cells<T>, DbErr> {
        if !self.columns.has(column) {
            return Ok(Cells(None));
        }
        let name = column.as_str();
        let at = self.at;
        self.at += 1;
        let placed = self.row.columns().get(at).is_some_and(|c| c.name() == name);
        let fast = if placed {
            let value = self
                .row
                .try_get_raw(at)
                .map_err(|e| DbErr::Type(e.to_string()))?;
            if value.is_null() {
                Some(Vec::new())
            } else if value.format() == sqlx::postgres::PgValueFormat::Binary {
                let bytes = value.as_bytes().map_err(|e| DbErr::Type(e.to_string()))?;
                binary_array::<T>(bytes)
                    .map_err(|e| DbErr::Type(format!("column `{name}`: {e}")))?
            } else {
                None
            }
        } else {
            None
        };
        let cells = match fast {
            Some(cells) => cells,
            None => {
                let cells: Option<Vec<T>> = self
                    .row
                    .try_get(name)
                    .map_err(|e| DbErr::Type(format!("column `{name}`: {e}")))?;
                cells.unwrap_or_default()
            }
        };
        match self.rows {
            Some(rows) if rows != cells.len() => {
                return Err(DbErr::Type(format!(
                    "column `{name}` holds {} rows, the columns before it {rows}",
                    cells.len()
                )));
            }
            _ => self.rows = Some(cells.len()),
        }
        Ok(Cells(Some(cells.into_iter())))
    }
}

/// The row decoder (a model of the columns a read took, in the entity's order) and the
/// array decoder ([`Arrays`]: the models of one key's page) of an entity, from one list of
/// its fields and columns.
macro_rules! decoders {
    ($entity:ident, $rows:ident, $arrays:ident, { $($field:ident: $column:ident),* $(,)? }) => {
        #[doc = concat!("A row of `", stringify!($entity), "` of `columns`, in the entity's order.")]
        pub(super) fn $rows(
            res: &QueryResult,
            columns: Columns<$entity::Entity>,
        ) -> Result<$entity::Model, DbErr> {
            let mut r = Reader::new(res, columns);
            Ok($entity::Model {
                $($field: r.get($entity::Column::$column)?,)*
            })
        }

        #[doc = concat!("One key's page of `", stringify!($entity), "` sent as arrays of `columns`: its rows.")]
        pub(super) fn $arrays(
            res: &QueryResult,
            columns: Columns<$entity::Entity>,
        ) -> Result<Vec<$entity::Model>, DbErr> {
            let mut r = Arrays::new(res, columns)?;
            $(let mut $field = r.get($entity::Column::$column)?;)*
            let rows = r.rows.unwrap_or(0);
            let mut page = Vec::with_capacity(rows);
            for _ in 0..rows {
                page.push($entity::Model {
                    $($field: $field.next(),)*
                });
            }
            Ok(page)
        }
    };
}

decoders!(attachment, attachment, attachment_arrays, {
    id: Id,
    owner_id: OwnerId,
    filename: Filename,
    content_type: ContentType,
    size_bytes: SizeBytes,
    created_at: CreatedAt,
    deleted_at: DeletedAt,
    deleted_by: DeletedBy,
    deletion_id: DeletionId,
    sha256: Sha256,
    filename_folded: FilenameFolded,
});

decoders!(user, user, user_arrays, {
    id: Id,
    email: Email,
    name: Name,
    role: Role,
    created_at: CreatedAt,
    updated_at: UpdatedAt,
    deleted_at: DeletedAt,
    deleted_by: DeletedBy,
    deletion_id: DeletionId,
    email_folded: EmailFolded,
    name_folded: NameFolded,
});

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
            "id,owner_id,filename,content_type,size_bytes,created_at,deleted_at,deleted_by,deletion_id,sha256,filename_folded"
        );
        let user: Vec<&str> = user::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(
            user.join(","),
            "id,email,name,role,created_at,updated_at,deleted_at,deleted_by,deletion_id,email_folded,name_folded"
        );
    }

    /// A column's bit is its place in the entity's order, so a set of columns reads them in
    /// the order a `SELECT` of them lists them.
    #[test]
    fn column_sets_follow_the_entities() {
        use super::{Columns, SoftDeletable as _};
        for (i, c) in attachment::Column::iter().enumerate() {
            assert_eq!(
                attachment::Entity::position(c) as usize,
                i,
                "{}",
                c.as_str()
            );
        }
        for (i, c) in user::Column::iter().enumerate() {
            assert_eq!(user::Entity::position(c) as usize, i, "{}", c.as_str());
        }
        // One bit a column in a `u32`.
        assert!(attachment::Column::iter().count() <= 32);
        assert!(user::Column::iter().count() <= 32);
        use attachment::Column as C;
        let some = Columns::<attachment::Entity>::id()
            .with(C::SizeBytes)
            .with(C::OwnerId);
        let listed: Vec<&str> = some.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, ["id", "owner_id", "size_bytes"]);
        assert!(some.has(C::SizeBytes) && !some.has(C::Filename) && !some.is_all());
        let every =
            attachment::Column::iter().fold(Columns::<attachment::Entity>::id(), Columns::with);
        assert!(every.is_all());
        assert_eq!(every, Columns::all());
        assert_eq!(some.union(Columns::all()), Columns::all());
    }
}

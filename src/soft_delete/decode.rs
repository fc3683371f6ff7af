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
//! checks [`Columns::has`] before trusting a field (`graphql/attachment.rs` does, and
//! answers an internal error rather than a default).

use std::marker::PhantomData;

use sea_orm::sqlx::{self, Column as _, Postgres, Row as _, Sqlite, ValueRef as _};
use sea_orm::{DbErr, FromQueryResult, IdenStatic as _, Iterable as _, QueryResult, TryGetable};

use super::SoftDeletable;
use crate::entity::{attachment, user};

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

/// Which of `E`'s columns a read takes: a set over the entity's declared columns.
pub struct Columns<E> {
    bits: u32,
    entity: PhantomData<fn() -> E>,
}

impl<E: SoftDeletable> Columns<E> {
    fn of_bits(bits: u32) -> Self {
        Columns {
            bits,
            entity: PhantomData,
        }
    }

    /// A column's bit. An entity has at most 32 columns (a unit test checks ours).
    fn bit(column: E::Column) -> u32 {
        1u32.checked_shl(E::position(column)).unwrap_or(0)
    }

    /// Every column.
    pub fn all() -> Self {
        Self::of_bits(E::Column::iter().fold(0, |bits, c| bits | Self::bit(c)))
    }

    /// The row's id alone.
    pub fn id() -> Self {
        Self::of_bits(Self::bit(E::id_column()))
    }

    /// These columns and the ones already in the set.
    pub fn with(self, column: E::Column) -> Self {
        Self::of_bits(self.bits | Self::bit(column))
    }

    /// The columns of both sets.
    pub fn union(self, other: Self) -> Self {
        Self::of_bits(self.bits | other.bits)
    }

    /// Whether the read takes `column`.
    pub fn has(self, column: E::Column) -> bool {
        self.bits & Self::bit(column) != 0
    }

    /// Whether the read takes every column.
    pub fn is_all(self) -> bool {
        self == Self::all()
    }

    /// The columns taken, in the entity's order.
    pub(super) fn iter(self) -> impl Iterator<Item = E::Column> {
        E::Column::iter().filter(move |c| self.has(*c))
    }
}

impl<E> Clone for Columns<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Columns<E> {}

impl<E> PartialEq for Columns<E> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<E> Eq for Columns<E> {}

impl<E> std::hash::Hash for Columns<E> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bits.hash(state);
    }
}

impl<E> std::fmt::Debug for Columns<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Columns({:#b})", self.bits)
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

/// An array element type PostgreSQL decodes: through sqlx, or straight from the array's
/// binary form ([`binary_array`]).
trait Element:
    for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
    + sqlx::postgres::PgHasArrayType
    + Default
    + Sized
{
    /// The element types (OIDs) [`Element::binary`] reads.
    const OIDS: &'static [u32];
    /// The element out of its binary form (`None`: SQL NULL), as sqlx would decode it.
    fn binary(bytes: Option<&[u8]>) -> Result<Self, String>;
}

/// PostgreSQL's `int8`.
const INT8: u32 = 20;
/// PostgreSQL's `text` and `varchar`.
const TEXT: [u32; 2] = [25, 1043];
/// PostgreSQL's `timestamptz`.
const TIMESTAMPTZ: u32 = 1184;
/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn not_null(bytes: Option<&[u8]>) -> Result<&[u8], String> {
    bytes.ok_or_else(|| "unexpected NULL".to_owned())
}

impl Element for i64 {
    const OIDS: &'static [u32] = &[INT8];
    fn binary(bytes: Option<&[u8]>) -> Result<i64, String> {
        let bytes = not_null(bytes)?;
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| "an int8 of other than 8 bytes")?;
        Ok(i64::from_be_bytes(bytes))
    }
}

impl Element for String {
    const OIDS: &'static [u32] = &TEXT;
    fn binary(bytes: Option<&[u8]>) -> Result<String, String> {
        let bytes = not_null(bytes)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| e.to_string())
    }
}

impl Element for sea_orm::prelude::DateTimeUtc {
    const OIDS: &'static [u32] = &[TIMESTAMPTZ];
    fn binary(bytes: Option<&[u8]>) -> Result<Self, String> {
        let micros = i64::binary(bytes)?;
        micros
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(chrono::DateTime::from_timestamp_micros)
            .ok_or_else(|| format!("timestamp out of range: {micros} µs"))
    }
}

impl<T: Element> Element for Option<T>
where
    Option<T>: sqlx::postgres::PgHasArrayType,
{
    const OIDS: &'static [u32] = T::OIDS;
    fn binary(bytes: Option<&[u8]>) -> Result<Option<T>, String> {
        match bytes {
            None => Ok(None),
            Some(bytes) => T::binary(Some(bytes)).map(Some),
        }
    }
}

/// A one-dimensional PostgreSQL array in binary form, read without sqlx's per-element
/// machinery: `Ok(None)` when it is not one this reads (another element type, more
/// dimensions), for sqlx to read; an error when it is malformed.
fn binary_array<T: Element>(bytes: &[u8]) -> Result<Option<Vec<T>>, String> {
    fn take<const N: usize>(r: &mut &[u8]) -> Result<[u8; N], String> {
        let (head, rest) = r
            .split_first_chunk::<N>()
            .ok_or_else(|| "array cut short".to_owned())?;
        *r = rest;
        Ok(*head)
    }
    let mut r = bytes;
    let dimensions = i32::from_be_bytes(take(&mut r)?);
    let _has_nulls = take::<4>(&mut r)?;
    let oid = u32::from_be_bytes(take(&mut r)?);
    if !T::OIDS.contains(&oid) {
        return Ok(None);
    }
    match dimensions {
        0 if r.is_empty() => return Ok(Some(Vec::new())),
        0 => return Err("bytes after an empty array".into()),
        1 => {}
        _ => return Ok(None),
    }
    let len = i32::from_be_bytes(take(&mut r)?);
    let _lower_bound = take::<4>(&mut r)?;
    let len = usize::try_from(len).map_err(|_| "negative array length")?;
    // Each element takes at least its 4-byte length.
    let mut out = Vec::with_capacity(len.min(r.len() / 4));
    for _ in 0..len {
        let size = i32::from_be_bytes(take(&mut r)?);
        let cell = match usize::try_from(size) {
            Err(_) if size == -1 => None,
            Err(_) => return Err(format!("an element of length {size}")),
            Ok(size) => {
                let (cell, rest) = r.split_at_checked(size).ok_or("array cut short")?;
                r = rest;
                Some(cell)
            }
        };
        out.push(T::binary(cell)?);
    }
    if !r.is_empty() {
        return Err("bytes after the array's last element".into());
    }
    Ok(Some(out))
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

    /// A one-dimensional array in PostgreSQL's binary form.
    fn array(oid: u32, cells: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&i32::from(cells.iter().any(Option::is_none)).to_be_bytes());
        out.extend_from_slice(&oid.to_be_bytes());
        out.extend_from_slice(&(cells.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for cell in cells {
            match cell {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    /// Arrays read from their binary form give what sqlx gives, and anything else is
    /// handed back to sqlx or refused, never misread.
    #[test]
    fn binary_arrays_read_as_sqlx_would() {
        use super::{INT8, TIMESTAMPTZ, binary_array};
        use sea_orm::prelude::DateTimeUtc;

        let ints = array(
            INT8,
            &[Some(&1i64.to_be_bytes()), Some(&(-2i64).to_be_bytes())],
        );
        assert_eq!(binary_array::<i64>(&ints), Ok(Some(vec![1, -2])));
        // Another element type is not misread: sqlx reads it (and checks it).
        assert_eq!(binary_array::<String>(&ints), Ok(None));
        let int4 = array(23, &[Some(&1i32.to_be_bytes())]);
        assert_eq!(binary_array::<i64>(&int4), Ok(None));

        let texts = array(1043, &[Some("a".as_bytes()), None, Some("é".as_bytes())]);
        assert_eq!(
            binary_array::<Option<String>>(&texts),
            Ok(Some(vec![Some("a".into()), None, Some("é".into())]))
        );
        // A NULL where the column holds none is an error, as it is for sqlx.
        assert!(binary_array::<String>(&texts).is_err());
        let bad_utf8 = array(25, &[Some(&[0xff, 0xfe][..])]);
        assert!(binary_array::<String>(&bad_utf8).is_err());

        // 2000-01-01 plus one day and one microsecond.
        let micros = 86_400_000_001i64;
        let stamps = array(TIMESTAMPTZ, &[Some(&micros.to_be_bytes())]);
        let expected = chrono::DateTime::parse_from_rfc3339("2000-01-02T00:00:00.000001Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            binary_array::<DateTimeUtc>(&stamps),
            Ok(Some(vec![expected]))
        );
        let infinity = array(TIMESTAMPTZ, &[Some(&i64::MAX.to_be_bytes())]);
        assert!(binary_array::<DateTimeUtc>(&infinity).is_err());

        // An empty array has no dimensions.
        let mut empty = Vec::new();
        for word in [0i32, 0, INT8 as i32] {
            empty.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(binary_array::<i64>(&empty), Ok(Some(vec![])));

        // Cut short, padded, or with a cell of the wrong size: refused.
        assert!(binary_array::<i64>(&ints[..ints.len() - 1]).is_err());
        let mut padded = ints.clone();
        padded.push(0);
        assert!(binary_array::<i64>(&padded).is_err());
        let short = array(INT8, &[Some(&[0, 1][..])]);
        assert!(binary_array::<i64>(&short).is_err());
        assert!(binary_array::<i64>(&[0, 0, 0]).is_err());
        let mut negative = array(INT8, &[]);
        negative[12..16].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(binary_array::<i64>(&negative).is_err());
        let mut odd_null = array(INT8, &[None]);
        odd_null[20..24].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(binary_array::<Option<i64>>(&odd_null).is_err());
        let mut padded_empty = empty.clone();
        padded_empty.push(0);
        assert!(binary_array::<i64>(&padded_empty).is_err());
        let nulls = array(TIMESTAMPTZ, &[None, Some(&0i64.to_be_bytes())]);
        let epoch = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            binary_array::<Option<DateTimeUtc>>(&nulls),
            Ok(Some(vec![None, Some(epoch)]))
        );
    }
}

//! What the core keeps: what a soft-deletable entity is ([`SoftDeletable`]), the names the
//! deletion log gives them ([`EntityKind`]) and a set of an entity's columns ([`Columns`]).
//! Which entities are soft-deletable is `entities.rs`.

use std::marker::PhantomData;

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, Iterable as _, QueryResult};

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

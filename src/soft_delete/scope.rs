//! Which rows a read may see ([`Scope`], and the [`SeeDeleted`] proof a wide scope needs) and
//! the one way to read soft-deletable rows ([`Scoped`]), with keyset paging.

use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use super::decode::Decoded;
use super::{Handle, SoftDeletable, exec};

/// The models out of rows read by position.
fn undecode<E: SoftDeletable>(rows: Vec<Decoded<E>>) -> Vec<E::Model> {
    rows.into_iter().map(|d| d.0).collect()
}

/// Proof that the viewer may see deleted rows (support or admin): a wide [`Scope`] holds one,
/// so it cannot be built without one. Only [`SeeDeleted::for_role`] makes it, and the build
/// allows that call in one place only, `auth::Viewer::see_deleted`, with the role read from
/// the viewer's live row (clippy.toml's `disallowed-methods`; `.ci/ban-bites.sh` proves it).
#[derive(Clone, Copy, Debug)]
pub struct SeeDeleted {
    _private: (),
}

impl SeeDeleted {
    /// The proof for a role that may see deleted rows; `None` for a member.
    pub fn for_role(role: crate::role::Role) -> Option<SeeDeleted> {
        use crate::role::Role;
        matches!(role, Role::Support | Role::Admin).then_some(SeeDeleted { _private: () })
    }
}

/// Proof that the viewer may see the rows one deletion hides, and no others: it is their own
/// deletion of their own rows, in force and inside the undo window, so they could restore it
/// and see the rows anyway. Only [`SeeHidden::for_undoable`] makes it, and the build allows
/// that call in one place only, `service::undo`, after the checks a restore makes
/// (clippy.toml; `.ci/ban-bites.sh` proves it). [`Scoped::hidden_by`] reads with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeeHidden {
    deletion: i64,
}

impl SeeHidden {
    /// The proof for deletion `deletion`, once a restore's checks have passed for the viewer.
    pub fn for_undoable(deletion: i64) -> SeeHidden {
        SeeHidden { deletion }
    }

    /// The deletion whose rows it shows.
    pub fn deletion(self) -> i64 {
        self.deletion
    }
}

/// Which rows a read may see. The wide scopes hold a [`SeeDeleted`], which only the auth
/// layer can make, and only for a viewer whose role allows it: the compiler checks the role
/// gate.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Rows that are not deleted: what everyone sees by default.
    Live,
    /// Live and deleted rows alike (`includeDeleted: true`).
    WithDeleted(SeeDeleted),
    /// Deleted rows only (`onlyDeleted: true`).
    OnlyDeleted(SeeDeleted),
}

/// Scopes compare by kind: the proof inside carries no data. Batched loads key by scope.
impl PartialEq for Scope {
    fn eq(&self, other: &Scope) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl Eq for Scope {}

impl std::hash::Hash for Scope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
    }
}

impl Scope {
    /// Whether this scope shows deleted rows.
    pub fn shows_deleted(self) -> bool {
        !matches!(self, Scope::Live)
    }

    fn condition<E: SoftDeletable>(self) -> Condition {
        match self {
            Scope::Live => E::live_condition(),
            Scope::WithDeleted(_) => Condition::all(),
            Scope::OnlyDeleted(_) => E::live_condition().not(),
        }
    }
}

/// A read of a soft-deletable entity that already carries its scope's condition.
#[derive(Clone, Debug)]
pub struct Scoped<E: SoftDeletable> {
    pub(super) select: Select<E>,
}

/// Which rows of an ordered read one page takes: the first `size` past a cursor (or from
/// the start), or, paging backward, the last `size` before one (or up to the end). Either
/// way the page's rows come in the read's own order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// How many rows at most.
    pub size: u64,
    /// The row id the page starts after (forward) or ends before (backward).
    pub cursor: Option<i64>,
    /// Whether the page is the last `size` rows before `cursor` rather than the first after.
    pub backward: bool,
}

impl Window {
    /// The first `size` rows after `after` (or from the start).
    pub fn forward(size: u64, after: Option<i64>) -> Window {
        Window {
            size,
            cursor: after,
            backward: false,
        }
    }
}

/// One page of a keyset-paginated read.
#[derive(Debug)]
pub struct Page<M> {
    /// The rows of the page, in the read's order.
    pub rows: Vec<M>,
    /// Whether rows remain beyond the page in the direction it was read: after its last row
    /// (forward), before its first (backward).
    pub has_more: bool,
}

impl<E: SoftDeletable> Scoped<E>
where
    E::Model: Sync,
{
    /// Live rows only: the default scope.
    pub fn live() -> Self {
        Self::new(Scope::Live)
    }

    /// The rows `scope` may see.
    pub fn new(scope: Scope) -> Self {
        #[allow(clippy::disallowed_methods)] // the one place a soft-deletable read begins
        let select = E::find().filter(scope.condition::<E>());
        Scoped { select }
    }

    /// The rows one deletion hides now, and nothing else (deleted rows, seen with a proof
    /// that the viewer may undo that deletion).
    pub fn hidden_by(proof: SeeHidden) -> Self {
        #[allow(clippy::disallowed_methods)] // narrower than any scope: one deletion's rows
        let select = E::find()
            .filter(E::live_condition().not())
            .filter(E::deletion_id_column().eq(proof.deletion));
        Scoped { select }
    }

    /// The rows any of several deletions hide now, each deletion's with its own proof: the
    /// batched form of [`Scoped::hidden_by`] (a list of undoable deletions, each with its
    /// rows).
    pub fn hidden_by_any(proofs: impl IntoIterator<Item = SeeHidden>) -> Self {
        let deletions: Vec<i64> = proofs.into_iter().map(SeeHidden::deletion).collect();
        #[allow(clippy::disallowed_methods)] // narrower than any scope: these deletions' rows
        let select = E::find()
            .filter(E::live_condition().not())
            .filter(E::deletion_id_column().is_in(deletions));
        Scoped { select }
    }

    /// Narrows the read; ANDed with the scope, so it cannot widen it.
    pub fn filter(mut self, condition: impl IntoCondition) -> Self {
        self.select = self.select.filter(condition);
        self
    }

    /// Locks the rows read until the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's
    /// write transactions hold the whole database already).
    pub fn for_update(mut self) -> Self {
        self.select = self.select.lock_exclusive();
        self
    }

    /// Share-locks the rows read until the transaction ends (`FOR SHARE` on PostgreSQL): a
    /// concurrent delete of them waits, and sees what this transaction added.
    pub fn for_share(mut self) -> Self {
        self.select = self.select.lock_shared();
        self
    }

    /// The visible row with this id, if any.
    pub async fn by_id(self, h: &impl Handle, id: i64) -> Result<Option<E::Model>, DbErr> {
        self.filter(E::id_column().eq(id)).one(h).await
    }

    /// The first visible row.
    pub async fn one(self, h: &impl Handle) -> Result<Option<E::Model>, DbErr> {
        let row = self.select.into_model::<Decoded<E>>().one(&exec(h)).await?;
        Ok(row.map(|d| d.0))
    }

    /// Every visible row, by ascending id.
    pub async fn all(self, h: &impl Handle) -> Result<Vec<E::Model>, DbErr> {
        let select = self.select.order_by_asc(E::id_column());
        Ok(undecode(
            select.into_model::<Decoded<E>>().all(&exec(h)).await?,
        ))
    }

    /// How many rows are visible.
    pub async fn count(self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select.count(&exec(h)).await
    }

    /// The visible rows `window` takes, by ascending id.
    pub async fn page(self, h: &impl Handle, window: Window) -> Result<Page<E::Model>, DbErr> {
        let page: Page<Decoded<E>> =
            keyset_page(h, self.select, E::id_column(), Order::Asc, window).await?;
        Ok(Page {
            rows: undecode(page.rows),
            has_more: page.has_more,
        })
    }
}

/// Which way a keyset page walks its ids.
#[derive(Clone, Copy, Debug)]
pub(super) enum Order {
    Asc,
    Desc,
}

/// The rows of `select` that `window` takes in `order` (by id), fetching one more to learn
/// whether more lie beyond. Backward, the read runs the other way from the cursor and the
/// page is turned back into `order`. Every connection pages through this.
pub(super) async fn keyset_page<E: EntityTrait, M: FromQueryResult + Send + Sync>(
    h: &impl Handle,
    select: Select<E>,
    id: E::Column,
    order: Order,
    window: Window,
) -> Result<Page<M>, DbErr> {
    let read = match (order, window.backward) {
        (Order::Asc, false) | (Order::Desc, true) => Order::Asc,
        (Order::Desc, false) | (Order::Asc, true) => Order::Desc,
    };
    let select = match (read, window.cursor) {
        (Order::Asc, Some(cursor)) => select.filter(id.gt(cursor)),
        (Order::Desc, Some(cursor)) => select.filter(id.lt(cursor)),
        (_, None) => select,
    };
    let select = match read {
        Order::Asc => select.order_by_asc(id),
        Order::Desc => select.order_by_desc(id),
    };
    let rows = select
        .limit(window.size.saturating_add(1))
        .into_model::<M>()
        .all(&exec(h))
        .await?;
    let mut page = Page::of(rows, window.size);
    if window.backward {
        page.rows.reverse();
    }
    Ok(page)
}

impl<M> Page<M> {
    /// The page out of up to `size + 1` rows fetched in the read's direction.
    fn of(mut rows: Vec<M>, size: u64) -> Page<M> {
        let has_more = rows.len() as u64 > size;
        rows.truncate(size as usize);
        Page { rows, has_more }
    }
}

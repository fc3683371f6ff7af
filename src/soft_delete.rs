//! The soft-delete core: the one module that holds a database connection.
//!
//! SeaORM has no global filter and no hook to add one, so Keepsake hides the *connection*
//! instead of the entity. [`Db`] and [`Tx`] wrap SeaORM's connection and transaction and never
//! hand them out; code elsewhere passes them around as a [`Handle`] and can only:
//!
//! - read soft-deletable entities through [`Scoped`], whose `Select` carries the scope's
//!   `deleted_at` condition from the moment it is made (filters added later are ANDed to it,
//!   so they can narrow the scope but never widen it);
//! - insert rows and update *live* rows ([`insert`], [`update_live`]);
//! - read and write the small `settings` table.
//!
//! Nothing outside this module writes a `deleted_at` condition.

use std::time::Duration;

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectOptions, Database,
    DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    SqliteTransactionMode, TransactionOptions, TransactionTrait, sea_query::IntoCondition,
};

use crate::entity::{attachment, setting, user};

mod sealed {
    /// Only this module can make one, so only this module can open a [`super::Handle`].
    pub struct Key(pub(super) ());
}

/// Something queries can run on: the pool ([`Db`]) or an open transaction ([`Tx`]).
///
/// The connection inside cannot be reached from outside this module: opening it needs a key
/// only this module can make.
pub trait Handle: Sync {
    #[doc(hidden)]
    fn executor(&self, key: sealed::Key) -> DatabaseExecutor<'_>;
}

fn exec(h: &impl Handle) -> DatabaseExecutor<'_> {
    h.executor(sealed::Key(()))
}

/// The database pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
}

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    txn: DatabaseTransaction,
}

impl Handle for Db {
    fn executor(&self, _: sealed::Key) -> DatabaseExecutor<'_> {
        DatabaseExecutor::Connection(&self.conn)
    }
}

impl Handle for Tx {
    fn executor(&self, _: sealed::Key) -> DatabaseExecutor<'_> {
        DatabaseExecutor::Transaction(&self.txn)
    }
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). `on_statement` is told of every SQL
    /// statement the pool runs (the `keepsake_db_statements_total` metric).
    pub async fn connect(
        url: &str,
        on_statement: impl Fn() + Send + Sync + 'static,
    ) -> anyhow::Result<Db> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // WAL lets readers run beside the one writer; writers wait rather than fail.
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
            });
        let mut conn = Database::connect(opts).await?;
        conn.set_metric_callback(move |_| on_statement());
        Ok(Db { conn })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None)
            .await
            .context("applying migrations")
    }

    /// Reverts every migration (tests prove each `down` works).
    pub async fn migrate_down_all(&self) -> anyhow::Result<()> {
        Migrator::down(&self.conn, None)
            .await
            .context("reverting migrations")
    }

    /// `true` when the database answers.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Starts a transaction for a change that must apply whole or not at all. On SQLite it
    /// takes the write lock up front (`BEGIN IMMEDIATE`), so two writers queue instead of one
    /// failing half-way when it tries to upgrade a read lock.
    pub async fn begin(&self) -> Result<Tx, DbErr> {
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Tx { txn })
    }
}

impl Tx {
    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

/// An entity whose rows are soft-deleted: hidden by `deleted_at`, never erased by a delete.
pub trait SoftDeletable: EntityTrait {
    /// The primary key column (keyset pagination orders by it).
    fn id_column() -> Self::Column;
    /// The column that marks a row deleted when it is not null.
    fn deleted_at_column() -> Self::Column;
    /// A row's primary key.
    fn id_of(model: &Self::Model) -> i64;
}

impl SoftDeletable for user::Entity {
    fn id_column() -> user::Column {
        user::Column::Id
    }
    fn deleted_at_column() -> user::Column {
        user::Column::DeletedAt
    }
    fn id_of(model: &user::Model) -> i64 {
        model.id
    }
}

impl SoftDeletable for attachment::Entity {
    fn id_column() -> attachment::Column {
        attachment::Column::Id
    }
    fn deleted_at_column() -> attachment::Column {
        attachment::Column::DeletedAt
    }
    fn id_of(model: &attachment::Model) -> i64 {
        model.id
    }
}

/// Which rows a read may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Rows that are not deleted: what everyone sees by default.
    Live,
}

impl Scope {
    fn condition<E: SoftDeletable>(self) -> sea_orm::Condition {
        match self {
            Scope::Live => E::deleted_at_column().is_null().into_condition(),
        }
    }
}

/// A read of a soft-deletable entity that already carries its scope's condition.
#[derive(Clone, Debug)]
pub struct Scoped<E: SoftDeletable> {
    select: Select<E>,
}

/// One page of a keyset-paginated read.
#[derive(Debug)]
pub struct Page<M> {
    /// The rows of the page, in ascending id order.
    pub rows: Vec<M>,
    /// Whether rows remain after the last one.
    pub has_next_page: bool,
}

impl<E: SoftDeletable> Scoped<E>
where
    E::Model: Sync,
{
    /// Live rows only: the default scope.
    pub fn live() -> Self {
        Self::new(Scope::Live)
    }

    fn new(scope: Scope) -> Self {
        #[allow(clippy::disallowed_methods)] // the one place a soft-deletable read begins
        let select = E::find().filter(scope.condition::<E>());
        Scoped { select }
    }

    /// Narrows the read; ANDed with the scope, so it cannot widen it.
    pub fn filter(mut self, condition: impl IntoCondition) -> Self {
        self.select = self.select.filter(condition);
        self
    }

    /// The visible row with this id, if any.
    pub async fn by_id(self, h: &impl Handle, id: i64) -> Result<Option<E::Model>, DbErr> {
        self.filter(E::id_column().eq(id)).one(h).await
    }

    /// The first visible row.
    pub async fn one(self, h: &impl Handle) -> Result<Option<E::Model>, DbErr> {
        self.select.one(&exec(h)).await
    }

    /// Every visible row, by ascending id.
    pub async fn all(self, h: &impl Handle) -> Result<Vec<E::Model>, DbErr> {
        self.select.order_by_asc(E::id_column()).all(&exec(h)).await
    }

    /// How many rows are visible.
    pub async fn count(self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select.count(&exec(h)).await
    }

    /// Up to `first` visible rows with ids greater than `after`, by ascending id.
    pub async fn page(
        self,
        h: &impl Handle,
        first: u64,
        after: Option<i64>,
    ) -> Result<Page<E::Model>, DbErr> {
        let mut select = self.select;
        if let Some(after) = after {
            select = select.filter(E::id_column().gt(after));
        }
        let mut rows = select
            .order_by_asc(E::id_column())
            .limit(first + 1)
            .all(&exec(h))
            .await?;
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok(Page {
            rows,
            has_next_page,
        })
    }
}

/// Inserts a row and returns it as stored.
pub async fn insert<A>(h: &impl Handle, row: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    row.insert(&exec(h)).await
}

/// Updates a *live* row and returns it as stored, or `None` when the row is deleted or gone
/// (a concurrent delete wins; the update never touches a deleted row).
pub async fn update_live<A>(
    h: &impl Handle,
    row: A,
) -> Result<Option<<A::Entity as EntityTrait>::Model>, DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    A::Entity: SoftDeletable,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let update = A::Entity::update(row)
        .validate()?
        .filter(<A::Entity as SoftDeletable>::deleted_at_column().is_null());
    match update.exec(&exec(h)).await {
        Ok(model) => Ok(Some(model)),
        Err(DbErr::RecordNotUpdated) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether a live user has this role.
pub async fn live_user_with_role_exists(h: &impl Handle, role: &str) -> Result<bool, DbErr> {
    Ok(Scoped::<user::Entity>::live()
        .filter(user::Column::Role.eq(role))
        .one(h)
        .await?
        .is_some())
}

/// The value stored under `key` in `settings`.
pub async fn setting(h: &impl Handle, key: &str) -> Result<Option<String>, DbErr> {
    Ok(setting::Entity::find_by_id(key.to_owned())
        .one(&exec(h))
        .await?
        .map(|s| s.value))
}

/// Stores `value` under `key` unless a value is there already, and returns the value that is
/// there afterwards: two servers starting at once agree on one.
pub async fn setting_or_insert(h: &impl Handle, key: &str, value: &str) -> Result<String, DbErr> {
    let row = setting::ActiveModel {
        key: sea_orm::Set(key.to_owned()),
        value: sea_orm::Set(value.to_owned()),
    };
    let insert = setting::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&exec(h))
        .await;
    match insert {
        Ok(_) | Err(DbErr::RecordNotInserted) => {}
        Err(err) => return Err(err),
    }
    setting(h, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("setting {key}")))
}

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
use sea_orm::ConnectionTrait as _;
use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoCondition, Query};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
#[allow(clippy::disallowed_types)] // the one module that holds the connection
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectOptions, Database,
    DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::auth::SeeDeleted;
use crate::entity::{archive, attachment, deletion, setting, user};

pub mod check;

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
    #[allow(clippy::disallowed_types)] // the pool itself, never handed out
    conn: DatabaseConnection,
}

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    #[allow(clippy::disallowed_types)] // the transaction itself, never handed out
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
        // The pool retries a refused connection until its acquire timeout; one probe first
        // turns the usual first mistakes into one prompt line.
        if is_postgres_url(url) {
            probe_postgres(url).await?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // WAL lets readers run beside the one writer; writers wait rather than fail.
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
            });
        #[allow(clippy::disallowed_methods)] // the pool itself: the one connection
        let mut conn = Database::connect(opts).await?;
        conn.set_metric_callback(move |_| on_statement());
        Ok(Db { conn })
    }

    /// Creates the PostgreSQL database `url` names when it does not exist, connecting to the
    /// server's `postgres` database to do so; returns whether it created it. SQLite files are
    /// created by `?mode=rwc`, so for them this does nothing.
    pub async fn create_database_if_missing(url: &str) -> anyhow::Result<bool> {
        use sea_orm::sqlx::Connection as _;
        if !is_postgres_url(url) {
            return Ok(false);
        }
        let target = postgres_options(url)?;
        let Some(name) = target.get_database().map(str::to_owned) else {
            return Ok(false);
        };
        let mut conn = probe(target.clone().database("postgres")).await?;
        let exists: Option<i32> =
            sea_orm::sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_optional(&mut conn)
                .await
                .context("looking the database up")?;
        if exists.is_none() {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {quoted}"
            )))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database \"{name}\""))?;
        }
        conn.close().await.ok();
        Ok(exists.is_none())
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

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn postgres_options(url: &str) -> anyhow::Result<sea_orm::sqlx::postgres::PgConnectOptions> {
    url.parse()
        .map_err(|err| anyhow::anyhow!("not a PostgreSQL URL: {err}"))
}

/// Connects once to PostgreSQL and says plainly why that failed.
async fn probe_postgres(url: &str) -> anyhow::Result<()> {
    use sea_orm::sqlx::Connection as _;
    let conn = probe(postgres_options(url)?).await?;
    conn.close().await.ok();
    Ok(())
}

/// One connection with `options`, its failure put in words: refused, no such database, or
/// the server's own message (said once).
async fn probe(
    options: sea_orm::sqlx::postgres::PgConnectOptions,
) -> anyhow::Result<sea_orm::sqlx::postgres::PgConnection> {
    use sea_orm::sqlx::Connection as _;
    use sea_orm::sqlx::Error as SqlxError;
    let host = options.get_host().to_owned();
    let port = options.get_port();
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        sea_orm::sqlx::postgres::PgConnection::connect_with(&options),
    )
    .await;
    match attempt {
        Ok(Ok(conn)) => Ok(conn),
        Err(_) => anyhow::bail!("no answer from {host}:{port} within 5 s"),
        Ok(Err(SqlxError::Io(err))) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            anyhow::bail!("connection refused at {host}:{port}: is PostgreSQL running there?")
        }
        Ok(Err(SqlxError::Database(err))) if err.code().as_deref() == Some("3D000") => {
            let name = options.get_database().unwrap_or_default();
            let user = options.get_username();
            anyhow::bail!(
                "PostgreSQL at {host}:{port} has no database \"{name}\"; create it with \
                 `createdb -h {host} -p {port} -U {user} {name}` or \
                 `keepsake migrate --create-database`"
            )
        }
        Ok(Err(SqlxError::Database(err))) => anyhow::bail!("{}", err.message()),
        Ok(Err(err)) => Err(err.into()),
    }
}

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
    /// Whether a row is deleted.
    fn deleted_at_of(model: &Self::Model) -> Option<DateTimeUtc>;
    /// When a row counts as live: not deleted. A deleted user's attachments need no check of
    /// their own here: no live attachment ever sits under a deleted user, because the user's
    /// delete cascades in the same transaction, `createAttachment` share-locks its owner, and
    /// a restore under a deleted owner is refused (`PARENT_DELETED`). A join on the owner here
    /// would cost every attachment read a scan of the live users.
    fn live_condition() -> Condition {
        Condition::all().add(Self::deleted_at_column().is_null())
    }
}

impl SoftDeletable for user::Entity {
    const KIND: EntityKind = EntityKind::User;
    fn id_column() -> user::Column {
        user::Column::Id
    }
    fn deleted_at_column() -> user::Column {
        user::Column::DeletedAt
    }
    fn deleted_by_column() -> user::Column {
        user::Column::DeletedBy
    }
    fn deletion_id_column() -> user::Column {
        user::Column::DeletionId
    }
    fn id_of(model: &user::Model) -> i64 {
        model.id
    }
    fn deleted_at_of(model: &user::Model) -> Option<DateTimeUtc> {
        model.deleted_at
    }
}

impl SoftDeletable for attachment::Entity {
    const KIND: EntityKind = EntityKind::Attachment;
    fn id_column() -> attachment::Column {
        attachment::Column::Id
    }
    fn deleted_at_column() -> attachment::Column {
        attachment::Column::DeletedAt
    }
    fn deleted_by_column() -> attachment::Column {
        attachment::Column::DeletedBy
    }
    fn deletion_id_column() -> attachment::Column {
        attachment::Column::DeletionId
    }
    fn id_of(model: &attachment::Model) -> i64 {
        model.id
    }
    fn deleted_at_of(model: &attachment::Model) -> Option<DateTimeUtc> {
        model.deleted_at
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
    select: Select<E>,
}

/// One page of a keyset-paginated read.
#[derive(Debug)]
pub struct Page<M> {
    /// The rows of the page, in the read's order.
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

    /// The rows `scope` may see.
    pub fn new(scope: Scope) -> Self {
        #[allow(clippy::disallowed_methods)] // the one place a soft-deletable read begins
        let select = E::find().filter(scope.condition::<E>());
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

    /// For each of `keys`, up to `first + 1` visible rows whose `column` holds it, with ids
    /// past `after`, by ascending id: the pages of many parents' children at once. One
    /// statement per 100 keys, a `UNION ALL` of per-key reads each with its own `LIMIT`, so a
    /// parent with 100,000 children costs `first + 1` rows of its index, not 100,000.
    pub async fn first_rows_per(
        self,
        h: &impl Handle,
        column: E::Column,
        keys: &[i64],
        first: u64,
        after: Option<i64>,
    ) -> Result<Vec<E::Model>, DbErr> {
        use sea_orm::QueryTrait as _;
        use sea_orm::sea_query::{Asterisk, UnionType};
        let backend = exec(h).get_database_backend();
        let mut rows = Vec::new();
        for chunk in keys.chunks(100) {
            let mut union: Option<sea_orm::sea_query::SelectStatement> = None;
            for (i, key) in chunk.iter().enumerate() {
                let mut branch = self.select.clone().filter(column.eq(*key));
                if let Some(after) = after {
                    branch = branch.filter(E::id_column().gt(after));
                }
                let branch = branch
                    .order_by_asc(E::id_column())
                    .limit(first.saturating_add(1))
                    .into_query();
                let wrapped = Query::select()
                    .column(Asterisk)
                    .from_subquery(branch, Alias::new(format!("k{i}")))
                    .to_owned();
                union = Some(match union {
                    None => wrapped,
                    Some(mut all) => {
                        all.union(UnionType::All, wrapped);
                        all
                    }
                });
            }
            let Some(union) = union else { continue };
            #[allow(clippy::disallowed_methods)] // runs the scoped selects built above
            let select = E::find();
            rows.extend(
                select
                    .from_raw_sql(backend.build(&union))
                    .all(&exec(h))
                    .await?,
            );
        }
        Ok(rows)
    }

    /// For each of `keys`, how many visible rows have it in `column`: one `GROUP BY`.
    pub async fn count_per(
        self,
        h: &impl Handle,
        column: E::Column,
        keys: &[i64],
    ) -> Result<std::collections::HashMap<i64, u64>, DbErr> {
        let counts: Vec<(i64, i64)> = self
            .select
            .select_only()
            .column(column)
            .column_as(Expr::col(column).count(), "n")
            .filter(column.is_in(keys.iter().copied()))
            .group_by(column)
            .into_tuple()
            .all(&exec(h))
            .await?;
        Ok(counts
            .into_iter()
            .map(|(key, n)| (key, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Up to `first` visible rows with ids greater than `after`, by ascending id.
    pub async fn page(
        self,
        h: &impl Handle,
        first: u64,
        after: Option<i64>,
    ) -> Result<Page<E::Model>, DbErr> {
        keyset_page(h, self.select, E::id_column(), Order::Asc, first, after).await
    }
}

/// Which way a keyset page walks its ids.
#[derive(Clone, Copy, Debug)]
enum Order {
    Asc,
    Desc,
}

/// Up to `first` rows of `select` past id `after` in `order`, fetching one more to learn
/// whether a next page exists. Every connection pages through this.
async fn keyset_page<E: EntityTrait>(
    h: &impl Handle,
    select: Select<E>,
    id: E::Column,
    order: Order,
    first: u64,
    after: Option<i64>,
) -> Result<Page<E::Model>, DbErr> {
    let select = match (order, after) {
        (Order::Asc, Some(after)) => select.filter(id.gt(after)),
        (Order::Desc, Some(after)) => select.filter(id.lt(after)),
        (_, None) => select,
    };
    let select = match order {
        Order::Asc => select.order_by_asc(id),
        Order::Desc => select.order_by_desc(id),
    };
    let rows = select.limit(first + 1).all(&exec(h)).await?;
    Ok(Page::of(rows, first))
}

impl<M> Page<M> {
    /// The page out of `first + 1` rows fetched.
    fn of(mut rows: Vec<M>, first: u64) -> Page<M> {
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Page {
            rows,
            has_next_page,
        }
    }
}

/// Who deletes or restores, when and why.
#[derive(Clone, Debug)]
pub struct Stamp {
    /// The acting user's id.
    pub actor: i64,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// The moment of the change.
    pub at: DateTimeUtc,
}

/// Marks the live rows of `E` matching `condition` as hidden by `deletion`; returns how many.
async fn mark_deleted<E: SoftDeletable>(
    h: &impl Handle,
    condition: Condition,
    deletion: i64,
    stamp: &Stamp,
) -> Result<u64, DbErr> {
    #[allow(clippy::disallowed_methods)] // set-based soft delete, the core's own write
    let update = E::update_many();
    let result = update
        .col_expr(E::deleted_at_column(), Expr::val(stamp.at))
        .col_expr(E::deleted_by_column(), Expr::val(stamp.actor))
        .col_expr(E::deletion_id_column(), Expr::val(deletion))
        .filter(E::deleted_at_column().is_null())
        .filter(condition)
        .exec(&exec(h))
        .await?;
    Ok(result.rows_affected)
}

/// Brings back every row of `E` hidden by `deletion`; returns how many.
async fn clear_deleted<E: SoftDeletable>(h: &impl Handle, deletion: i64) -> Result<u64, DbErr> {
    #[allow(clippy::disallowed_methods)] // set-based restore, the core's own write
    let update = E::update_many();
    let result = update
        .col_expr(
            E::deleted_at_column(),
            Expr::val(Option::<DateTimeUtc>::None),
        )
        .col_expr(E::deleted_by_column(), Expr::val(Option::<i64>::None))
        .col_expr(E::deletion_id_column(), Expr::val(Option::<i64>::None))
        .filter(E::deletion_id_column().eq(deletion))
        .exec(&exec(h))
        .await?;
    Ok(result.rows_affected)
}

async fn log_deletion(
    tx: &Tx,
    kind: EntityKind,
    entity_id: i64,
    stamp: &Stamp,
) -> Result<deletion::Model, DbErr> {
    let row = deletion::ActiveModel {
        entity: Set(kind.as_str().to_owned()),
        entity_id: Set(entity_id),
        actor_id: Set(Some(stamp.actor)),
        reason: Set(stamp.reason.clone()),
        deleted_at: Set(stamp.at),
        cascade_count: Set(0),
        ..Default::default()
    };
    row.insert(&exec(tx)).await
}

async fn set_cascade_count(
    tx: &Tx,
    logged: deletion::Model,
    cascade_count: u64,
) -> Result<deletion::Model, DbErr> {
    let mut row = logged.into_active_model();
    row.cascade_count = Set(i64::try_from(cascade_count).unwrap_or(i64::MAX));
    row.update(&exec(tx)).await
}

/// Soft-deletes live user `id` and, in the same transaction, its live attachments, all
/// stamped with one new deletion whose `cascade_count` is the attachments hidden. `None`
/// when the user is not live (the caller's transaction must then be dropped).
pub async fn delete_user(
    tx: &Tx,
    id: i64,
    stamp: &Stamp,
) -> Result<Option<deletion::Model>, DbErr> {
    let logged = log_deletion(tx, EntityKind::User, id, stamp).await?;
    let hidden = mark_deleted::<user::Entity>(
        tx,
        Condition::all().add(user::Column::Id.eq(id)),
        logged.id,
        stamp,
    )
    .await?;
    if hidden != 1 {
        return Ok(None);
    }
    let cascaded = mark_deleted::<attachment::Entity>(
        tx,
        Condition::all().add(attachment::Column::OwnerId.eq(id)),
        logged.id,
        stamp,
    )
    .await?;
    Ok(Some(set_cascade_count(tx, logged, cascaded).await?))
}

/// Soft-deletes the live attachments `ids` (distinct, non-empty) as one deletion, logged
/// under the first id with `cascade_count` the others. `None` when any is not live.
pub async fn delete_attachments(
    tx: &Tx,
    ids: &[i64],
    stamp: &Stamp,
) -> Result<Option<deletion::Model>, DbErr> {
    let Some(&first) = ids.first() else {
        return Ok(None);
    };
    let logged = log_deletion(tx, EntityKind::Attachment, first, stamp).await?;
    let hidden = mark_deleted::<attachment::Entity>(
        tx,
        Condition::all().add(attachment::Column::Id.is_in(ids.iter().copied())),
        logged.id,
        stamp,
    )
    .await?;
    if hidden != ids.len() as u64 {
        return Ok(None);
    }
    Ok(Some(set_cascade_count(tx, logged, hidden - 1).await?))
}

/// Why a restore could not happen. Whatever the reason, nothing was changed.
#[derive(Debug)]
pub enum RestoreRefused {
    /// No such deletion.
    NotFound,
    /// The deletion was restored already.
    AlreadyRestored(DateTimeUtc),
    /// A purge has begun erasing the deletion's rows (`finished`: and erased the last one),
    /// so it can no longer come back whole; its rows are in the archive.
    Purged {
        started: DateTimeUtc,
        finished: Option<DateTimeUtc>,
    },
    /// Some attachment it hid belongs to an owner hidden by another deletion.
    ParentDeleted { owner: i64 },
    /// A user it hid has an email a live user now holds.
    Conflict,
}

/// The deletion with this id, locked for the rest of the transaction.
pub async fn deletion_for_update(tx: &Tx, id: i64) -> Result<Option<deletion::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find_by_id(id);
    select.lock_exclusive().one(&exec(tx)).await
}

/// Undoes deletion `id` exactly: clears the rows stamped with it, no others, and records who
/// restored it, when and why. Refusals change nothing (the caller drops the transaction).
///
/// Concurrency: the deletion's row is locked first, so two restores of it, or a restore and a
/// purge of it, run one after the other (a purge marks `purge_started_at` under the same
/// lock). Then the owners of the attachments it brings back are share-locked before they are
/// checked, so a concurrent `deleteUser` of an owner either commits first (and this restore
/// is `ParentDeleted`) or waits and then cascades to what this restore brought back.
pub async fn restore(
    tx: &Tx,
    id: i64,
    stamp: &Stamp,
) -> Result<Result<deletion::Model, RestoreRefused>, DbErr> {
    let Some(logged) = deletion_for_update(tx, id).await? else {
        return Ok(Err(RestoreRefused::NotFound));
    };
    if let Some(started) = logged.purge_started_at.or(logged.purged_at) {
        return Ok(Err(RestoreRefused::Purged {
            started,
            finished: logged.purged_at,
        }));
    }
    if let Some(at) = logged.restored_at {
        return Ok(Err(RestoreRefused::AlreadyRestored(at)));
    }
    lock_owners_of_hidden_attachments(tx, id).await?;
    // An attachment comes back only under a live owner, or one this deletion brings back.
    let orphan = attachments_under_other_deleted_owner(tx, id).await?;
    if let Some(owner) = orphan {
        return Ok(Err(RestoreRefused::ParentDeleted { owner }));
    }
    match clear_deleted::<user::Entity>(tx, id).await {
        Ok(_) => {}
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Ok(Err(RestoreRefused::Conflict));
        }
        Err(err) => return Err(err),
    }
    clear_deleted::<attachment::Entity>(tx, id).await?;
    let mut row = logged.into_active_model();
    row.restored_at = Set(Some(stamp.at));
    row.restored_by = Set(Some(stamp.actor));
    row.restore_reason = Set(stamp.reason.clone());
    Ok(Ok(row.update(&exec(tx)).await?))
}

/// Share-locks (PostgreSQL `FOR SHARE`) the owners of the attachments hidden by `deletion`,
/// until the transaction ends: their deletes wait for it. SQLite's write transaction holds
/// the whole database already.
async fn lock_owners_of_hidden_attachments(tx: &Tx, deletion: i64) -> Result<(), DbErr> {
    let owners = Query::select()
        .column(attachment::Column::OwnerId)
        .from(attachment::Entity)
        .and_where(attachment::Column::DeletionId.eq(deletion))
        .to_owned();
    #[allow(clippy::disallowed_methods)] // a lock inside the core's restore, any scope
    let select = user::Entity::find();
    select
        .filter(user::Column::Id.in_subquery(owners))
        .order_by_asc(user::Column::Id)
        .lock_shared()
        .all(&exec(tx))
        .await?;
    Ok(())
}

/// Whether every row deletion `logged` hid belongs to user `owner`: the user themself, or
/// attachments they own. A member's rights over a deletion follow from this (and not from
/// having been its actor under another role).
pub async fn hid_only_rows_of(
    tx: &Tx,
    logged: &deletion::Model,
    owner: i64,
) -> Result<bool, DbErr> {
    match EntityKind::parse(&logged.entity) {
        Some(EntityKind::User) => Ok(logged.entity_id == owner),
        // A restored bulk deletion no longer marks its rows: whose they were is unknown, so
        // it is no one's (the first row alone would vouch for the others).
        Some(EntityKind::Attachment)
            if logged.cascade_count > 0 && logged.restored_at.is_some() =>
        {
            Ok(false)
        }
        Some(EntityKind::Attachment) => {
            #[allow(clippy::disallowed_methods)] // ownership of a deletion's rows, any scope
            let first = attachment::Entity::find_by_id(logged.entity_id);
            let first_is_theirs = first
                .one(&exec(tx))
                .await?
                .is_some_and(|a| a.owner_id == owner);
            #[allow(clippy::disallowed_methods)] // ownership of a deletion's rows, any scope
            let foreign = attachment::Entity::find()
                .filter(attachment::Column::DeletionId.eq(logged.id))
                .filter(attachment::Column::OwnerId.ne(owner))
                .count(&exec(tx))
                .await?;
            Ok(first_is_theirs && foreign == 0)
        }
        None => Ok(false),
    }
}

/// The owner of an attachment hidden by `deletion` whose owner is deleted by another one.
async fn attachments_under_other_deleted_owner(
    tx: &Tx,
    deletion: i64,
) -> Result<Option<i64>, DbErr> {
    let owner = Alias::new("owner");
    let owner_deleted_elsewhere = Query::select()
        .expr(Expr::val(1))
        .from_as(user::Entity, owner.clone())
        .and_where(
            Expr::col((owner.clone(), user::Column::Id))
                .equals((attachment::Entity, attachment::Column::OwnerId)),
        )
        .and_where(Expr::col((owner.clone(), user::Column::DeletedAt)).is_not_null())
        .and_where(
            Expr::col((owner.clone(), user::Column::DeletionId))
                .is_null()
                .or(Expr::col((owner, user::Column::DeletionId)).ne(deletion)),
        )
        .to_owned();
    #[allow(clippy::disallowed_methods)] // a check inside the core's restore
    let select = attachment::Entity::find();
    Ok(select
        .filter(attachment::Column::DeletionId.eq(deletion))
        .filter(Expr::exists(owner_deleted_elsewhere))
        .one(&exec(tx))
        .await?
        .map(|a| a.owner_id))
}

/// Filters on the deletion log.
#[derive(Clone, Debug, Default)]
pub struct DeletionFilter {
    /// Only deletions of this entity.
    pub entity: Option<EntityKind>,
    /// Only deletions by this actor.
    pub actor: Option<i64>,
    /// Only deletions at or after this moment.
    pub since: Option<DateTimeUtc>,
}

impl DeletionFilter {
    fn select(&self) -> Select<deletion::Entity> {
        #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
        let mut select = deletion::Entity::find();
        if let Some(entity) = self.entity {
            select = select.filter(deletion::Column::Entity.eq(entity.as_str()));
        }
        if let Some(actor) = self.actor {
            select = select.filter(deletion::Column::ActorId.eq(actor));
        }
        if let Some(since) = self.since {
            select = select.filter(deletion::Column::DeletedAt.gte(since));
        }
        select
    }

    /// Up to `first` entries, newest first, older than entry `before` when given.
    pub async fn page(
        &self,
        h: &impl Handle,
        first: u64,
        before: Option<i64>,
    ) -> Result<Page<deletion::Model>, DbErr> {
        let select = self.select();
        keyset_page(h, select, deletion::Column::Id, Order::Desc, first, before).await
    }

    /// How many entries match.
    pub async fn count(&self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select().count(&exec(h)).await
    }
}

/// Deletion log entries by id, in one query.
pub async fn deletions_by_ids(
    h: &impl Handle,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<deletion::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    select
        .filter(deletion::Column::Id.is_in(ids))
        .all(&exec(h))
        .await
}

/// A deletion log entry by id.
pub async fn deletion(h: &impl Handle, id: i64) -> Result<Option<deletion::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find_by_id(id);
    select.one(&exec(h)).await
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
    #[allow(clippy::disallowed_methods)] // settings are the core's own table
    let select = setting::Entity::find_by_id(key.to_owned());
    Ok(select.one(&exec(h)).await?.map(|s| s.value))
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

/// For row `id` of `E`: `None` when there is no such row, `Some(None)` when it is live, and
/// `Some(Some(deletion))` with the deletion that hid it. Tells nothing else of a deleted row,
/// so restore paths can find what to undo without a wide scope.
pub async fn hiding_deletion<E: SoftDeletable>(
    tx: &Tx,
    id: i64,
) -> Result<Option<Option<i64>>, DbErr> {
    // No row lock: restores and purges serialise on the deletion's row, which the caller
    // locks next (locking the row first would order locks against the purge's).
    #[allow(clippy::disallowed_methods)] // reads only the deletion id of one row
    let select = E::find();
    let row = select.filter(E::id_column().eq(id)).one(&exec(tx)).await?;
    Ok(row.map(|row| {
        use sea_orm::ModelTrait as _;
        match row.get(E::deletion_id_column()) {
            sea_orm::Value::BigInt(id) => id,
            _ => None,
        }
    }))
}

/// Rows a purge removes, or would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Users archived and erased.
    pub users: u64,
    /// Attachments archived and erased.
    pub attachments: u64,
}

impl PurgeCounts {
    /// Users and attachments together.
    pub fn total(self) -> u64 {
        self.users + self.attachments
    }
}

/// Users deleted before `cutoff` none of whose attachments would stay behind.
fn purgeable_users(cutoff: DateTimeUtc) -> Condition {
    let child = Alias::new("child");
    let keeps_a_child = Query::select()
        .expr(Expr::val(1))
        .from_as(attachment::Entity, child.clone())
        .and_where(
            Expr::col((child.clone(), attachment::Column::OwnerId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(
            Expr::col((child.clone(), attachment::Column::DeletedAt))
                .is_null()
                .or(Expr::col((child, attachment::Column::DeletedAt)).gte(cutoff)),
        )
        .to_owned();
    Condition::all()
        .add(user::Column::DeletedAt.lt(cutoff))
        .add(Expr::exists(keeps_a_child).not())
}

/// What a purge with this cutoff would remove now.
pub async fn purge_candidates(h: &impl Handle, cutoff: DateTimeUtc) -> Result<PurgeCounts, DbErr> {
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::DeletedAt.lt(cutoff))
        .filter(not_restored(attachment::Column::DeletionId))
        .count(&exec(h))
        .await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let users = user::Entity::find()
        .filter(purgeable_users(cutoff))
        .filter(not_restored(user::Column::DeletionId))
        .count(&exec(h))
        .await?;
    Ok(PurgeCounts { users, attachments })
}

fn snapshot<M: serde::Serialize>(
    kind: EntityKind,
    id: i64,
    row: &M,
    deletion_id: Option<i64>,
    deleted_at: Option<DateTimeUtc>,
    now: DateTimeUtc,
) -> Result<archive::ActiveModel, DbErr> {
    let json = serde_json::to_string(row).map_err(|e| DbErr::Custom(format!("archiving: {e}")))?;
    Ok(archive::ActiveModel {
        entity: Set(kind.as_str().to_owned()),
        entity_id: Set(id),
        row: Set(json),
        deletion_id: Set(deletion_id),
        deleted_at: Set(deleted_at),
        archived_at: Set(now),
        ..Default::default()
    })
}

/// Marks deletions whose rows are all gone as purged.
async fn mark_purged(tx: &Tx, deletions: Vec<i64>, now: DateTimeUtc) -> Result<(), DbErr> {
    if deletions.is_empty() {
        return Ok(());
    }
    let still_has = |table: Alias, column: Alias| {
        Query::select()
            .expr(Expr::val(1))
            .from(table)
            .and_where(Expr::col(column).equals((deletion::Entity, deletion::Column::Id)))
            .to_owned()
    };
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let update = deletion::Entity::update_many();
    update
        .col_expr(deletion::Column::PurgedAt, Expr::val(now))
        .filter(deletion::Column::Id.is_in(deletions))
        .filter(deletion::Column::PurgedAt.is_null())
        .filter(Expr::exists(still_has(Alias::new("users"), Alias::new("deletion_id"))).not())
        .filter(
            Expr::exists(still_has(
                Alias::new("attachments"),
                Alias::new("deletion_id"),
            ))
            .not(),
        )
        .exec(&exec(tx))
        .await?;
    Ok(())
}

/// What one purge batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows archived and erased.
    pub purged: PurgeCounts,
    /// Whether rows were due at all: `false` means the purge is done. (Rows can be due and
    /// yet not purged when a restore of their deletion won the race for its lock.)
    pub found: bool,
}

/// The deletions `ids` that are not restored, locked (`FOR UPDATE`, in id order) for the
/// rest of the transaction and marked as being purged: from now on none can be restored.
/// A restore holding one of them makes this wait; a restore that committed first leaves
/// its deletion out.
async fn claim_for_purge(tx: &Tx, ids: Vec<i64>, now: DateTimeUtc) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    let claimed: Vec<i64> = select
        .filter(deletion::Column::Id.is_in(ids))
        .order_by_asc(deletion::Column::Id)
        .lock_exclusive()
        .all(&exec(tx))
        .await?
        .into_iter()
        .filter(|d| d.restored_at.is_none())
        .map(|d| d.id)
        .collect();
    if !claimed.is_empty() {
        #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
        let update = deletion::Entity::update_many();
        update
            .col_expr(deletion::Column::PurgeStartedAt, Expr::val(now))
            .filter(deletion::Column::Id.is_in(claimed.iter().copied()))
            .filter(deletion::Column::PurgeStartedAt.is_null())
            .exec(&exec(tx))
            .await?;
    }
    Ok(claimed)
}

/// Rows stamped by one of `claimed` (or, for rows a bug left without a deletion, by none).
fn claimed_by<C: ColumnTrait>(deletion_id: C, claimed: &[i64]) -> Condition {
    Condition::any()
        .add(deletion_id.is_null())
        .add(deletion_id.is_in(claimed.iter().copied()))
}

/// Deleted rows whose deletion is not restored: what a purge may take.
fn not_restored<C: ColumnTrait>(deletion_id: C) -> Condition {
    let restored = Query::select()
        .column(deletion::Column::Id)
        .from(deletion::Entity)
        .and_where(deletion::Column::RestoredAt.is_not_null())
        .to_owned();
    Condition::any()
        .add(deletion_id.is_null())
        .add(deletion_id.not_in_subquery(restored))
}

/// Purges one batch of up to `batch` rows deleted before `cutoff`, in one transaction:
/// attachments first, users once none of their attachments remain. Each row is copied to
/// `archive` before it is erased; a failure rolls the whole batch back.
///
/// The batch first claims the deletions of the rows it found (see [`claim_for_purge`]),
/// then locks and takes only rows still hidden by a claimed deletion: a restore and a purge
/// of one deletion never interleave, and a deletion whose purge began is never restored.
pub async fn purge_batch(
    db: &Db,
    cutoff: DateTimeUtc,
    batch: u64,
    now: DateTimeUtc,
) -> Result<BatchOutcome, DbErr> {
    let tx = db.begin().await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let due = attachment::Entity::find()
        .filter(attachment::Column::DeletedAt.lt(cutoff))
        .filter(not_restored(attachment::Column::DeletionId))
        .order_by_asc(attachment::Column::Id)
        .limit(batch)
        .all(&exec(&tx))
        .await?;
    if !due.is_empty() {
        let claimed =
            claim_for_purge(&tx, distinct(due.iter().filter_map(|a| a.deletion_id)), now).await?;
        #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
        let attachments = attachment::Entity::find()
            .filter(attachment::Column::Id.is_in(due.iter().map(|a| a.id)))
            .filter(attachment::Column::DeletedAt.lt(cutoff))
            .filter(claimed_by(attachment::Column::DeletionId, &claimed))
            .order_by_asc(attachment::Column::Id)
            .lock_exclusive()
            .all(&exec(&tx))
            .await?;
        let snapshots = attachments
            .iter()
            .map(|a| {
                snapshot(
                    EntityKind::Attachment,
                    a.id,
                    a,
                    a.deletion_id,
                    a.deleted_at,
                    now,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !snapshots.is_empty() {
            archive::Entity::insert_many(snapshots)
                .exec_without_returning(&exec(&tx))
                .await?;
            #[allow(clippy::disallowed_methods)] // the purge: erasing after archiving
            let erase = attachment::Entity::delete_many();
            erase
                .filter(attachment::Column::Id.is_in(attachments.iter().map(|a| a.id)))
                .exec(&exec(&tx))
                .await?;
        }
        mark_purged(&tx, claimed, now).await?;
        tx.commit().await?;
        return Ok(BatchOutcome {
            purged: PurgeCounts {
                users: 0,
                attachments: attachments.len() as u64,
            },
            found: true,
        });
    }
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let due = user::Entity::find()
        .filter(purgeable_users(cutoff))
        .filter(not_restored(user::Column::DeletionId))
        .order_by_asc(user::Column::Id)
        .limit(batch)
        .all(&exec(&tx))
        .await?;
    if due.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let claimed =
        claim_for_purge(&tx, distinct(due.iter().filter_map(|u| u.deletion_id)), now).await?;
    #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(due.iter().map(|u| u.id)))
        .filter(purgeable_users(cutoff))
        .filter(claimed_by(user::Column::DeletionId, &claimed))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .all(&exec(&tx))
        .await?;
    let snapshots = users
        .iter()
        .map(|u| snapshot(EntityKind::User, u.id, u, u.deletion_id, u.deleted_at, now))
        .collect::<Result<Vec<_>, _>>()?;
    if !snapshots.is_empty() {
        archive::Entity::insert_many(snapshots)
            .exec_without_returning(&exec(&tx))
            .await?;
        #[allow(clippy::disallowed_methods)] // the purge: erasing after archiving
        let erase = user::Entity::delete_many();
        erase
            .filter(user::Column::Id.is_in(users.iter().map(|u| u.id)))
            .exec(&exec(&tx))
            .await?;
    }
    mark_purged(&tx, claimed, now).await?;
    tx.commit().await?;
    Ok(BatchOutcome {
        purged: PurgeCounts {
            users: users.len() as u64,
            attachments: 0,
        },
        found: true,
    })
}

/// The distinct values of `ids`, in ascending order.
fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Runs `job` only if no other Keepsake server is running it: on PostgreSQL under a
/// transaction-scoped advisory lock (`None` when another server holds it); on SQLite, which
/// one process serves, at once.
pub async fn exclusively<T, F>(db: &Db, job: F) -> Result<Option<T>, DbErr>
where
    F: std::future::Future<Output = T>,
{
    if db.backend() != DbBackend::Postgres {
        return Ok(Some(job.await));
    }
    // The lock lives as long as this transaction; the job's own batches run beside it.
    let lock = db.conn.begin().await?;
    let row = lock
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_try_advisory_xact_lock({PURGE_LOCK_KEY}) AS locked"),
        ))
        .await?;
    let locked = match row {
        Some(row) => row.try_get::<bool>("", "locked")?,
        None => false,
    };
    if !locked {
        return Ok(None);
    }
    let out = job.await;
    lock.commit().await?;
    Ok(Some(out))
}

/// The advisory lock key of the retention purge ("keep" in ASCII).
const PURGE_LOCK_KEY: i64 = 0x6b65_6570;

/// One synthetic user for [`seed_batch`].
#[derive(Clone, Debug)]
pub struct SeedUser {
    pub email: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// When set, the user is deleted (with their attachments) as a real deletion:
    /// (deleted at, reason).
    pub deleted: Option<(DateTimeUtc, String)>,
}

/// Inserts `users`, `attachments_per_user` attachments each, and the deletions of those
/// marked deleted, with multi-row statements in one transaction. Deleted users become real
/// deletions (logged, stamped, cascaded), so `restore` works on them. Returns rows written.
pub async fn seed_batch(
    db: &Db,
    users: &[SeedUser],
    attachments_per_user: u64,
) -> Result<PurgeCounts, DbErr> {
    const ROWS_PER_STATEMENT: usize = 3_000;
    let tx = db.begin().await?;
    let rows: Vec<user::ActiveModel> = users
        .iter()
        .map(|u| user::ActiveModel {
            email: Set(u.email.clone()),
            name: Set(u.name.clone()),
            role: Set("member".to_owned()),
            created_at: Set(u.created_at),
            updated_at: Set(u.created_at),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        user::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&exec(&tx))
            .await?;
    }
    // The ids the database gave them, by email (unique among live users).
    #[allow(clippy::disallowed_methods)] // seeding reads back the rows it just wrote
    let inserted = user::Entity::find()
        .filter(user::Column::Email.is_in(users.iter().map(|u| u.email.clone())))
        .filter(user::Column::DeletedAt.is_null())
        .all(&exec(&tx))
        .await?;
    let id_of: std::collections::HashMap<&str, i64> =
        inserted.iter().map(|u| (u.email.as_str(), u.id)).collect();
    let kinds = [
        ("report.pdf", "application/pdf"),
        ("photo.jpg", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("data.csv", "text/csv"),
    ];
    let mut attachments = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let owner = id_of[u.email.as_str()];
        for j in 0..attachments_per_user {
            let (name, content_type) = kinds[(i + j as usize) % kinds.len()];
            attachments.push(attachment::ActiveModel {
                owner_id: Set(owner),
                filename: Set(format!("{j}-{name}")),
                content_type: Set(content_type.to_owned()),
                size_bytes: Set(1_024 * (1 + ((i as i64 * 7919 + j as i64 * 104_729) % 10_000))),
                created_at: Set(u.created_at),
                ..Default::default()
            });
        }
    }
    for chunk in attachments.chunks(ROWS_PER_STATEMENT) {
        attachment::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&exec(&tx))
            .await?;
    }
    let deleted: Vec<(i64, &DateTimeUtc, &String)> = users
        .iter()
        .filter_map(|u| {
            u.deleted
                .as_ref()
                .map(|(at, reason)| (id_of[u.email.as_str()], at, reason))
        })
        .collect();
    if !deleted.is_empty() {
        let log: Vec<deletion::ActiveModel> = deleted
            .iter()
            .map(|(id, at, reason)| deletion::ActiveModel {
                entity: Set(EntityKind::User.as_str().to_owned()),
                entity_id: Set(*id),
                actor_id: Set(Some(*id)),
                reason: Set(Some((*reason).clone())),
                deleted_at: Set(**at),
                cascade_count: Set(attachments_per_user as i64),
                ..Default::default()
            })
            .collect();
        for chunk in log.chunks(ROWS_PER_STATEMENT) {
            deletion::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&exec(&tx))
                .await?;
        }
        // Stamp users, then their attachments, from their deletions: set-based, portable SQL.
        let ids = deleted
            .iter()
            .map(|(id, _, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let from_log = |column: &str| {
            format!(
                "(SELECT d.{column} FROM deletions d WHERE d.entity = 'user' \
                 AND d.entity_id = users.id AND d.restored_at IS NULL ORDER BY d.id DESC LIMIT 1)"
            )
        };
        let stamp_users = format!(
            "UPDATE users SET deleted_at = {}, deleted_by = {}, deletion_id = {} WHERE id IN ({ids})",
            from_log("deleted_at"),
            from_log("actor_id"),
            from_log("id"),
        );
        let from_owner = |column: &str| {
            format!("(SELECT u.{column} FROM users u WHERE u.id = attachments.owner_id)")
        };
        let stamp_attachments = format!(
            "UPDATE attachments SET deleted_at = {}, deleted_by = {}, deletion_id = {} \
             WHERE owner_id IN ({ids}) AND deleted_at IS NULL",
            from_owner("deleted_at"),
            from_owner("deleted_by"),
            from_owner("deletion_id"),
        );
        let backend = db.backend();
        for sql in [stamp_users, stamp_attachments] {
            tx.txn
                .execute_raw(sea_orm::Statement::from_string(backend, sql))
                .await?;
        }
    }
    tx.commit().await?;
    Ok(PurgeCounts {
        users: users.len() as u64,
        attachments: attachments.len() as u64,
    })
}

/// Filters on the archive.
#[derive(Clone, Debug, Default)]
pub struct ArchiveFilter {
    /// Only rows of this entity.
    pub entity: Option<EntityKind>,
    /// Only rows archived at or after this moment.
    pub since: Option<DateTimeUtc>,
}

impl ArchiveFilter {
    fn select(&self) -> Select<archive::Entity> {
        #[allow(clippy::disallowed_methods)] // the archive is the core's own table
        let mut select = archive::Entity::find();
        if let Some(entity) = self.entity {
            select = select.filter(archive::Column::Entity.eq(entity.as_str()));
        }
        if let Some(since) = self.since {
            select = select.filter(archive::Column::ArchivedAt.gte(since));
        }
        select
    }

    /// Up to `first` archived rows after row `after`, oldest first.
    pub async fn page(
        &self,
        h: &impl Handle,
        first: u64,
        after: Option<i64>,
    ) -> Result<Page<archive::Model>, DbErr> {
        let select = self.select();
        keyset_page(h, select, archive::Column::Id, Order::Asc, first, after).await
    }

    /// How many archived rows match.
    pub async fn count(&self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select().count(&exec(h)).await
    }
}

/// One (day, entity) row of [`deletion_stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayStats {
    /// `YYYY-MM-DD`, in UTC.
    pub day: String,
    pub entity: String,
    /// Deletions made that day.
    pub deletions: i64,
    /// Rows those deletions hid besides the one asked for.
    pub cascaded_rows: i64,
    /// Deletions undone that day.
    pub restores: i64,
    /// Deletions whose rows were purged that day.
    pub purges: i64,
}

/// The deletion log summed up over `[since, until)`, computed in SQL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeletionStats {
    /// By day, then entity.
    pub days: Vec<DayStats>,
    /// The most given reasons (`None`: no reason given) with their counts, most first.
    pub top_reasons: Vec<(Option<String>, i64)>,
    /// The same for restores in the range.
    pub top_restore_reasons: Vec<(Option<String>, i64)>,
    /// Median seconds from deletion to restore, over restores in the range.
    pub median_seconds_to_restore: Option<f64>,
}

/// Aggregates the deletion log over `[since, until)` with GROUP BY queries (the same
/// answers on both databases; only the date arithmetic is spelled per backend).
pub async fn deletion_stats(
    h: &impl Handle,
    since: DateTimeUtc,
    until: DateTimeUtc,
    top: u64,
) -> Result<DeletionStats, DbErr> {
    let conn = exec(h);
    let backend = conn.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let (p1, p2) = if postgres { ("$1", "$2") } else { ("?", "?") };
    let day = |col: &str| {
        if postgres {
            format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        } else {
            format!("date({col})")
        }
    };
    let statement = |sql: String| {
        sea_orm::Statement::from_sql_and_values(backend, sql, [since.into(), until.into()])
    };
    let mut days: std::collections::BTreeMap<(String, String), DayStats> = Default::default();
    for (column, what) in [
        ("deleted_at", "deletions"),
        ("restored_at", "restores"),
        ("purged_at", "purges"),
    ] {
        let sql = format!(
            "SELECT {d} AS day, entity, COUNT(*) AS n, CAST(COALESCE(SUM(cascade_count), 0) AS BIGINT) AS cascaded \
             FROM deletions WHERE {column} >= {p1} AND {column} < {p2} GROUP BY {d}, entity",
            d = day(column)
        );
        for row in conn.query_all_raw(statement(sql)).await? {
            let key = (
                row.try_get::<String>("", "day")?,
                row.try_get::<String>("", "entity")?,
            );
            let n = row.try_get::<i64>("", "n")?;
            let entry = days.entry(key.clone()).or_insert_with(|| DayStats {
                day: key.0,
                entity: key.1,
                ..Default::default()
            });
            match what {
                "deletions" => {
                    entry.deletions = n;
                    entry.cascaded_rows = row.try_get::<i64>("", "cascaded")?;
                }
                "restores" => entry.restores = n,
                _ => entry.purges = n,
            }
        }
    }
    let mut top_reasons = Vec::new();
    let mut top_restore_reasons = Vec::new();
    for (column, moment, out) in [
        ("reason", "deleted_at", &mut top_reasons),
        ("restore_reason", "restored_at", &mut top_restore_reasons),
    ] {
        let sql = format!(
            "SELECT {column} AS reason, COUNT(*) AS n FROM deletions \
             WHERE {moment} >= {p1} AND {moment} < {p2} GROUP BY {column} \
             ORDER BY COUNT(*) DESC, CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} LIMIT {top}"
        );
        for row in conn.query_all_raw(statement(sql)).await? {
            out.push((
                row.try_get::<Option<String>>("", "reason")?,
                row.try_get::<i64>("", "n")?,
            ));
        }
    }
    let seconds = if postgres {
        "EXTRACT(EPOCH FROM (restored_at - deleted_at))"
    } else {
        "(unixepoch(restored_at, 'subsec') - unixepoch(deleted_at, 'subsec'))"
    };
    // The median with window functions, which both databases have.
    let sql = format!(
        "SELECT CAST(AVG(s) AS DOUBLE PRECISION) AS median FROM ( \
           SELECT s, ROW_NUMBER() OVER (ORDER BY s) AS rn, COUNT(*) OVER () AS c FROM ( \
             SELECT CAST({seconds} AS DOUBLE PRECISION) AS s FROM deletions \
             WHERE restored_at IS NOT NULL AND restored_at >= {p1} AND restored_at < {p2}) t) r \
         WHERE rn IN ((c + 1) / 2, (c + 2) / 2)"
    );
    let median = match conn.query_one_raw(statement(sql)).await? {
        Some(row) => row.try_get::<Option<f64>>("", "median")?,
        None => None,
    };
    Ok(DeletionStats {
        days: days.into_values().collect(),
        top_reasons,
        top_restore_reasons,
        median_seconds_to_restore: median,
    })
}

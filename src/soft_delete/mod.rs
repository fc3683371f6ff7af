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
//! - delete, restore and purge through the operations below, each one transaction that
//!   also writes the change's event (`events.rs`, the outbox);
//! - read and write the small `settings` table.
//!
//! Nothing outside this module writes a `deleted_at` condition.
//!
//! One file per topic:
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Handle`], [`Db`], [`Tx`]: the sealed connection |
//! | `budget.rs` | a request's [`Budget`]: statements and connections it may take |
//! | `connect.rs` | opening the pool, first-contact probes, `--create-database` |
//! | `pooler.rs` | behind a transaction pooler: no prepared statement outlives a transaction |
//! | `kinds.rs` | [`SoftDeletable`] entities and their [`EntityKind`] names |
//! | `decode.rs` | reading their rows by position, without SeaORM's by-name lookups |
//! | `scope.rs` | [`Scope`], the [`SeeDeleted`] and [`SeeHidden`] proofs, [`Scoped`] reads, keyset [`Page`]s |
//! | `rows.rs` | [`insert`], [`update_live`], [`row_state`] |
//! | `delete.rs` | [`delete_user`], [`delete_attachments`] |
//! | `events.rs` | the outbox: each change's event in its own transaction, read in id order |
//! | `event_feed.rs` | waking the outbox's readers: this process's commits, and every server's through NOTIFY |
//! | `restore.rs` | [`restore`] and what it checks first |
//! | `identities.rs` | [`identity_user`], [`provision`]: users of an external issuer's tokens, by (`iss`, `sub`) |
//! | `holds.rs` | legal holds: [`place_hold`], [`release_hold`], [`active_hold`], what a purge skips |
//! | `log.rs` | the deletion log and the archive, filtered and paged |
//! | `purge.rs` | [`purge_batch`]: claim, archive, erase, mark |
//! | `purge_rows.rs` | a purge batch's rows erased and archived, in its transaction |
//! | `archive_retention.rs` | [`erase_archived_batch`]: the archive's oldest rows erased, and when |
//! | `stats.rs` | [`deletion_stats`] |
//! | `seed.rs` | [`seed_batch`] |
//! | `settings.rs` | the `settings` table and [`exclusively`] (one server at a time) |
//! | `erase.rs` | [`erase_user`]: a person's data replaced by placeholders, the tombstone |
//! | `erase_scan.rs` | what an erasure finds first: blobs, archived copies, texts naming them |
//! | `erase_check.rs` | `keepsake check` on erasures: placeholders only, tombstones for all |
//! | `redact.rs` | [`Needles`]: an email and a name replaced in free text, any case |
//! | `check.rs` | `keepsake check`: the invariants, verified |
//! | `reporting.rs` | `keepsake reporting grant\|revoke`: the reporting views opened to a role |
//! | `reporting_check.rs` | `keepsake check` on the reporting views, their row-level security and readers |
//! | `stored.rs` | [`Stored`] rows: timestamps at microseconds ([`now`]), search text folded ([`fold`]) |
//! | `blobs.rs` | which blobs rows refer to, and [`lock_blob`] |
//! | `webhooks.rs` | the webhook's delivery state: the next event to send, its lease, each outcome |

use std::sync::Arc;

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
#[allow(clippy::disallowed_types)] // the one module that holds the connection
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedSemaphorePermit;

mod archive_retention;
mod blobs;
mod budget;
pub mod check;
mod connect;
mod decode;
mod delete;
mod entities;
mod erase;
mod erase_check;
mod erase_scan;
mod event_feed;
mod event_frontier;
mod events;
mod holds;
mod identities;
mod kinds;
mod log;
mod per_key;
mod pooler;
mod purge;
mod purge_rows;
mod redact;
pub mod reporting;
mod reporting_check;
mod restore;
mod rows;
mod scope;
mod seed;
mod settings;
mod stats;
mod stored;
mod webhooks;

pub use archive_retention::{ARCHIVE_ERASED_BEFORE, archive_erased_before, erase_archived_batch};
pub use blobs::{
    BlobTotal, StorageFigures, blob_in_use, blobs_in_use, lock_blob, purge_would_free,
    storage_figures,
};
pub use budget::{Budget, CONNECTIONS_PER_REQUEST};
pub use connect::POOL_SIZE;
pub use delete::{Stamp, delete_attachments, delete_user};
pub use erase::{
    ERASED_CONTENT_TYPE, ERASED_EMAIL_DOMAIN, ERASED_FILENAME, ERASED_NAME, EraseError,
    EraseRefused, Erased, ErasureFigures, erase_user, erased_email, erasure_of, erasures_of,
    legal_hold_on, truncate_log,
};
pub use event_feed::{announce, listen, wakeups};
pub use event_frontier::{final_event_id, final_event_id_at_head};
pub use events::{
    DEFAULT_EVENT_RETENTION, EventReader, EventType, drop_events_before, events_after,
};
pub use holds::{
    HoldRefused, HoldStamp, active_hold, active_holds, held_rows, hold_history, owner_not_held,
    place_hold, release_hold, user_not_held,
};
pub use identities::{IdentityUser, identity_user, link_identity, provision};
pub use kinds::{Columns, EntityKind, SoftDeletable};
pub use log::{ArchiveFilter, DeletionFilter, archived_row, deletion, deletions_by_ids};
pub use pooler::{is_pooler_symptom, is_startup_parameter_refusal};
pub use purge::{BatchOutcome, PurgeCursor, RowCounts, purge_batch, purge_candidates};
pub use redact::{Needles, REDACTED};
pub use restore::{
    LockedDeletion, RestoreError, RestoreRefused, deletion_for_update, hid_only_rows_of,
    members_deletion_for_update, members_deletion_hiding_for_update, restore,
};
pub use rows::{RowState, insert, live_user_with_role_exists, row_state, update_live};
pub use scope::{Page, Scope, Scoped, SeeDeleted, SeeHidden, Window};
pub use seed::{SeedUser, attachments_without_content, seed_batch, set_seeded_content};
pub use settings::{exclusively, setting, setting_or_insert};
pub use stats::{DayStats, DeletionStats, deletion_stats};
pub use stored::{Stored, fold, now, to_micros};
pub use webhooks::{
    WebhookClaim, WebhookNext, claim_webhook, record_webhook, webhook_backlog, webhook_pending,
};

mod sealed {
    /// Only this module can make one, so only this module can open a [`super::Handle`].
    pub struct Key(pub(super) ());
}

/// Something queries can run on: the pool ([`Db`]) or an open transaction ([`Tx`]).
///
/// The connection inside cannot be reached from outside this module: opening it needs a key
/// only this module can make.
///
/// Every statement runs through a [`budget::Metered`] executor, which counts it against the
/// handle's [`Budget`], if it has one.
pub trait Handle: Sync {
    #[doc(hidden)]
    fn executor(&self, key: sealed::Key) -> budget::Metered<'_>;
}

fn exec(h: &impl Handle) -> budget::Metered<'_> {
    h.executor(sealed::Key(()))
}

/// The database pool, with the budget of the request it serves, if any. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    #[allow(clippy::disallowed_types)] // the pool itself, never handed out
    conn: DatabaseConnection,
    /// What the request this handle serves may still take; `None`: unmetered.
    budget: Option<Arc<Budget>>,
    /// Whether the pool reaches PostgreSQL through a transaction pooler (`pooler.rs`).
    transaction_pooler: bool,
}

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    #[allow(clippy::disallowed_types)] // the transaction itself, never handed out
    txn: DatabaseTransaction,
    /// The budget of the request that began it: its statements count there.
    budget: Option<Arc<Budget>>,
    /// The request's connection permit this transaction's connection stands for.
    _permit: Option<OwnedSemaphorePermit>,
    /// Whether it wrote an event: its commit then wakes this process's subscribers.
    wrote_events: std::sync::atomic::AtomicBool,
}

impl Handle for Db {
    fn executor(&self, _: sealed::Key) -> budget::Metered<'_> {
        budget::Metered {
            inner: DatabaseExecutor::Connection(&self.conn),
            budget: self.budget.as_deref(),
            pooled: true,
            own_transactions: self.transaction_pooler,
        }
    }
}

impl Handle for Tx {
    fn executor(&self, _: sealed::Key) -> budget::Metered<'_> {
        budget::Metered {
            inner: DatabaseExecutor::Transaction(&self.txn),
            budget: self.budget.as_deref(),
            pooled: false,
            own_transactions: false,
        }
    }
}

impl Db {
    /// Applies pending migrations.
    ///
    /// Behind a transaction pooler they run in one transaction (each migration's own
    /// becoming a savepoint), so that the pooler keeps them on one server connection.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        if !self.transaction_pooler {
            return Migrator::up(&self.conn, None)
                .await
                .context("applying migrations");
        }
        let txn = self.conn.begin().await?;
        txn.execute_unprepared(pooler::FORGET_PREPARED).await?;
        Migrator::up(&txn, None)
            .await
            .context("applying migrations")?;
        txn.commit().await.context("applying migrations")
    }

    /// Closes the pool's connections.
    pub async fn close(self) {
        if let Err(err) = self.conn.close().await {
            tracing::debug!(%err, "closing a pool");
        }
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

    /// This pool, for one request that may run at most `max_statements` statements and
    /// hold at most [`CONNECTIONS_PER_REQUEST`] connections at once.
    pub fn budgeted(&self, max_statements: u32) -> Db {
        Db {
            conn: self.conn.clone(),
            budget: Some(Arc::new(Budget::new(max_statements))),
            transaction_pooler: self.transaction_pooler,
        }
    }

    /// This pool without a budget: for batch jobs a request starts (a purge runs batch after
    /// batch, each one transaction, however many statements that takes).
    pub fn unbudgeted(&self) -> Db {
        Db {
            conn: self.conn.clone(),
            budget: None,
            transaction_pooler: self.transaction_pooler,
        }
    }

    /// The budget this handle spends, if any.
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_deref()
    }

    /// Starts a transaction for a change that must apply whole or not at all. On SQLite it
    /// takes the write lock up front (`BEGIN IMMEDIATE`), so two writers queue instead of one
    /// failing half-way when it tries to upgrade a read lock.
    /// With a budget, the transaction holds one of the request's connection permits.
    pub async fn begin(&self) -> Result<Tx, DbErr> {
        let permit = match &self.budget {
            Some(budget) => Some(budget.connection().await?),
            None => None,
        };
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        if self.transaction_pooler {
            txn.execute_unprepared(pooler::FORGET_PREPARED).await?;
        }
        Ok(Tx {
            txn,
            budget: self.budget.clone(),
            _permit: permit,
            wrote_events: Default::default(),
        })
    }
}

impl Tx {
    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<(), DbErr> {
        let wrote_events = self.wrote_events.into_inner();
        self.txn.commit().await?;
        if wrote_events {
            event_feed::committed();
        }
        Ok(())
    }

    /// Undoes the transaction's changes now (dropping it does so too, later).
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

//! What one request may take from the database: at most so many SQL statements, and at most
//! [`CONNECTIONS_PER_REQUEST`] pool connections at once.
//!
//! async-graphql resolves a selection's fields concurrently, so a request of many aliases
//! would otherwise hold as many pool connections as it has fields and leave none for anyone
//! else; and a cost model can only estimate what runs. This is the backstop at run time:
//! every statement goes through [`Metered`] (the only way past the sealed handle), which
//! counts it against its request's [`Budget`] and, outside a transaction, holds one of the
//! request's connection permits while it runs. A transaction holds one permit for its whole
//! life. Past the budget a statement is refused with our own `DbErr`, which
//! [`crate::error::Error`] turns into `LIMIT_EXCEEDED` for the field that asked.
//!
//! A handle without a budget (the server's pool, batch jobs such as a purge, the CLI) runs
//! unmetered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[allow(clippy::disallowed_types)] // wraps the executor; the connection stays inside
use sea_orm::{
    ConnectionTrait, DatabaseExecutor, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{NO_CONNECTION_IN_TIME, OVER_STATEMENT_BUDGET};

/// Pool connections one request may hold at once.
pub const CONNECTIONS_PER_REQUEST: usize = 2;

/// How long a statement waits for one of its request's connections before it gives up. A
/// request's fields wait on each other only while one of them runs a statement, so this is
/// only reached when the database itself stalls.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// One request's allowance: statements left, and its connection permits.
#[derive(Debug)]
pub struct Budget {
    max: u32,
    used: AtomicU32,
    connections: Arc<Semaphore>,
    /// The most connections held at once so far (for tests and logs).
    peak: AtomicU32,
}

impl Budget {
    /// A fresh allowance of `max` statements.
    pub fn new(max: u32) -> Budget {
        Budget {
            max,
            used: AtomicU32::new(0),
            connections: Arc::new(Semaphore::new(CONNECTIONS_PER_REQUEST)),
            peak: AtomicU32::new(0),
        }
    }

    /// Statements run (or refused) so far.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::Relaxed).min(self.max)
    }

    /// The most connections this request has held at once.
    pub fn peak_connections(&self) -> u32 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Takes one statement from the allowance, or refuses once it is spent.
    fn spend(&self) -> Result<(), DbErr> {
        let before = self.used.fetch_add(1, Ordering::Relaxed);
        if before >= self.max {
            self.used.store(self.max, Ordering::Relaxed);
            return Err(DbErr::Custom(format!(
                "{OVER_STATEMENT_BUDGET}{}",
                self.max
            )));
        }
        Ok(())
    }

    /// One of the request's connection permits, waiting while both are in use.
    pub(super) async fn connection(&self) -> Result<OwnedSemaphorePermit, DbErr> {
        let permit =
            tokio::time::timeout(CONNECTION_WAIT, self.connections.clone().acquire_owned())
                .await
                .map_err(|_| {
                    DbErr::Custom(format!(
                        "{NO_CONNECTION_IN_TIME}{} s",
                        CONNECTION_WAIT.as_secs()
                    ))
                })?
                .map_err(|_| DbErr::Custom(format!("{NO_CONNECTION_IN_TIME}(closed)")))?;
        let held = CONNECTIONS_PER_REQUEST - self.connections.available_permits();
        self.peak
            .fetch_max(u32::try_from(held).unwrap_or(u32::MAX), Ordering::Relaxed);
        Ok(permit)
    }
}

/// An executor that counts each statement against a budget, and outside a transaction holds
/// one of the request's connection permits while the statement runs.
pub struct Metered<'a> {
    pub(super) inner: DatabaseExecutor<'a>,
    pub(super) budget: Option<&'a Budget>,
    /// Whether statements take a connection of their own (the pool), rather than the one a
    /// transaction already holds.
    pub(super) pooled: bool,
    /// Whether each statement on the pool runs in a transaction of its own (behind a
    /// transaction pooler: `pooler.rs`).
    pub(super) own_transactions: bool,
}

impl Metered<'_> {
    /// Spends one statement and, on the pool, takes a connection permit for it.
    async fn admit(&self) -> Result<Option<OwnedSemaphorePermit>, DbErr> {
        let Some(budget) = self.budget else {
            return Ok(None);
        };
        budget.spend()?;
        if self.pooled {
            budget.connection().await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// Behind a transaction pooler, a transaction of its own for a statement on the pool.
    #[allow(clippy::disallowed_types)] // the transaction stays inside this module
    async fn own_transaction(&self) -> Result<Option<DatabaseTransaction>, DbErr> {
        match &self.inner {
            DatabaseExecutor::Connection(conn) if self.own_transactions => {
                super::pooler::own_transaction(conn).await.map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Runs `$call` on the statement's own transaction (committed after it) when it has one,
/// else on the executor.
macro_rules! on_own_transaction {
    ($self:ident, $method:ident, $arg:expr) => {
        match $self.own_transaction().await? {
            Some(txn) => {
                let out = txn.$method($arg).await?;
                txn.commit().await?;
                Ok(out)
            }
            None => $self.inner.$method($arg).await,
        }
    };
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for Metered<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _permit = self.admit().await?;
        on_own_transaction!(self, execute_raw, stmt)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _permit = self.admit().await?;
        on_own_transaction!(self, execute_unprepared, sql)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let _permit = self.admit().await?;
        on_own_transaction!(self, query_one_raw, stmt)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let _permit = self.admit().await?;
        on_own_transaction!(self, query_all_raw, stmt)
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

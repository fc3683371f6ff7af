//! Working behind a transaction pooler (`KEEPSAKE_PG_POOLER=transaction`: PgBouncer's
//! `pool_mode = transaction`, and the pooled URLs of managed PostgreSQL).
//!
//! Such a pooler lends a server connection to a client for one transaction, then to another
//! client. Two things of sqlx's do not survive that:
//!
//! - it prepares a statement with one round trip (Parse, Describe, Sync) and runs it with a
//!   second (Bind, Execute, Sync); outside a transaction the pooler may hand the second to
//!   another server connection, where that statement does not exist;
//! - it names its statements `sqlx_s_1`, `sqlx_s_2`, … per client connection, so a name one
//!   client left on a server connection meets another client's same name there ("prepared
//!   statement … already exists").
//!
//! So in this mode the pool keeps no statement cache (nothing is assumed to outlive a
//! transaction), every statement runs inside a transaction (one of its own when the caller
//! has none: the pooler then keeps both round trips on one server connection), and every
//! transaction first drops the prepared statements its server connection still holds from
//! earlier clients. That costs three round trips more for a statement on its own and one
//! more for a transaction; docs/several-servers.md has the measured price.
//!
//! Advisory locks are all transaction-scoped (`pg_advisory_xact_lock`,
//! `pg_try_advisory_xact_lock`), so they need nothing here. Migrations and LISTEN use the
//! direct connection (`KEEPSAKE_DIRECT_DATABASE_URL`) when there is one; without it
//! migrations run through the pooler in one transaction (`Db::migrate`), and nothing
//! LISTENs (`app::events_url`).

#[allow(clippy::disallowed_types)] // the transaction stays inside this module
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

/// Drops every prepared statement of the server connection a transaction holds: what
/// earlier clients of the pooler left there.
pub(super) const FORGET_PREPARED: &str = "DEALLOCATE ALL";

/// A transaction on `conn` for one statement, its server connection cleared of other
/// clients' prepared statements.
#[allow(clippy::disallowed_types)] // the pool and a transaction, never handed out
pub(super) async fn own_transaction(
    conn: &DatabaseConnection,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = conn.begin().await?;
    txn.execute_unprepared(FORGET_PREPARED).await?;
    Ok(txn)
}

/// Whether `err` (anywhere in its chain) is PostgreSQL's complaint about a prepared statement
/// that already exists or does not: the sign of a transaction pooler reached without
/// `KEEPSAKE_PG_POOLER=transaction`.
pub fn is_pooler_symptom(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let text = cause.to_string();
        text.contains("prepared statement")
            && (text.contains("already exists") || text.contains("does not exist"))
    })
}

/// Whether `err` is PgBouncer's refusal of a startup parameter sqlx sends.
pub fn is_startup_parameter_refusal(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.to_string().contains("unsupported startup parameter"))
}

//! The database a server starts with: connected (through a transaction pooler when
//! `KEEPSAKE_PG_POOLER=transaction` says so), migrated on the direct connection when there is
//! one, failures that point at a pooler put in one line naming the setting; and the
//! connection the server LISTENs on for other servers' events.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{Settings, guard_sqlite_file, redact_url};
use crate::metrics::Metrics;
use crate::soft_delete::{self, Db};

/// Connects and migrates (on `KEEPSAKE_DIRECT_DATABASE_URL` when it is set), counting
/// statements into a fresh [`Metrics`]. A failure that points at a pooler says which setting
/// to use.
pub async fn connect(settings: &Settings) -> anyhow::Result<(Db, Arc<Metrics>)> {
    let url = &settings.database_url;
    guard_sqlite_file(url)?;
    let metrics = Arc::new(Metrics::default());
    let counter = metrics.clone();
    let db = Db::connect(url, settings.transaction_pooler, move || {
        counter.db_statement()
    })
    .await
    .with_context(|| {
        format!(
            "DATABASE_URL (--database-url): cannot connect to {}",
            redact_url(url)
        )
    })
    .map_err(|err| pooler_hint(err, settings))?;
    match &settings.direct_database_url {
        Some(direct) => {
            let setting = "KEEPSAKE_DIRECT_DATABASE_URL (--direct-database-url)";
            let migrating = Db::connect(direct, false, || {})
                .await
                .with_context(|| format!("{setting}: cannot connect to {}", redact_url(direct)))?;
            let migrated = migrating.migrate().await;
            migrating.close().await;
            migrated.map_err(|err| pooler_hint(err, settings))?;
        }
        None => db
            .migrate()
            .await
            .map_err(|err| pooler_hint(err, settings))?,
    }
    Ok((db, metrics))
}

/// `err`, or when it is what a pooler does to a client not set up for it, one line saying
/// what to set instead (never the driver's message with its internal locations).
fn pooler_hint(err: anyhow::Error, settings: &Settings) -> anyhow::Error {
    let at = redact_url(&settings.database_url);
    if soft_delete::is_startup_parameter_refusal(&err) {
        return anyhow::anyhow!(
            "DATABASE_URL (--database-url): {at} refuses a startup parameter, as PgBouncer does; \
             behind its transaction pooling set KEEPSAKE_PG_POOLER=transaction, behind its \
             session pooling add `ignore_startup_parameters = extra_float_digits` to pgbouncer.ini"
        );
    }
    if !soft_delete::is_pooler_symptom(&err) {
        return err;
    }
    if !settings.transaction_pooler {
        anyhow::anyhow!(
            "DATABASE_URL (--database-url): {at} shares server connections between clients (a \
             transaction pooler, such as PgBouncer with pool_mode = transaction); set \
             KEEPSAKE_PG_POOLER=transaction, and KEEPSAKE_DIRECT_DATABASE_URL to a direct \
             connection for migrations"
        )
    } else {
        anyhow::anyhow!(
            "KEEPSAKE_DIRECT_DATABASE_URL (--direct-database-url): migrations cannot run through \
             the transaction pooler at {at}; set it to a direct connection to PostgreSQL"
        )
    }
}

/// On PostgreSQL, where this server LISTENs for the events other servers commit: the direct
/// connection. A transaction pooler would hand the listening connection to other clients,
/// so behind one without `KEEPSAKE_DIRECT_DATABASE_URL` there is no LISTEN: subscriptions then
/// learn of other servers' events from their once-a-second look at the outbox.
pub(super) fn events_url(settings: &Settings, backend: sea_orm::DbBackend) -> Option<String> {
    if backend != sea_orm::DbBackend::Postgres {
        return None;
    }
    if settings.transaction_pooler && settings.direct_database_url.is_none() {
        tracing::warn!(
            "KEEPSAKE_PG_POOLER=transaction without KEEPSAKE_DIRECT_DATABASE_URL: no LISTEN \
             through the pooler, so subscriptions hear other servers' events within a second \
             instead of at once; set KEEPSAKE_DIRECT_DATABASE_URL to a direct connection"
        );
        return None;
    }
    Some(settings.direct_url().to_owned())
}

//! Opening the pool: connection options, and first-contact probes that say what is wrong.

use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database};

use super::Db;

/// Connections in the pool. Each request holds at most two at once
/// ([`super::CONNECTIONS_PER_REQUEST`]), so ten let five requests run statements side by side
/// while the rest wait their turn in the pool's queue, not in PostgreSQL's. A database
/// server does its best work with a few busy connections (PostgreSQL's own rule of thumb is
/// about twice its cores), and PostgreSQL's default `max_connections` of 100 leaves room
/// for nine such servers and an operator's `psql`. Measured on two cores
/// (`bench/hostile.sh`): one member's heaviest accepted requests on four connections leave
/// another user's `{ me { id } }` at a p99 under 35 ms.
pub const POOL_SIZE: u32 = 10;

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`); `transaction_pooler`: through a
    /// transaction pooler (`pooler.rs`). `on_statement` is told of every SQL statement the
    /// pool runs (the `keepsake_db_statements_total` metric).
    pub async fn connect(
        url: &str,
        transaction_pooler: bool,
        on_statement: impl Fn() + Send + Sync + 'static,
    ) -> anyhow::Result<Db> {
        // The pool retries a refused connection until its acquire timeout; one probe first
        // turns the usual first mistakes into one prompt line.
        if is_postgres_url(url) {
            probe_postgres(url, transaction_pooler).await?;
        }
        let mut opts = ConnectOptions::new(without_loopback_tls(url));
        opts.sqlx_logging(false)
            .max_connections(POOL_SIZE)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // WAL lets readers run beside the one writer; writers wait rather than fail.
            // `secure_delete` zeroes what a write frees (a deleted row's bytes, an old
            // version of a page) instead of leaving it in free pages: an erasure's text is
            // then gone from the file, not merely unreachable (docs/erasure.md).
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("secure_delete", "ON")
            })
            .map_sqlx_postgres_opts(move |o| behind_pooler(o, transaction_pooler));
        #[allow(clippy::disallowed_methods)] // the pool itself: the one connection
        let mut conn = Database::connect(opts).await?;
        conn.set_metric_callback(move |_| on_statement());
        Ok(Db {
            conn,
            budget: None,
            transaction_pooler,
        })
    }

    /// Creates the PostgreSQL database `url` names when it does not exist, connecting to the
    /// server's `postgres` database to do so; returns whether it created it. SQLite files are
    /// created by `?mode=rwc`, so for them this does nothing.
    pub async fn create_database_if_missing(url: &str) -> anyhow::Result<bool> {
        use sea_orm::sqlx::Connection as _;
        if !is_postgres_url(url) {
            return Ok(false);
        }
        let target = postgres_options(&without_loopback_tls(url))?;
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
}

/// `url`, with `sslmode=disable` added when it names PostgreSQL on this machine (loopback
/// or a Unix socket) and neither the URL nor `PGSSLMODE` chooses a mode. libpq's default,
/// `prefer`, would encrypt every row across the loopback interface, where TLS protects
/// nothing and costs both sides CPU on every response. Any other host keeps the default.
pub(super) fn without_loopback_tls(url: &str) -> String {
    if !is_postgres_url(url) {
        return url.to_owned();
    }
    let chosen =
        url.to_ascii_lowercase().contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
    let local = postgres_options(url).is_ok_and(|o| {
        let host = o.get_host();
        host.starts_with('/') || matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
    });
    if chosen || !local {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn postgres_options(url: &str) -> anyhow::Result<sea_orm::sqlx::postgres::PgConnectOptions> {
    url.parse()
        .map_err(|err| anyhow::anyhow!("not a PostgreSQL URL: {err}"))
}

/// Connection options fit for a transaction pooler when `transaction_pooler`: no statement
/// cache, since no prepared statement outlives a transaction there, and no
/// `extra_float_digits` startup parameter, which PgBouncer refuses unless told to ignore it
/// (PostgreSQL 12 and later send floats exactly without it).
fn behind_pooler(
    options: sea_orm::sqlx::postgres::PgConnectOptions,
    transaction_pooler: bool,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    if transaction_pooler {
        options.statement_cache_capacity(0).extra_float_digits(None)
    } else {
        options
    }
}

/// Connects once to PostgreSQL and says plainly why that failed.
async fn probe_postgres(url: &str, transaction_pooler: bool) -> anyhow::Result<()> {
    use sea_orm::sqlx::Connection as _;
    // As the pool will connect: a TLS handshake here, on loopback, cost every command and
    // start ~90 ms (rustls loading its roots) and protected nothing.
    let url = without_loopback_tls(url);
    let conn = probe(behind_pooler(postgres_options(&url)?, transaction_pooler)).await?;
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

#[cfg(test)]
mod tests {
    use super::without_loopback_tls;

    #[test]
    fn tls_is_left_out_only_on_this_machine_and_only_when_no_mode_is_chosen() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return; // the environment chose; nothing is added then
        }
        assert_eq!(
            without_loopback_tls("postgres://postgres@127.0.0.1:5432/db"),
            "postgres://postgres@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            without_loopback_tls("postgres://u@localhost/db?application_name=k"),
            "postgres://u@localhost/db?application_name=k&sslmode=disable"
        );
        for kept in [
            "postgres://u@db.example.com/db",
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgresql://u@10.0.0.5:5432/db",
            "sqlite://keepsake.db?mode=rwc",
        ] {
            assert_eq!(without_loopback_tls(kept), kept);
        }
    }
}

//! Configuration: the command line and its environment variables, in one place (SPEC §1).
//!
//! clap reads flags and variables; [`Settings::from_args`] then checks every value and fails
//! with one line naming the setting, so a bad deployment stops at once and says why.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::duration;

/// Keepsake: a GraphQL API for users and their attachments in which nothing is lost by
/// accident.
#[derive(Debug, Parser)]
#[command(
    name = "keepsake",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// `serve`'s options, for when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database URL: `sqlite://…` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://keepsake.db?mode=rwc",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,
    /// HS256 signing secret for bearer tokens; generated once and kept in the database when
    /// unset. Set it in production.
    #[arg(
        long,
        env = "KEEPSAKE_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// How long a member may undo their own deletion.
    #[arg(
        long,
        env = "KEEPSAKE_UNDO_WINDOW",
        default_value = "15m",
        global = true
    )]
    pub undo_window: String,
    /// Log filter, like `info` or `keepsake=debug,info`. (PostgreSQL's notices, such as
    /// "relation already exists, skipping" at each start, are kept to warnings by default.)
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info,sqlx::postgres::notice=warn",
        global = true
    )]
    pub log: String,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print a signed bearer token for a live user.
    Token {
        /// The user's GraphQL id.
        #[arg(long)]
        user: String,
        /// How long the token is valid.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Archive, then erase, rows soft-deleted longer ago than --older-than.
    Purge {
        /// Purge rows deleted longer ago than this (e.g. 30d).
        #[arg(long)]
        older_than: String,
        /// Count what would be purged; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per batch; each batch is one transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u64,
    },
    /// Bulk-load synthetic data for benchmarks and demos.
    Seed {
        /// Users to create.
        #[arg(long)]
        users: u64,
        /// Attachments per user.
        #[arg(long, default_value_t = 0)]
        attachments_per_user: u64,
        /// Fraction of those users deleted (with their attachments), 0 to 1.
        #[arg(long, default_value_t = 0.0)]
        deleted_fraction: f64,
        /// Also create this many times --users extra users, all deleted (deleted-heavy
        /// databases for benchmarks).
        #[arg(long, default_value_t = 0.0)]
        deleted_multiplier: f64,
    },
    /// The archive of purged rows.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Verify the soft-delete invariants on the database: exit 0 when all hold, else 1 with
    /// one line per violation.
    Check {
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// `keepsake archive …`.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Print archived rows as JSON lines, oldest first.
    Export {
        /// Only rows archived at or after this RFC 3339 moment or this long ago (e.g. 30d).
        #[arg(long)]
        since: Option<String>,
    },
}

/// `keepsake serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEEPSAKE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Load a small demo data set (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Purge rows soft-deleted longer ago than this, on a schedule (unset: never).
    #[arg(long, env = "KEEPSAKE_RETENTION")]
    pub retention: Option<String>,
    /// How often the retention purge runs.
    #[arg(long, env = "KEEPSAKE_RETENTION_INTERVAL", default_value = "1h")]
    pub retention_interval: String,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            bind: "127.0.0.1:8000".into(),
            demo: false,
            retention: None,
            retention_interval: "1h".into(),
        }
    }
}

/// `keepsake user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its id on the last line.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// member, support or admin.
        #[arg(long, default_value = "member")]
        role: String,
    },
}

/// Checked configuration of the server and the CLI.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the data lives.
    pub database_url: String,
    /// Signing secret from the environment, if any.
    pub jwt_secret: Option<String>,
    /// How long a member may undo their own deletion.
    pub undo_window: Duration,
    /// Listen address (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Load the demo data set at start.
    pub demo: bool,
    /// Purge rows deleted longer ago than this, on a schedule.
    pub retention: Option<Duration>,
    /// How often the retention purge runs.
    pub retention_interval: Duration,
}

/// A setting that cannot be used; its message names the setting and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    /// The variable and flag, e.g. `DATABASE_URL (--database-url)`.
    pub setting: &'static str,
    /// What is wrong and what would be right.
    pub problem: String,
}

impl Settings {
    /// Checks every value; the first bad one is the error.
    pub fn from_args(global: &GlobalArgs, serve: &ServeArgs) -> Result<Settings, ConfigError> {
        check_database_url(&global.database_url)?;
        let undo_window = duration::parse(&global.undo_window).map_err(|problem| ConfigError {
            setting: "KEEPSAKE_UNDO_WINDOW (--undo-window)",
            problem,
        })?;
        if let Some(secret) = &global.jwt_secret
            && secret.len() < 16
        {
            return Err(ConfigError {
                setting: "KEEPSAKE_JWT_SECRET (--jwt-secret)",
                problem: "too short; use at least 16 characters (32 random bytes is better)".into(),
            });
        }
        let bind = serve.bind.parse().map_err(|_| ConfigError {
            setting: "KEEPSAKE_BIND (--bind)",
            problem: format!(
                "'{}' is not a socket address; write it like 127.0.0.1:8000",
                serve.bind
            ),
        })?;
        let retention = serve
            .retention
            .as_deref()
            .map(duration::parse)
            .transpose()
            .map_err(|problem| ConfigError {
                setting: "KEEPSAKE_RETENTION (--retention)",
                problem,
            })?;
        let retention_interval = duration::parse(&serve.retention_interval)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError {
                setting: "KEEPSAKE_RETENTION_INTERVAL (--retention-interval)",
                problem: format!(
                    "'{}' is not a positive duration; write it like 90s, 15m or 1h",
                    serve.retention_interval
                ),
            })?;
        Ok(Settings {
            database_url: global.database_url.clone(),
            jwt_secret: global.jwt_secret.clone(),
            undo_window,
            bind,
            demo: serve.demo,
            retention,
            retention_interval,
        })
    }

    /// Settings for tests and embedding: this database, a free port, nothing else set.
    pub fn for_database(database_url: impl Into<String>) -> Settings {
        Settings {
            database_url: database_url.into(),
            jwt_secret: None,
            undo_window: Duration::from_secs(15 * 60),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            demo: false,
            retention: None,
            retention_interval: Duration::from_secs(3600),
        }
    }
}

/// Accepts `sqlite:` and `postgres:`/`postgresql:` URLs only.
pub fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            setting: "DATABASE_URL (--database-url)",
            problem: format!(
                "'{}' is not a database URL; use sqlite://keepsake.db?mode=rwc or postgres://user@host/db",
                redact_url(url)
            ),
        })
    }
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/keepsake"),
            "postgres://app:***@db:5432/keepsake"
        );
        assert_eq!(
            redact_url("postgres://app@db/keepsake"),
            "postgres://app@db/keepsake"
        );
        assert_eq!(
            redact_url("sqlite://keepsake.db?mode=rwc"),
            "sqlite://keepsake.db?mode=rwc"
        );
    }

    #[test]
    fn rejects_unknown_schemes() {
        assert!(check_database_url("mysql://root@localhost/x").is_err());
        assert!(check_database_url("keepsake.db").is_err());
        assert!(check_database_url("sqlite::memory:").is_ok());
    }
}

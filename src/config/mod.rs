//! Configuration: the command line and its environment variables, in one place
//! (README "Configuration"; docs/DESIGN.md#configuration).
//!
//! clap reads flags and variables ([`Cli`], in `args`); [`Settings::from_args`] then checks
//! every value and fails with one line naming the setting, so a bad deployment stops at once
//! and says why. The checks live by topic: `network` (the listen address and the browser
//! origins CORS lets in) and `database` (the database URL, its redaction in messages, and the
//! SQLite file's permissions).

mod args;
mod database;
mod network;
mod oidc;
mod webhook;

use std::net::SocketAddr;
use std::time::Duration;

use crate::duration;

pub use args::{
    ArchiveCommand, Cli, Command, GlobalArgs, ReportingCommand, ServeArgs, UserCommand,
};
pub(crate) use database::guard_sqlite_file;
pub use database::{check_database_url, check_pooler, redact_url, sqlite_path};
pub use network::{CorsOrigins, parse_bind};
pub use oidc::{OidcArgs, OidcSettings};
pub use webhook::WebhookSettings;

/// Checked configuration of the server and the CLI.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the data lives.
    pub database_url: String,
    /// Whether `database_url` reaches PostgreSQL through a transaction pooler
    /// (`KEEPSAKE_PG_POOLER=transaction`).
    pub transaction_pooler: bool,
    /// A direct connection for migrations and LISTEN (`KEEPSAKE_DIRECT_DATABASE_URL`).
    pub direct_database_url: Option<String>,
    /// Signing secret from the environment, if any.
    pub jwt_secret: Option<String>,
    /// How long a member may undo their own deletion.
    pub undo_window: Duration,
    /// How long the outbox keeps an event (`KEEPSAKE_EVENT_RETENTION`).
    pub event_retention: Duration,
    /// Listen address (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Load the demo data set at start.
    pub demo: bool,
    /// Purge rows deleted longer ago than this, on a schedule.
    pub retention: Option<Duration>,
    /// Erase archived rows archived longer ago than this, on the retention job's schedule
    /// (`KEEPSAKE_ARCHIVE_RETENTION`; `None`: keep them forever).
    pub archive_retention: Option<Duration>,
    /// How often the retention job runs (the purge, dropping old events, erasing old archived
    /// rows).
    pub retention_interval: Duration,
    /// Which browser origins may call the API (CORS).
    pub cors_origins: CorsOrigins,
    /// Where attachments' bytes live (`file://PATH` or `s3://BUCKET/PREFIX`).
    pub storage: String,
    /// object_store's `aws_*` options for an `s3://` store, over the AWS variables (for
    /// embedding and tests; the server reads the variables).
    pub storage_options: Vec<(String, String)>,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
    /// What one request and one viewer may take.
    pub limits: Limits,
    /// A second address serving `/metrics` to anyone (`KEEPSAKE_METRICS_BIND`).
    pub metrics_bind: Option<SocketAddr>,
    /// Where events are POSTed, and their signing key (`KEEPSAKE_WEBHOOK_URL`, `_SECRET`).
    pub webhook: Option<WebhookSettings>,
    /// The external OpenID Connect issuer whose tokens sign users in (`KEEPSAKE_OIDC_*`).
    pub oidc: Option<OidcSettings>,
    /// How long a stopping server keeps answering while `/healthz` says 503
    /// (`KEEPSAKE_DRAIN`).
    pub drain: Duration,
    /// How long requests in flight may take to finish after the drain
    /// (`KEEPSAKE_SHUTDOWN_GRACE`).
    pub shutdown_grace: Duration,
}

/// What one request, one viewer and one upload may take: the bounds that keep one hostile
/// or careless client from starving the others (each is a setting; see `docs/limits.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// SQL statements one GraphQL request may run (`KEEPSAKE_MAX_STATEMENTS`).
    pub max_statements: u32,
    /// Requests one viewer (or one address without a token) may have in flight
    /// (`KEEPSAKE_MAX_CONCURRENT`).
    pub max_concurrent: u32,
    /// Subscriptions one viewer may have open (`KEEPSAKE_MAX_SUBSCRIPTIONS`).
    pub max_subscriptions: u32,
    /// Lexical tokens one GraphQL document may hold (`KEEPSAKE_MAX_TOKENS`).
    pub max_tokens: u32,
    /// Files, and `map` entries, one multipart request may carry (`KEEPSAKE_MAX_FILES`).
    pub max_files: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_statements: 100,
            max_concurrent: 32,
            max_subscriptions: 16,
            max_tokens: 5_000,
            max_files: 10,
        }
    }
}

impl Limits {
    /// Checks `serve`'s limit settings, each a whole number in its range.
    fn from_args(serve: &ServeArgs) -> Result<Limits, ConfigError> {
        Ok(Limits {
            max_statements: count(
                "KEEPSAKE_MAX_STATEMENTS (--max-statements)",
                &serve.max_statements,
                1..=1_000_000,
            )?,
            max_concurrent: count(
                "KEEPSAKE_MAX_CONCURRENT (--max-concurrent)",
                &serve.max_concurrent,
                1..=100_000,
            )?,
            max_subscriptions: count(
                "KEEPSAKE_MAX_SUBSCRIPTIONS (--max-subscriptions)",
                &serve.max_subscriptions,
                1..=10_000,
            )?,
            max_tokens: count(
                "KEEPSAKE_MAX_TOKENS (--max-tokens)",
                &serve.max_tokens,
                100..=1_000_000,
            )?,
            max_files: count(
                "KEEPSAKE_MAX_FILES (--max-files)",
                &serve.max_files,
                1..=1_000,
            )?,
        })
    }
}

/// A whole number within `range`, or an error naming `setting`.
fn count(
    setting: &'static str,
    text: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError {
            setting,
            problem: format!(
                "'{text}' is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        })
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
        let transaction_pooler = check_pooler(global.pg_pooler.as_deref(), &global.database_url)?;
        if let Some(direct) = &global.direct_database_url
            && !(direct.starts_with("postgres://") || direct.starts_with("postgresql://"))
        {
            return Err(ConfigError {
                setting: "KEEPSAKE_DIRECT_DATABASE_URL (--direct-database-url)",
                problem: format!(
                    "'{}' is not a PostgreSQL URL; write postgres://user@host:5432/db",
                    redact_url(direct)
                ),
            });
        }
        let drain = duration::parse(&serve.drain).map_err(|problem| ConfigError {
            setting: "KEEPSAKE_DRAIN (--drain)",
            problem,
        })?;
        let shutdown_grace = duration::parse(&serve.shutdown_grace)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError {
                setting: "KEEPSAKE_SHUTDOWN_GRACE (--shutdown-grace)",
                problem: format!(
                    "'{}' is not a positive duration; write it like 30s or 2m",
                    serve.shutdown_grace
                ),
            })?;
        let undo_window = duration::parse(&global.undo_window).map_err(|problem| ConfigError {
            setting: "KEEPSAKE_UNDO_WINDOW (--undo-window)",
            problem,
        })?;
        let event_retention = duration::parse(&global.event_retention)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError {
                setting: "KEEPSAKE_EVENT_RETENTION (--event-retention)",
                problem: format!(
                    "'{}' is not a positive duration; write it like 90s, 15m, 24h or 7d",
                    global.event_retention
                ),
            })?;
        if let Some(secret) = &global.jwt_secret
            && secret.len() < 16
        {
            return Err(ConfigError {
                setting: "KEEPSAKE_JWT_SECRET (--jwt-secret)",
                problem: "too short; use at least 16 characters (32 random bytes is better)".into(),
            });
        }
        let bind = parse_bind(&serve.bind)?;
        let retention = serve
            .retention
            .as_deref()
            .map(duration::parse)
            .transpose()
            .map_err(|problem| ConfigError {
                setting: "KEEPSAKE_RETENTION (--retention)",
                problem,
            })?;
        let archive_retention = serve
            .archive_retention
            .as_deref()
            .map(|text| {
                duration::parse(text)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| ConfigError {
                        setting: "KEEPSAKE_ARCHIVE_RETENTION (--archive-retention)",
                        problem: format!(
                            "'{text}' is not a positive duration; write it like 90d, 365d or \
                             24h, or leave it unset to keep the archive forever"
                        ),
                    })
            })
            .transpose()?;
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
        let cors_origins = serve
            .cors_origins
            .as_deref()
            .map(CorsOrigins::parse)
            .transpose()?
            .unwrap_or_default();
        let storage = check_storage(&global.storage)?;
        let max_upload = parse_size(&serve.max_upload).map_err(|problem| ConfigError {
            setting: "KEEPSAKE_MAX_UPLOAD (--max-upload)",
            problem,
        })?;
        let limits = Limits::from_args(serve)?;
        let metrics_bind = serve
            .metrics_bind
            .as_deref()
            .map(parse_bind)
            .transpose()
            .map_err(|err| ConfigError {
                setting: "KEEPSAKE_METRICS_BIND (--metrics-bind)",
                problem: err.problem,
            })?;
        let webhook = WebhookSettings::from_args(
            serve.webhook_url.as_deref(),
            serve.webhook_secret.as_deref(),
        )?;
        let oidc = OidcSettings::from_args(OidcArgs {
            issuer: serve.oidc_issuer.as_deref(),
            audience: serve.oidc_audience.as_deref(),
            client_id: serve.oidc_client_id.as_deref(),
            role_claim: serve.oidc_role_claim.as_deref(),
            roles: &serve.oidc_roles,
            link_by_email: serve.oidc_link_by_email,
        })?;
        Ok(Settings {
            webhook,
            oidc,
            storage,
            storage_options: Vec::new(),
            max_upload,
            limits,
            metrics_bind,
            database_url: global.database_url.clone(),
            transaction_pooler,
            direct_database_url: global.direct_database_url.clone(),
            drain,
            shutdown_grace,
            jwt_secret: global.jwt_secret.clone(),
            undo_window,
            event_retention,
            bind,
            demo: serve.demo,
            retention,
            archive_retention,
            retention_interval,
            cors_origins,
        })
    }

    /// The URL of a direct connection to the database, past any pooler: for migrations,
    /// creating the database and LISTEN (`KEEPSAKE_DIRECT_DATABASE_URL`, else `DATABASE_URL`).
    pub fn direct_url(&self) -> &str {
        self.direct_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// Settings for tests and embedding: this database, a free port, nothing else set.
    pub fn for_database(database_url: impl Into<String>) -> Settings {
        Settings {
            database_url: database_url.into(),
            transaction_pooler: false,
            direct_database_url: None,
            drain: DEFAULT_DRAIN,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            jwt_secret: None,
            undo_window: Duration::from_secs(15 * 60),
            event_retention: DEFAULT_EVENT_RETENTION,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            demo: false,
            retention: None,
            archive_retention: None,
            retention_interval: Duration::from_secs(3600),
            cors_origins: CorsOrigins::None,
            storage: DEFAULT_STORAGE.into(),
            storage_options: Vec::new(),
            max_upload: DEFAULT_MAX_UPLOAD,
            limits: Limits::default(),
            metrics_bind: None,
            webhook: None,
            oidc: None,
        }
    }
}

/// How long events are kept unless `KEEPSAKE_EVENT_RETENTION` says otherwise: 7 days (the
/// flag's default, `7d`).
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a stopping server keeps answering unless `KEEPSAKE_DRAIN` says otherwise.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);
/// How long requests in flight may take to finish unless `KEEPSAKE_SHUTDOWN_GRACE` says
/// otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Where attachments' bytes live unless `KEEPSAKE_STORAGE` says otherwise.
pub const DEFAULT_STORAGE: &str = "file://keepsake-blobs";
/// The largest upload unless `KEEPSAKE_MAX_UPLOAD` says otherwise: 100 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 100 * 1024 * 1024;

/// A `KEEPSAKE_STORAGE` value this server can use: `file://PATH` or `s3://BUCKET[/PREFIX]`.
fn check_storage(url: &str) -> Result<String, ConfigError> {
    let problem = match url.split_once("://") {
        Some(("file", path)) if !path.is_empty() => return Ok(url.to_owned()),
        Some(("s3", rest)) if !rest.is_empty() && !rest.starts_with('/') => {
            return Ok(url.to_owned());
        }
        Some(("file", _)) => {
            "names no folder; write file://PATH, like file://keepsake-blobs".into()
        }
        Some(("s3", _)) => "names no bucket; write s3://BUCKET/PREFIX".to_owned(),
        _ => format!(
            "'{url}' is not a storage URL; write file://PATH (like file://keepsake-blobs) or \
             s3://BUCKET/PREFIX"
        ),
    };
    Err(ConfigError {
        setting: "KEEPSAKE_STORAGE (--storage)",
        problem,
    })
}

/// A size like `100MiB`, `10MB`, `512KiB`, `1GiB` or a plain byte count; at least one byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_bytes: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && unit_bytes > 0)
        .and_then(|n| n.checked_mul(unit_bytes))
        .ok_or_else(|| {
            format!("'{text}' is not a size; write it like 100MiB, 512KiB, 10MB or 1048576")
        })
}

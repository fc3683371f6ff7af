//! The command line as clap reads it: the global settings, the subcommands and their flags,
//! each with the environment variable that may stand for it.

use clap::{Args, Parser, Subcommand};

mod serve;
pub use serve::ServeArgs;

/// Keepsake: a GraphQL API for users and their attachments in which nothing is lost by
/// accident.
#[derive(Debug, Parser)]
#[command(name = "keepsake", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// `serve`'s options, for when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The ids of `serve`'s options, which may stand before a subcommand only when there is none.
const SERVE_OPTIONS: &[(&str, &str)] = &[
    ("bind", "--bind"),
    ("demo", "--demo"),
    ("retention", "--retention"),
    ("retention_interval", "--retention-interval"),
    ("cors_origins", "--cors-origins"),
    ("max_upload", "--max-upload"),
    ("max_statements", "--max-statements"),
    ("max_concurrent", "--max-concurrent"),
    ("max_subscriptions", "--max-subscriptions"),
    ("max_tokens", "--max-tokens"),
    ("max_files", "--max-files"),
    ("metrics_bind", "--metrics-bind"),
    ("webhook_url", "--webhook-url"),
    ("webhook_secret", "--webhook-secret"),
    ("oidc_issuer", "--oidc-issuer"),
    ("oidc_audience", "--oidc-audience"),
    ("oidc_client_id", "--oidc-client-id"),
    ("oidc_role_claim", "--oidc-role-claim"),
    ("oidc_roles", "--oidc-roles"),
    ("oidc_link_by_email", "--oidc-link-by-email"),
    ("drain", "--drain"),
    ("shutdown_grace", "--shutdown-grace"),
];

impl Cli {
    /// Parses the command line (exiting with clap's message on a usage error). The global
    /// settings may stand before or after the subcommand; `serve`'s options only after
    /// `serve`, or alone when no subcommand is given.
    pub fn parse_checked() -> Cli {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
        if let Some((name, _)) = matches.subcommand() {
            for (id, flag) in SERVE_OPTIONS {
                if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                    Cli::command()
                        .error(
                            clap::error::ErrorKind::ArgumentConflict,
                            format!(
                                "{flag} is an option of `serve`, not of `keepsake` itself: \
                                 write `keepsake serve {flag} …` (the subcommand was `{name}`)"
                            ),
                        )
                        .exit();
                }
            }
        }
        cli.global.database_url_is_default =
            matches.value_source("database_url") == Some(clap::parser::ValueSource::DefaultValue);
        cli
    }
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
    /// How DATABASE_URL reaches PostgreSQL: unset for a direct connection or a session
    /// pooler; `transaction` behind a transaction pooler (PgBouncer's `pool_mode =
    /// transaction`, Supabase's or Neon's pooled URLs): then no prepared statement outlives a
    /// transaction (docs/several-servers.md).
    #[arg(
        long,
        env = "KEEPSAKE_PG_POOLER",
        global = true,
        hide_env_values = true
    )]
    pub pg_pooler: Option<String>,
    /// A direct connection to PostgreSQL, past any pooler, for migrations and for hearing
    /// other servers' events (LISTEN); unset: DATABASE_URL.
    #[arg(
        long,
        env = "KEEPSAKE_DIRECT_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub direct_database_url: Option<String>,
    /// HS256 signing secret for bearer tokens; generated once and kept in the database when
    /// unset. Set it in production.
    #[arg(
        long,
        env = "KEEPSAKE_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// Where attachments' bytes live: `file://PATH` (a folder, created when missing).
    #[arg(
        long,
        env = "KEEPSAKE_STORAGE",
        default_value = "file://keepsake-blobs",
        global = true,
        hide_env_values = true
    )]
    pub storage: String,
    /// How long a member may undo their own deletion.
    #[arg(
        long,
        env = "KEEPSAKE_UNDO_WINDOW",
        default_value = "15m",
        global = true,
        hide_env_values = true
    )]
    pub undo_window: String,
    /// How long the outbox keeps an event (`keepsake events`) before the retention job drops
    /// it; `keepsake check` asks only changes newer than this for their event.
    #[arg(
        long,
        env = "KEEPSAKE_EVENT_RETENTION",
        default_value = "7d",
        global = true,
        hide_env_values = true
    )]
    pub event_retention: String,
    /// Log filter, like `info` or `keepsake=debug,info`. PostgreSQL's notices (such as
    /// "relation already exists, skipping" at each start) are kept to warnings unless the
    /// filter names `sqlx` itself.
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info",
        global = true,
        hide_env_values = true
    )]
    pub log: String,
    /// Log format: `text` (coloured only on a terminal) or `json` (one object a line).
    #[arg(
        long,
        env = "KEEPSAKE_LOG_FORMAT",
        default_value = "text",
        value_parser = ["text", "json"],
        global = true,
        hide_env_values = true
    )]
    pub log_format: String,
    /// Whether `database_url` is the built-in default (neither the flag nor the variable set).
    #[arg(skip)]
    pub database_url_is_default: bool,
}

/// What to do.
// Parsed once at start: `serve`'s many options cost a few hundred bytes, once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate {
        /// On PostgreSQL, first create the database DATABASE_URL names when it does not exist.
        #[arg(long)]
        create_database: bool,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print a signed bearer token for a live user, named by --user or --email.
    #[command(group = clap::ArgGroup::new("who").required(true).args(["user", "email"]))]
    Token {
        /// The user's GraphQL id (as `user add` or the first start printed it).
        #[arg(long)]
        user: Option<String>,
        /// The user's email, instead of --user (e.g. admin@localhost).
        #[arg(long)]
        email: Option<String>,
        /// How long the token is valid.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Print the outbox's events as JSON lines, oldest first: every deletion made, restored
    /// or purged, as other systems learn of it.
    Events {
        /// Only events after this one (the `id` of the last event you saw).
        #[arg(long)]
        after: Option<i64>,
        /// Keep running and print each new event as it is committed (on PostgreSQL, from
        /// every server, as notified; on SQLite, looked for once a second).
        #[arg(long)]
        follow: bool,
    },
    /// Archive, then erase, rows soft-deleted longer ago than --older-than.
    Purge {
        /// Purge rows deleted longer ago than this (e.g. 30d).
        #[arg(long)]
        older_than: String,
        /// Count what would be purged; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per batch; each batch is one transaction.
        #[arg(long, default_value_t = 5000)]
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
        /// Give every attachment this many bytes of generated text (deterministic, distinct
        /// per attachment), stored in KEEPSAKE_STORAGE like uploads; 0 to 1048576.
        #[arg(long, default_value_t = 0)]
        content_bytes: u64,
    },
    /// The archive of purged rows.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Read access for reports (BI tools, psql) to the `reporting` views, and nothing else
    /// (PostgreSQL; SQLite has no roles).
    #[command(subcommand)]
    Reporting(ReportingCommand),
    /// Verify the soft-delete invariants on the database: exit 0 when all hold, else 1 with
    /// one line per violation.
    Check {
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
        /// Remove the blobs no attachment refers to (what a crash between a purge's commit
        /// and its erasure leaves), then check again.
        #[arg(long)]
        fix: bool,
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

/// `keepsake reporting …`.
#[derive(Debug, Subcommand)]
pub enum ReportingCommand {
    /// Give an existing PostgreSQL role USAGE on schema `reporting` and SELECT on its views,
    /// and nothing else (idempotent); prints what it granted.
    Grant {
        /// The role (as PostgreSQL spells it; names are case-sensitive).
        role: String,
    },
    /// Take back every privilege a role holds on schema `reporting` and its views.
    Revoke {
        /// The role (as PostgreSQL spells it; names are case-sensitive).
        role: String,
    },
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

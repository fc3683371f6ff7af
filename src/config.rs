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
        global = true,
        hide_env_values = true
    )]
    pub undo_window: String,
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
    /// Address to listen on; `:PORT` means 127.0.0.1:PORT (this host only), and port 0 picks
    /// a free port. Use 0.0.0.0:PORT to listen on every interface.
    #[arg(
        long,
        env = "KEEPSAKE_BIND",
        default_value = "127.0.0.1:8000",
        hide_env_values = true
    )]
    pub bind: String,
    /// Load a small demo data set (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Purge rows soft-deleted longer ago than this, on a schedule (unset: never).
    #[arg(long, env = "KEEPSAKE_RETENTION", hide_env_values = true)]
    pub retention: Option<String>,
    /// How often the retention purge runs.
    #[arg(
        long,
        env = "KEEPSAKE_RETENTION_INTERVAL",
        default_value = "1h",
        hide_env_values = true
    )]
    pub retention_interval: String,
    /// Origins whose pages may call the API from a browser (CORS), comma-separated, like
    /// `https://app.example.com,http://localhost:5173`; `*` for any origin. Unset: none.
    #[arg(long, env = "KEEPSAKE_CORS_ORIGINS", hide_env_values = true)]
    pub cors_origins: Option<String>,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            bind: "127.0.0.1:8000".into(),
            demo: false,
            retention: None,
            retention_interval: "1h".into(),
            cors_origins: None,
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
    /// Which browser origins may call the API (CORS).
    pub cors_origins: CorsOrigins,
}

/// The origins whose pages may call the API from a browser: the answer to CORS. Bearer
/// tokens travel in `Authorization`, never in cookies, so no credentials are ever allowed
/// and `*` is as safe as a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all: browsers keep other origins' pages out (the default).
    #[default]
    None,
    /// `*`: any origin.
    Any,
    /// These exact origins, as browsers write them: lower case, without a default port.
    List(Vec<String>),
}

impl CorsOrigins {
    /// Reads `KEEPSAKE_CORS_ORIGINS`: comma-separated origins (`scheme://host[:port]`, no
    /// path), or `*` alone; empty means none.
    pub fn parse(value: &str) -> Result<CorsOrigins, ConfigError> {
        let problem = |problem: String| ConfigError {
            setting: "KEEPSAKE_CORS_ORIGINS (--cors-origins)",
            problem,
        };
        if value.trim().is_empty() {
            return Ok(CorsOrigins::None);
        }
        if value.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let mut origins = Vec::new();
        for entry in value.split(',').map(str::trim) {
            let origin = match entry {
                "" => return Err(problem(format!("'{value}' has an empty entry; separate origins with single commas"))),
                "*" => return Err(problem("'*' (any origin) must stand alone, not in a list".into())),
                entry => normalize_origin(entry).map_err(|why| {
                    problem(format!("'{entry}' is not an origin: {why}; write it like https://app.example.com or http://localhost:5173"))
                })?,
            };
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(CorsOrigins::List(origins))
    }

    /// Whether a request's `Origin` header names an allowed origin.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            CorsOrigins::None => false,
            CorsOrigins::Any => true,
            CorsOrigins::List(origins) => {
                origins.iter().any(|allowed| allowed.as_bytes() == origin)
            }
        }
    }
}

/// `scheme://host[:port]` in the form browsers send in `Origin`: lower case, the default port
/// of http and https left out.
fn normalize_origin(entry: &str) -> Result<String, &'static str> {
    let entry = entry.to_ascii_lowercase();
    let (scheme, authority) = entry.split_once("://").ok_or("no scheme")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok {
        return Err("the scheme is not valid");
    }
    if authority.contains(['/', '?', '#']) {
        return Err("an origin has no path, query or trailing slash");
    }
    if authority.contains('@') {
        return Err("an origin has no user name or password");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(ipv6) => {
            let (address, rest) = ipv6
                .split_once(']')
                .ok_or("an IPv6 address needs its ']'")?;
            let address: std::net::Ipv6Addr = address
                .parse()
                .map_err(|_| "the IPv6 address is not valid")?;
            let port = match rest {
                "" => None,
                rest => Some(
                    rest.strip_prefix(':')
                        .ok_or("junk after the IPv6 address")?,
                ),
            };
            (format!("[{address}]"), port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let labels_ok = host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            if !labels_ok {
                return Err("the host name is not valid");
            }
            (host.to_owned(), port)
        }
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(number) if number > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Some(number),
            _ => return Err("the port is not a number from 1 to 65535"),
        },
    };
    Ok(match (scheme, port) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => format!("{scheme}://{host}"),
        (_, Some(port)) => format!("{scheme}://{host}:{port}"),
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
        Ok(Settings {
            database_url: global.database_url.clone(),
            jwt_secret: global.jwt_secret.clone(),
            undo_window,
            bind,
            demo: serve.demo,
            retention,
            retention_interval,
            cors_origins,
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
            cors_origins: CorsOrigins::None,
        }
    }
}

/// A listen address: `HOST:PORT` with an IP host, `localhost:PORT`, or `:PORT` alone, which
/// means 127.0.0.1 (this host only: exposing the server is a deliberate `0.0.0.0:PORT`).
pub fn parse_bind(text: &str) -> Result<SocketAddr, ConfigError> {
    let text = text.trim();
    let loopback = text
        .strip_prefix(':')
        .or_else(|| text.strip_prefix("localhost:"));
    let parsed = match loopback {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| ConfigError {
        setting: "KEEPSAKE_BIND (--bind)",
        problem: format!(
            "'{text}' is not a listen address; write it like 127.0.0.1:8000, :8000 (this host), \
             0.0.0.0:8000 (every interface) or :0 (a free port)"
        ),
    })
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
    fn cors_origins_are_checked_and_written_as_browsers_send_them() {
        let list = |value: &str| match CorsOrigins::parse(value) {
            Ok(CorsOrigins::List(origins)) => Ok(origins),
            Ok(other) => panic!("{value}: {other:?}"),
            Err(err) => Err(err.to_string()),
        };
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        assert_eq!(
            list("https://App.Example.com, http://localhost:5173,https://app.example.com:443")
                .unwrap(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(list("http://[::1]:8080").unwrap(), ["http://[::1]:8080"]);
        assert_eq!(
            list("capacitor://localhost").unwrap(),
            ["capacitor://localhost"]
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/app",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:+80",
            "https://app.example.com:99999",
            "https://",
            "https://a..b",
            "http://[::1",
            "https://a.example,,https://b.example",
            "https://a.example,*",
            "null",
        ] {
            let err = list(bad).unwrap_err();
            assert!(
                err.starts_with("KEEPSAKE_CORS_ORIGINS (--cors-origins): "),
                "{err}"
            );
        }
        let origins = CorsOrigins::parse("https://app.example.com").unwrap();
        assert!(origins.allows(b"https://app.example.com"));
        assert!(!origins.allows(b"https://app.example.com.evil.example"));
        assert!(!origins.allows(b"http://app.example.com"));
        assert!(CorsOrigins::Any.allows(b"https://anywhere.example"));
        assert!(!CorsOrigins::None.allows(b"https://app.example.com"));
    }

    #[test]
    fn a_port_alone_listens_on_this_host() {
        assert_eq!(
            parse_bind(":0").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 0))
        );
        assert_eq!(
            parse_bind(":8000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8000))
        );
        assert_eq!(
            parse_bind("localhost:9000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 9000))
        );
        assert_eq!(
            parse_bind("0.0.0.0:80").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 80))
        );
        assert_eq!(parse_bind("[::1]:80").unwrap().port(), 80);
        for bad in ["localhost", ":", ":+1", ":99999", "8000", "garbage"] {
            let err = parse_bind(bad).unwrap_err().to_string();
            assert!(err.starts_with("KEEPSAKE_BIND (--bind): "), "{err}");
        }
    }

    #[test]
    fn rejects_unknown_schemes() {
        assert!(check_database_url("mysql://root@localhost/x").is_err());
        assert!(check_database_url("keepsake.db").is_err());
        assert!(check_database_url("sqlite::memory:").is_ok());
    }
}

//! The `keepsake` command: parses the command line and runs a subcommand. Its output on
//! stdout is for people and scripts (a created id or a token alone on the last line); logs
//! go to stderr. Any failure is one line on stderr and a non-zero exit.
//!
//! This file starts the process (logging, the runtime, the exit code) and dispatches; each
//! command group has its own file: `serve`, `users` (`user add`, `token`), `database`
//! (`migrate`, `check`), `purge` (`purge`, `archive export`), `events`, `reporting`
//! (`reporting grant`, `reporting revoke`) and `seed`, with `progress` drawing their progress
//! bars.

mod database;
mod events;
mod progress;
mod purge;
mod reporting;
mod seed;
mod serve;
mod users;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::config::{
    ArchiveCommand, Cli, Command, ConfigError, GlobalArgs, ReportingCommand, ServeArgs, Settings,
    UserCommand, redact_url, sqlite_path,
};
use crate::service::seed::SeedPlan;
use crate::soft_delete::Db;
use crate::{app, graphql};

pub use database::ChecksFailed;

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    if let Err(err) = init_tracing(&cli.global.log, &cli.global.log_format) {
        eprintln!("keepsake: {err}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keepsake: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the cause chain holds.
            let message = format!("{err:#}").replace('\n', " ");
            eprintln!("keepsake: {message}");
            if err.downcast_ref::<ChecksFailed>().is_some() {
                ExitCode::FAILURE
            } else if err.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Logs to stderr: text, coloured only on a terminal, or JSON lines.
fn init_tracing(filter: &str, format: &str) -> Result<(), ConfigError> {
    use std::io::IsTerminal as _;
    let env_filter = EnvFilter::builder()
        .parse(log_filter(filter))
        .map_err(|err| ConfigError {
            setting: "RUST_LOG (--log)",
            problem: format!("'{filter}' is not a log filter ({err}); try info or keepsake=debug"),
        })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    Ok(())
}

/// The filter with PostgreSQL's notices ("relation … already exists, skipping" at each
/// start) kept to warnings, unless it says something about sqlx itself.
fn log_filter(filter: &str) -> String {
    if filter.contains("sqlx") {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        "sqlx::postgres::notice=warn".to_owned()
    } else {
        format!("{filter},sqlx::postgres::notice=warn")
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    // `serve`'s settings from the environment, checked by every command so that a bad
    // deployment fails whichever command runs first (and before the command's own flags).
    // Only `serve`, `migrate` and `seed` may create a SQLite file: any other command run
    // where no database is (another directory, a mistyped path) says so instead of answering
    // from a new, empty one.
    let target = || Target::checked(global, &cli.serve, false);
    let creating = || Target::checked(global, &cli.serve, true);
    match cli.command.unwrap_or(Command::Serve(cli.serve.clone())) {
        Command::Serve(args) => serve::serve(&Settings::from_args(global, &args)?).await,
        Command::Schema => {
            // Checked like every command's (nothing is opened): a bad deployment fails here too.
            target()?;
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Migrate { create_database } => {
            database::migrate(&creating()?, create_database).await
        }
        Command::Check { json, fix } => database::check(&target()?, json, fix).await,
        Command::Events { after, follow } => events::print(&target()?, after, follow).await,
        Command::User(UserCommand::Add { email, name, role }) => {
            users::add(&target()?, email, name, &role).await
        }
        Command::Token { user, email, ttl } => users::token(&target()?, user, email, &ttl).await,
        Command::Purge {
            older_than,
            dry_run,
            batch_size,
        } => purge::purge(&target()?, &older_than, dry_run, batch_size).await,
        Command::Archive(ArchiveCommand::Export { since }) => {
            purge::export_archive(&target()?, since.as_deref()).await
        }
        Command::Reporting(ReportingCommand::Grant { role }) => {
            reporting::grant(&target()?, &role).await
        }
        Command::Reporting(ReportingCommand::Revoke { role }) => {
            reporting::revoke(&target()?, &role).await
        }
        Command::Seed {
            users,
            attachments_per_user,
            deleted_fraction,
            deleted_multiplier,
            content_bytes,
        } => {
            let plan = SeedPlan {
                users,
                attachments_per_user,
                deleted_fraction,
                deleted_multiplier,
                content_bytes,
            };
            seed::seed(&creating()?, plan).await
        }
    }
}

/// The database a command works on: every setting checked, whether `DATABASE_URL` was left
/// to its default, and whether the command may create a SQLite file that is not there.
struct Target {
    settings: Settings,
    default_url: bool,
    may_create: bool,
}

impl Target {
    /// Checks every setting, `serve`'s too, for commands that do not serve.
    fn checked(
        global: &GlobalArgs,
        serve: &ServeArgs,
        may_create: bool,
    ) -> Result<Target, ConfigError> {
        Ok(Target {
            settings: Settings::from_args(global, serve)?,
            default_url: global.database_url_is_default,
            may_create,
        })
    }

    /// Connects and migrates for a CLI command, saying on stderr which database it used (a
    /// command run without DATABASE_URL works on ./keepsake.db, which should never go
    /// unseen).
    async fn connect(&self) -> anyhow::Result<Db> {
        if !self.may_create {
            self.refuse_a_new_file()?;
        }
        let (db, _) = app::connect(&self.settings).await?;
        eprintln!(
            "using database {}{}",
            redact_url(&self.settings.database_url),
            if self.default_url {
                " (the default: DATABASE_URL is not set)"
            } else {
                ""
            }
        );
        Ok(db)
    }

    /// Fails when the SQLite file `DATABASE_URL` names does not exist, naming the file and
    /// the URL, before anything is created.
    fn refuse_a_new_file(&self) -> anyhow::Result<()> {
        let url = &self.settings.database_url;
        let Some(path) = sqlite_path(url).filter(|path| !path.exists()) else {
            return Ok(());
        };
        let shown = if path.is_relative() && !path.starts_with(".") && !path.starts_with("..") {
            format!("./{}", path.display())
        } else {
            path.display().to_string()
        };
        anyhow::bail!(
            "no Keepsake database at {shown} — set DATABASE_URL to the server's (this looked \
             for {}{}; `keepsake migrate` creates a new one)",
            redact_url(url),
            if self.default_url {
                ", the default"
            } else {
                ""
            }
        )
    }

    /// Opens the attachments' store (`KEEPSAKE_STORAGE`).
    fn storage(&self) -> anyhow::Result<crate::storage::Storage> {
        anyhow::Context::context(
            crate::storage::Storage::open(&self.settings.storage, &self.settings.storage_options),
            "KEEPSAKE_STORAGE (--storage): the store cannot be opened",
        )
    }
}

/// A service error as a CLI error: the client message, or the logged internal one.
fn client_error(err: crate::error::Error) -> anyhow::Error {
    match err {
        crate::error::Error::Internal(cause) => cause,
        other => anyhow::anyhow!("{other}"),
    }
}

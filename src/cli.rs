//! The `keepsake` command: parses the command line and runs a subcommand. Its output on
//! stdout is for people and scripts (a created id or a token alone on the last line); logs
//! go to stderr. Any failure is one line on stderr and a non-zero exit.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use crate::app::{self, App, FIRST_START_TOKEN_TTL};
use crate::auth::Role;
use crate::config::{Cli, Command, ConfigError, GlobalArgs, ServeArgs, Settings, UserCommand};
use crate::ids::{self, Kind};
use crate::service::{setup, users};
use crate::{duration, graphql};

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = init_tracing(&cli.global.log) {
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
            if err.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_tracing(filter: &str) -> Result<(), ConfigError> {
    let filter = EnvFilter::builder()
        .parse(filter)
        .map_err(|err| ConfigError {
            setting: "RUST_LOG (--log)",
            problem: format!("'{filter}' is not a log filter ({err}); try info or keepsake=debug"),
        })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match cli.command.unwrap_or(Command::Serve(cli.serve.clone())) {
        Command::Serve(args) => serve(&Settings::from_args(global, &args)?).await,
        Command::Migrate => {
            let settings = checked(global)?;
            app::connect(&settings.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Add { email, name, role }) => {
            let settings = checked(global)?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("--role: '{role}' is not a role; use member, support or admin")
            })?;
            let (db, _) = app::connect(&settings.database_url).await?;
            let user = users::insert(&db, users::NewUser { email, name, role })
                .await
                .map_err(client_error)?;
            println!("created {} {} ({})", role.as_str(), user.email, user.name);
            println!("{}", ids::encode(Kind::User, user.id));
            Ok(())
        }
        Command::Token { user, ttl } => {
            let settings = checked(global)?;
            let ttl =
                duration::parse(&ttl).map_err(|problem| anyhow::anyhow!("--ttl: {problem}"))?;
            let id = ids::decode(Kind::User, &user).map_err(|_| {
                anyhow::anyhow!("--user: '{user}' is not a user id (use the id `user add` printed)")
            })?;
            let (db, _) = app::connect(&settings.database_url).await?;
            users::get(&db, crate::soft_delete::Scope::Live, id)
                .await
                .map_err(client_error)?
                .ok_or_else(|| anyhow::anyhow!("--user: no live user has the id {user}"))?;
            let tokens = app::load_tokens(&db, settings.jwt_secret.as_deref()).await?;
            println!("{}", tokens.issue(id, ttl)?);
            Ok(())
        }
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    }
}

/// Checks the shared settings for commands that do not serve.
fn checked(global: &GlobalArgs) -> Result<Settings, ConfigError> {
    Settings::from_args(global, &ServeArgs::default())
}

/// A service error as a CLI error: the client message, or the logged internal one.
fn client_error(err: crate::error::Error) -> anyhow::Error {
    match err {
        crate::error::Error::Internal(cause) => cause,
        other => anyhow::anyhow!("{other}"),
    }
}

/// `keepsake serve`: first-start admin, optional demo data, then serve until a signal.
async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let db = &app.state().db;
    let playground = format!("http://{}/playground", app.address());
    if let Some(admin) = setup::ensure_admin(db).await.map_err(client_error)? {
        let token = app.state().tokens.issue(admin.id, FIRST_START_TOKEN_TTL)?;
        // A closed stdout (`keepsake serve | head`) must not take the server down.
        let _ = writeln!(
            std::io::stdout(),
            "No admin existed, so Keepsake created one.\n  \
             admin:      {}\n  \
             token:      {token}\n  \
             (paste {{\"Authorization\": \"Bearer <token>\"}} into the playground's headers)\n  \
             playground: {playground}",
            admin.email
        );
    }
    if settings.demo {
        let created = setup::load_demo(db).await.map_err(client_error)?;
        tracing::info!(created, "demo data loaded");
    }
    tracing::info!(address = %app.address(), %playground, "Keepsake is serving");
    app.run(app::shutdown_signal())
        .await
        .context("server stopped")
}

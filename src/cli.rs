//! The `keepsake` command: parses the command line and runs a subcommand. Its output on
//! stdout is for people and scripts (a created id or a token alone on the last line); logs
//! go to stderr. Any failure is one line on stderr and a non-zero exit.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::app::{self, App, FIRST_START_TOKEN_TTL};
use crate::auth::Role;
use crate::config::{
    ArchiveCommand, Cli, Command, ConfigError, GlobalArgs, ServeArgs, Settings, UserCommand,
    redact_url,
};
use crate::ids::{self, Kind};
use crate::service::{purge, seed, setup, users};
use crate::soft_delete::ArchiveFilter;
use crate::{duration, graphql};

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

/// Connects and migrates for a CLI command, saying on stderr which database it used (a
/// command run without DATABASE_URL works on ./keepsake.db, which should never go unseen).
async fn connect(
    global: &GlobalArgs,
    settings: &Settings,
) -> anyhow::Result<crate::soft_delete::Db> {
    let (db, _) = app::connect(&settings.database_url).await?;
    eprintln!(
        "using database {}{}",
        redact_url(&settings.database_url),
        if global.database_url_is_default {
            " (the default: DATABASE_URL is not set)"
        } else {
            ""
        }
    );
    Ok(db)
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    // `serve`'s settings from the environment, checked by every command so that a bad
    // deployment fails whichever command runs first.
    let serve_env = cli.serve.clone();
    match cli.command.unwrap_or(Command::Serve(cli.serve.clone())) {
        Command::Serve(args) => serve(&Settings::from_args(global, &args)?).await,
        Command::Migrate { create_database } => {
            let settings = checked(global, &serve_env)?;
            if create_database
                && crate::soft_delete::Db::create_database_if_missing(&settings.database_url)
                    .await
                    .with_context(|| {
                        format!(
                            "--create-database: cannot create the database of {}",
                            redact_url(&settings.database_url)
                        )
                    })?
            {
                println!("created the database");
            }
            connect(global, &settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Add { email, name, role }) => {
            let settings = checked(global, &serve_env)?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("--role: '{role}' is not a role; use member, support or admin")
            })?;
            let db = connect(global, &settings).await?;
            let user = users::insert(&db, users::NewUser { email, name, role })
                .await
                .map_err(client_error)?;
            println!("created {} {} ({})", role.as_str(), user.email, user.name);
            println!("{}", ids::encode(Kind::User, user.id));
            Ok(())
        }
        Command::Token { user, email, ttl } => {
            let settings = checked(global, &serve_env)?;
            let ttl =
                duration::parse(&ttl).map_err(|problem| anyhow::anyhow!("--ttl: {problem}"))?;
            let by_id = user
                .map(|user| {
                    ids::decode(Kind::User, &user).map(|id| (id, user.clone())).map_err(|_| {
                        anyhow::anyhow!(
                            "--user: '{user}' is not a user id (use the id `user add` printed, or --email)"
                        )
                    })
                })
                .transpose()?;
            let db = connect(global, &settings).await?;
            let id = match (by_id, email) {
                (Some((id, user)), _) => {
                    users::get(&db, crate::soft_delete::Scope::Live, id)
                        .await
                        .map_err(client_error)?
                        .ok_or_else(|| anyhow::anyhow!("--user: no live user has the id {user}"))?;
                    id
                }
                (None, Some(email)) => {
                    users::find_by_email(&db, &email)
                        .await
                        .map_err(client_error)?
                        .ok_or_else(|| {
                            anyhow::anyhow!("--email: no live user has the email {email}")
                        })?
                        .id
                }
                (None, None) => anyhow::bail!("name the user with --user ID or --email EMAIL"),
            };
            let tokens = app::load_tokens(&db, settings.jwt_secret.as_deref()).await?;
            println!("{}", tokens.issue(id, ttl)?);
            Ok(())
        }
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Purge {
            older_than,
            dry_run,
            batch_size,
        } => {
            let settings = checked(global, &serve_env)?;
            let older_than = duration::parse(&older_than)
                .map_err(|problem| anyhow::anyhow!("--older-than: {problem}"))?;
            if batch_size == 0 {
                anyhow::bail!("--batch-size: must be at least 1");
            }
            let db = connect(global, &settings).await?;
            let bar = Progress::new("purging", "rows");
            let report = purge::purge(&db, older_than, dry_run, batch_size, |done, total| {
                bar.update(done, total)
            })
            .await
            .map_err(client_error)?;
            bar.finish();
            if report.dry_run {
                println!(
                    "dry run: would purge {} users and {} attachments (nothing changed)",
                    report.users, report.attachments
                );
            } else {
                println!(
                    "purged {} users and {} attachments; {} rows archived",
                    report.users, report.attachments, report.archived
                );
            }
            Ok(())
        }
        Command::Seed {
            users,
            attachments_per_user,
            deleted_fraction,
            deleted_multiplier,
        } => {
            let settings = checked(global, &serve_env)?;
            let plan = seed::SeedPlan {
                users,
                attachments_per_user,
                deleted_fraction,
                deleted_multiplier,
            }
            .check()
            .map_err(client_error)?;
            let db = connect(global, &settings).await?;
            let started = std::time::Instant::now();
            let bar = Progress::new("seeding", "users");
            let (users, attachments) = seed::seed(&db, plan, |done, total| bar.update(done, total))
                .await
                .map_err(client_error)?;
            bar.finish();
            println!(
                "seeded {users} users and {attachments} attachments in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Check { json } => {
            let settings = checked(global, &serve_env)?;
            check(&connect(global, &settings).await?, json).await
        }
        Command::Archive(ArchiveCommand::Export { since }) => {
            let settings = checked(global, &serve_env)?;
            let since = since.as_deref().map(parse_since).transpose()?;
            let db = connect(global, &settings).await?;
            let filter = ArchiveFilter {
                entity: None,
                since,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = None;
            loop {
                let page = filter.page(&db, 1_000, after).await?;
                for record in &page.rows {
                    writeln!(out, "{}", archive_line(record)?)?;
                }
                after = page.rows.last().map(|r| r.id);
                if !page.has_next_page {
                    break;
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// `keepsake check` found violations (already printed).
#[derive(Debug, thiserror::Error)]
#[error("{0} invariant violation(s) found")]
pub struct ChecksFailed(pub usize);

/// `keepsake check`: prints each violation (or a JSON document) and fails when any is found.
async fn check(db: &crate::soft_delete::Db, json: bool) -> anyhow::Result<()> {
    let violations = crate::soft_delete::check::check(db)
        .await
        .context("reading the database")?;
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({ "ok": violations.is_empty(), "violations": violations });
        writeln!(out, "{doc}")?;
    } else {
        for v in &violations {
            writeln!(out, "{}: {}", v.kind, v.message)?;
        }
        if violations.is_empty() {
            writeln!(out, "ok: every soft-delete invariant holds")?;
        }
    }
    out.flush()?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ChecksFailed(violations.len()).into())
    }
}

/// `--since`: an RFC 3339 moment, or a duration ago (`30d`).
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(moment) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(moment.with_timezone(&chrono::Utc));
    }
    let ago = duration::parse(text).map_err(|_| {
        anyhow::anyhow!("--since: '{text}' is neither an RFC 3339 time (2026-01-31T00:00:00Z) nor a duration (30d)")
    })?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(ago)?)
}

/// One archived row as a JSON line for compliance hand-offs.
/// Ids and entity names are the API's (`archivedRecords`): opaque ids, `USER`/`ATTACHMENT`;
/// `row` is the row as it was stored.
fn archive_line(record: &crate::entity::archive::Model) -> anyhow::Result<String> {
    use crate::soft_delete::EntityKind;
    let row: serde_json::Value = serde_json::from_str(&record.row)
        .with_context(|| format!("archive row {} holds invalid JSON", record.id))?;
    let (entity, kind) = match EntityKind::parse(&record.entity) {
        Some(EntityKind::User) => ("USER", Kind::User),
        Some(EntityKind::Attachment) => ("ATTACHMENT", Kind::Attachment),
        None => anyhow::bail!(
            "archive row {} names an unknown entity {:?}",
            record.id,
            record.entity
        ),
    };
    Ok(serde_json::json!({
        "archiveId": record.id,
        "entity": entity,
        "entityId": ids::encode(kind, record.entity_id),
        "deletionId": record.deletion_id.map(|d| ids::encode(Kind::Deletion, d)),
        "deletedAt": record.deleted_at,
        "archivedAt": record.archived_at,
        "row": row,
    })
    .to_string())
}

/// A progress bar on a terminal, plain lines on stderr otherwise (logs, CI).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    unit: &'static str,
    last_line: std::cell::Cell<std::time::Instant>,
}

impl Progress {
    fn new(what: &'static str, unit: &'static str) -> Progress {
        use std::io::IsTerminal as _;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{what} {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            what,
            unit,
            last_line: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    fn update(&self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None => {
                // Plain lines, at most one a second plus the last.
                if done == total || self.last_line.get().elapsed().as_secs() >= 1 {
                    eprintln!("{} {done}/{total} {}", self.what, self.unit);
                    self.last_line.set(std::time::Instant::now());
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Checks every setting, `serve`'s too, for commands that do not serve.
fn checked(global: &GlobalArgs, serve: &ServeArgs) -> Result<Settings, ConfigError> {
    Settings::from_args(global, serve)
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
             id:         {}\n  \
             token:      {token}\n  \
             (valid for 24 h; later: keepsake token --email {})\n  \
             (paste {{\"Authorization\": \"Bearer <token>\"}} into the playground's headers)\n  \
             playground: {playground}",
            admin.email,
            ids::encode(Kind::User, admin.id),
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

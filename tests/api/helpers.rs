//! `TestApp`: a server of its own per test, and typed helpers to talk to it. What a client
//! sends (create, delete, restore, read with deleted rows, purge) lives in [`ops`], reached
//! through `app.admin()` or `app.by(&user)`; forced race interleavings live in `race`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keepsake::app::App;
use keepsake::config::Settings;
use keepsake::service::setup;
use serde_json::{Value, json};

/// Shared GraphQL documents and the typed [`ops::Client`] helpers.
pub mod ops;
pub mod provider;
mod provider_rs;
mod race;

pub use ops::id_of;
pub use race::{Gate, race};

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL at `TEST_DATABASE_URL`. PostgreSQL tests are compiled in only when it was
    /// set at build time (`build.rs`; otherwise they are reported as ignored), so a missing
    /// value here is a failure, never a silent pass.
    pub fn postgres() -> Backend {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Backend::Postgres(url),
            _ => panic!(
                "TEST_DATABASE_URL is not set, yet the PostgreSQL tests were built: set it to \
                 postgres://postgres@127.0.0.1:5432/postgres, or unset it when building"
            ),
        }
    }
}

/// Declares `NAME::sqlite` and `NAME::postgres` tests that each run `async fn NAME(Backend)`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
            )]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await
            }
        }
    )+};
}
pub(crate) use on_both_backends;

/// A database of a test's own, removed when dropped.
pub struct TestDb {
    /// The URL the server uses.
    pub url: String,
    _sqlite_dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on `backend`.
    pub async fn create(backend: &Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/keepsake.db?mode=rwc", dir.path().display());
                TestDb {
                    url,
                    _sqlite_dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres(base) => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "keepsake_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    chrono::Utc::now().timestamp_micros() % 1_000_000
                );
                let admin = raw_connection(base.as_str())
                    .await
                    .expect("TEST_DATABASE_URL must reach PostgreSQL");
                sea_orm::ConnectionTrait::execute_unprepared(
                    &*admin,
                    &format!("CREATE DATABASE {name}"),
                )
                .await
                .expect("create test database");
                admin.close().await.ok();
                TestDb {
                    url: with_database(base, &name),
                    _sqlite_dir: None,
                    postgres: Some((base.clone(), name)),
                }
            }
        }
    }
}

pub use raw::{RawConn, raw_connection};

/// Raw connections, past the soft-delete core: the one place outside `src/soft_delete*`
/// allowed to open or hold one (`.ci/ban-bites.sh` checks that no other `allow` of the ban
/// exists). Tests use them to create and drop databases and to plant faults, violations and
/// locks that no API would make.
mod raw {
    #![allow(clippy::disallowed_methods, clippy::disallowed_types)]

    /// A raw connection; derefs to SeaORM's, so `ConnectionTrait` methods work on `&*conn`.
    pub struct RawConn(sea_orm::DatabaseConnection);

    impl std::ops::Deref for RawConn {
        type Target = sea_orm::DatabaseConnection;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    impl RawConn {
        /// Closes the connection.
        pub async fn close(self) -> Result<(), sea_orm::DbErr> {
            self.0.close().await
        }
    }

    /// Opens a raw connection to `url`.
    pub async fn raw_connection(url: &str) -> Result<RawConn, sea_orm::DbErr> {
        sea_orm::Database::connect(url).await.map(RawConn)
    }
}

/// `base` with its database name replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base, String::new()),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let host_part = match without_query[scheme_end..].find('/') {
        Some(slash) => &without_query[..scheme_end + slash],
        None => without_query,
    };
    format!("{host_part}/{name}{query}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = raw_connection(base.as_str()).await {
                    let _ = sea_orm::ConnectionTrait::execute_unprepared(
                        &*admin,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    )
                    .await;
                    admin.close().await.ok();
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running server on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's shared state (database handle, tokens, metrics).
    pub state: keepsake::app::AppState,
    /// An admin's bearer token.
    pub admin_token: String,
    /// The admin's GraphQL id.
    pub admin_id: String,
    pub http: reqwest::Client,
    /// The server's blob store (`KEEPSAKE_STORAGE`), a folder of its own.
    pub blobs: tempfile::TempDir,
    /// Stops the server when dropped.
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// Declared last: the database outlives the server.
    pub db: TestDb,
}

/// A user made for a test.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub token: String,
}

impl TestApp {
    /// A server on a fresh database of `backend`, with a first admin.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings changed by `configure` (e.g. the undo window).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        init_test_log();
        let db = TestDb::create(&backend).await;
        let mut settings = Settings::for_database(&db.url);
        let blobs = tempfile::tempdir().expect("a blob folder");
        settings.storage = format!("file://{}", blobs.path().display());
        configure(&mut settings);
        let app = App::build(&settings).await.expect("app builds");
        let base = format!("http://{}", app.address());
        let state = app.state().clone();
        let admin = setup::ensure_admin(&state.db)
            .await
            .expect("first admin")
            .expect("a fresh database has no admin");
        let admin_token = state
            .services
            .tokens
            .issue(admin.id, Duration::from_secs(3600))
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            admin_id: keepsake::ids::encode(keepsake::ids::Kind::User, admin.id),
            state,
            admin_token,
            http: reqwest::Client::new(),
            blobs,
            _shutdown: tx,
            db,
        }
    }

    /// A second server on `first`'s database and blob store (servers are stateless and share
    /// both), with the same admin. The database stays `first`'s to drop.
    pub async fn beside(first: &TestApp) -> TestApp {
        Self::beside_with(first, |_| {}).await
    }

    /// Like [`TestApp::beside`], with settings changed by `configure` (e.g. a webhook).
    pub async fn beside_with(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = Settings::for_database(&first.db.url);
        settings.storage = format!("file://{}", first.blobs.path().display());
        configure(&mut settings);
        let app = App::build(&settings).await.expect("a second app builds");
        let base = format!("http://{}", app.address());
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            admin_id: first.admin_id.clone(),
            state,
            admin_token: first.admin_token.clone(),
            http: reqwest::Client::new(),
            blobs: tempfile::tempdir().expect("a folder"),
            _shutdown: tx,
            db: TestDb {
                url: first.db.url.clone(),
                _sqlite_dir: None,
                postgres: None,
            },
        }
    }

    /// Posts a GraphQL request with an optional bearer token; returns the JSON body.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.graphql_text(token, query, variables).await;
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: not JSON: {body}"))
    }

    /// Like [`TestApp::graphql`], but the body as the server wrote it, keys in its order.
    pub async fn graphql_text(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request reaches the server");
        assert!(
            response.status().is_success(),
            "HTTP {} for {query}",
            response.status()
        );
        response.text().await.expect("a body")
    }

    /// Runs raw `statements` in order on a connection of its own to the test database,
    /// beside the server's pool (fault triggers, backdating); returns the rows each changed.
    pub async fn execute_sql<S: AsRef<str>>(&self, statements: &[S]) -> Vec<u64> {
        let conn = raw_connection(self.db.url.as_str())
            .await
            .expect("a second connection to the test database");
        let mut changed = Vec::new();
        for sql in statements {
            let sql = sql.as_ref();
            let done = sea_orm::ConnectionTrait::execute_unprepared(&*conn, sql)
                .await
                .unwrap_or_else(|err| panic!("{sql}: {err}"));
            changed.push(done.rows_affected());
        }
        conn.close().await.expect("closing the second connection");
        changed
    }

    /// Moves deletion `deletion` `seconds_ago` into the past: its log entry and every row
    /// it hid, consistently.
    pub async fn backdate(&self, deletion: &str, seconds_ago: i64) {
        let at = chrono::Utc::now() - chrono::Duration::seconds(seconds_ago);
        self.move_deletion_to(deletion, at).await;
    }

    /// Stamps deletion `deletion` and every row it hid with moment `at`, to the microsecond
    /// (the precision Keepsake stores), written as the server writes it.
    pub async fn move_deletion_to(&self, deletion: &str, at: chrono::DateTime<chrono::Utc>) {
        let id = keepsake::ids::decode(keepsake::ids::Kind::Deletion, deletion).unwrap();
        // RFC 3339 with `+00:00` and 0, 3 or 6 digits of fraction: the text sqlx writes to
        // SQLite, so SQLite's text comparisons order it among the server's own.
        let text = keepsake::soft_delete::to_micros(at)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        let moment = if self.db.url.starts_with("sqlite") {
            format!("'{text}'")
        } else {
            format!("'{text}'::timestamptz")
        };
        let changed = self
            .execute_sql(&[
                format!("UPDATE users SET deleted_at = {moment} WHERE deletion_id = {id}"),
                format!("UPDATE attachments SET deleted_at = {moment} WHERE deletion_id = {id}"),
                format!("UPDATE deletions SET deleted_at = {moment} WHERE id = {id}"),
            ])
            .await;
        assert!(
            changed[0] + changed[1] > 0,
            "deletion {deletion} hid no rows to backdate"
        );
        assert_eq!(changed[2], 1, "deletion {deletion} is logged once");
    }

    /// Erases attachment `id`'s row behind the server's back, its blob left in the store: the
    /// state a crash between a purge's commit and its erasure of the blob leaves.
    pub async fn erase_attachment_row(&self, id: &str) {
        let row = keepsake::ids::decode(keepsake::ids::Kind::Attachment, id).unwrap();
        let erased = self
            .execute_sql(&[format!("DELETE FROM attachments WHERE id = {row}")])
            .await;
        assert_eq!(erased, [1], "attachment {id} erased");
    }

    /// The server's `/metrics` page, read with the admin's token.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await;
        let response = response.expect("metrics respond");
        response.text().await.expect("a metrics body")
    }

    /// The SQL statements the server has run so far (`keepsake_db_statements_total`), read
    /// from the counter itself: reading `/metrics` over HTTP would add the statement that
    /// checks the admin's token.
    pub async fn statements(&self) -> f64 {
        self.state.metrics.db_statements() as f64
    }

    /// Runs `query` as the admin.
    pub async fn as_admin(&self, query: &str, variables: Value) -> Value {
        self.graphql(Some(&self.admin_token), query, variables)
            .await
    }

    /// Creates a user through `createUser` (as the admin) and mints its token.
    pub async fn user(&self, email: &str, role: &str) -> TestUser {
        let body = self
            .admin()
            .try_create_user(
                json!({ "email": email, "name": format!("User {email}"), "role": role }),
            )
            .await;
        let id = data(&body)["createUser"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createUser failed: {body}"))
            .to_owned();
        let row_id = keepsake::ids::decode(keepsake::ids::Kind::User, &id).unwrap();
        TestUser {
            token: self
                .state
                .services
                .tokens
                .issue(row_id, Duration::from_secs(3600))
                .unwrap(),
            id,
        }
    }

    /// A member.
    pub async fn member(&self, email: &str) -> TestUser {
        self.user(email, "MEMBER").await
    }

    /// Records an attachment for `owner` as the owner; returns its id.
    pub async fn attachment(&self, owner: &TestUser, filename: &str) -> String {
        let body = self
            .by(owner)
            .try_create_attachment(json!({ "ownerId": owner.id, "filename": filename,
                                           "contentType": "text/plain", "sizeBytes": 42 }))
            .await;
        data(&body)["createAttachment"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createAttachment failed: {body}"))
            .to_owned()
    }
}

/// Every environment variable the binary reads: cleared wherever a test runs it, so the
/// caller's shell cannot change what the test sees.
pub const KEEPSAKE_ENV: &[&str] = &[
    "DATABASE_URL",
    "KEEPSAKE_JWT_SECRET",
    "KEEPSAKE_BIND",
    "KEEPSAKE_UNDO_WINDOW",
    "KEEPSAKE_EVENT_RETENTION",
    "KEEPSAKE_CORS_ORIGINS",
    "KEEPSAKE_LOG_FORMAT",
    "KEEPSAKE_RETENTION",
    "KEEPSAKE_RETENTION_INTERVAL",
    "KEEPSAKE_ARCHIVE_RETENTION",
    "KEEPSAKE_STORAGE",
    "KEEPSAKE_MAX_UPLOAD",
    "KEEPSAKE_MAX_STATEMENTS",
    "KEEPSAKE_MAX_CONCURRENT",
    "KEEPSAKE_MAX_TOKENS",
    "KEEPSAKE_MAX_FILES",
    "KEEPSAKE_METRICS_BIND",
    "KEEPSAKE_WEBHOOK_URL",
    "KEEPSAKE_WEBHOOK_SECRET",
    "KEEPSAKE_OIDC_ISSUER",
    "KEEPSAKE_OIDC_AUDIENCE",
    "KEEPSAKE_OIDC_CLIENT_ID",
    "KEEPSAKE_OIDC_ROLE_CLAIM",
    "KEEPSAKE_OIDC_ROLES",
    "KEEPSAKE_OIDC_LINK_BY_EMAIL",
    "KEEPSAKE_PG_POOLER",
    "KEEPSAKE_DIRECT_DATABASE_URL",
    "KEEPSAKE_DRAIN",
    "KEEPSAKE_SHUTDOWN_GRACE",
    "RUST_LOG",
];

/// The binary, with a clean environment for the settings it reads.
pub fn keepsake(database_url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keepsake"));
    for var in KEEPSAKE_ENV {
        cmd.env_remove(var);
    }
    // Blobs go to a folder of the suite's, not to ./keepsake-blobs in the source tree.
    let blobs = std::env::temp_dir().join("keepsake-test-blobs");
    cmd.env("DATABASE_URL", database_url)
        .env("KEEPSAKE_STORAGE", format!("file://{}", blobs.display()))
        .stdin(std::process::Stdio::null());
    cmd
}

/// Like [`keepsake`] with `args`, run by `sh` after `ulimit -n descriptors`: the binary as
/// it runs where file descriptors are scarce.
pub fn keepsake_with_descriptors(
    database_url: &str,
    descriptors: u32,
    args: &[&str],
) -> std::process::Command {
    let plain = keepsake(database_url);
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {descriptors} && exec \"$0\" \"$@\""))
        .arg(plain.get_program())
        .args(args)
        .stdin(std::process::Stdio::null());
    for (name, value) in plain.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd
}

/// The standard output of a command that must have succeeded.
#[track_caller]
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ids`, sorted: for comparing sets of ids.
pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The `data` of a response.
pub fn data(body: &Value) -> &Value {
    &body["data"]
}

/// The `extensions.code` of every error, in order.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the response failed with exactly one error of `code`.
#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(error_codes(body), vec![code.to_owned()], "response: {body}");
}

/// Asserts the response failed with `INTERNAL`, no data, and nothing of the injected fault
/// (the table, the statement, the trigger or its message) in what the client reads.
#[track_caller]
pub fn assert_internal_without_sql(body: &Value) {
    assert_error(body, "INTERNAL");
    assert_eq!(data(body), &Value::Null, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    for leak in ["attachments", "UPDATE", "boom", "injected"] {
        assert!(
            !message.contains(leak),
            "the client sees no SQL ({leak}): {message}"
        );
    }
}

/// Asserts the response has no errors.
#[track_caller]
pub fn assert_ok(body: &Value) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
}

/// The servers' log goes to the test's captured output, which the harness prints only when
/// the test fails: errors always (an `INTERNAL` answer then shows its cause), everything
/// from `info` up with `TEST_LOG` set.
fn init_test_log() {
    let filter = if std::env::var("TEST_LOG").is_ok() {
        "info"
    } else {
        "error"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl TestApp {
    /// Runs the `keepsake` binary with `args` on this test's database and blob store (off
    /// the async threads) and waits for it.
    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        let url = self.db.url.clone();
        let storage = format!("file://{}", self.blobs.path().display());
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            keepsake(&url)
                .env("KEEPSAKE_STORAGE", storage)
                .args(&args)
                .output()
                .expect("the keepsake binary runs")
        })
        .await
        .expect("the command's thread")
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.url.starts_with("postgres")
    }

    /// Asserts that `keepsake check` (the same code, in process) finds every soft-delete
    /// invariant holding on this test's database.
    #[track_caller]
    pub fn assert_invariants(&self) -> impl std::future::Future<Output = ()> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            let violations = keepsake::soft_delete::check::check(&self.state.db)
                .await
                .expect("keepsake check reads the database");
            assert!(
                violations.is_empty(),
                "{caller}: keepsake check found violations: {violations:#?}"
            );
        }
    }
}

/// The value of metric `name` on a `/metrics` page.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}
